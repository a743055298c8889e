#include "common/file_limit.h"

#include <cerrno>
#include <string>

namespace quorate {

Status raiseOpenFileLimit(rlim_t* now) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    *now = 0;
    return Status::fail(errno, "cannot read the limit on open files");
  }
  *now = limit.rlim_cur;
  if (limit.rlim_cur == limit.rlim_max) return Status::ok();
  const rlim_t soft = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Status::fail(errno, "cannot raise the limit on open files from " + std::to_string(soft) +
                                   " to " + std::to_string(limit.rlim_max));
  }
  *now = limit.rlim_cur;
  return Status::ok();
}

}  // namespace quorate
