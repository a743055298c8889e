// flock, not fcntl locks: an flock belongs to the open file, so no other descriptor of this
// process can drop it by closing the same file, and it goes with the process however it dies.
#include "common/state_dir.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/state_file.h"

namespace quorate {

Result<StateDirLock> StateDirLock::acquire(const std::string& dir) {
  if (const Status st = ensureDirectory(dir); !st) return st;
  if (isVolatileDirectory(dir)) {
    spdlog::warn(
        "state_dir {} is in memory (tmpfs): a reboot loses the epoch floor, the longest "
        "lease granted and the pinned membership; keep it on a disk",
        dir);
  }
  const std::string path = dir + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int e = errno;
    return Status::fail(e, "state_dir " + dir + ": cannot open " + path + ": " + std::strerror(e));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    std::string holder;
    char buf[32] = {};
    if (e == EWOULDBLOCK && ::pread(fd, buf, sizeof buf - 1, 0) > 0) {
      holder = std::string(" (pid ") + std::string(buf, std::strcspn(buf, "\n")) + ")";
    }
    ::close(fd);
    if (e == EWOULDBLOCK) {
      return Status::fail(e, "state_dir " + dir + " is in use by another process" + holder +
                                 ": two daemons on one state directory would be one node " +
                                 "twice; give each its own state_dir");
    }
    return Status::fail(e, "state_dir " + dir + ": cannot lock " + path + ": " + std::strerror(e));
  }
  // Who holds it, for the next one's message; a failure here costs only that.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    spdlog::debug("state_dir {}: could not write the pid into {}", dir, path);
  }
  return StateDirLock(fd);
}

StateDirLock::~StateDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace quorate
