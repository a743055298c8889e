// Status formatting.
#include "server/kernel/status.h"

#include <cstring>

namespace quorate::kernel {

std::string Status::message() const {
  if (isOk()) return "ok";
  if (err_ < 0) return what_;
  return what_ + ": " + std::strerror(err_);
}

}  // namespace quorate::kernel
