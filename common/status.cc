// Status formatting.
#include "common/status.h"

#include <cstring>

namespace quorate {

std::string Status::message() const {
  if (isOk()) return "ok";
  if (err_ < 0) return what_;
  return what_ + ": " + std::strerror(err_);
}

}  // namespace quorate
