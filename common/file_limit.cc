#include "common/file_limit.h"

#include <cerrno>
#include <cstring>

namespace quorate {

std::optional<std::string> raiseOpenFileLimit(rlim_t* now) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    *now = 0;
    return std::string("cannot read the limit on open files: ") + std::strerror(errno);
  }
  *now = limit.rlim_cur;
  if (limit.rlim_cur == limit.rlim_max) return std::nullopt;
  const rlim_t soft = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return "cannot raise the limit on open files from " + std::to_string(soft) + " to " +
           std::to_string(limit.rlim_max) + ": " + std::strerror(errno);
  }
  *now = limit.rlim_cur;
  return std::nullopt;
}

}  // namespace quorate
