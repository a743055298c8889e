// A daemon's claim on its state directory: created if missing, and locked (flock on
// <state_dir>/lock) for as long as the process lives. Two processes on one state directory
// would be two nodes with one identity: each would trust the same epoch floor and promises
// without seeing the other's, which is how a second holder appears. The second one is refused.
#pragma once

#include <string>

#include "common/status.h"

namespace quorate {

class StateDirLock {
 public:
  // Creates `dir` (0700) if missing, warns if it is in memory, and takes the lock without
  // waiting. Fails, naming the directory, if it cannot be created or the lock file opened, or
  // if another process holds the lock (its pid, when it wrote one, is in the message).
  static Result<StateDirLock> acquire(const std::string& dir);

  StateDirLock(StateDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StateDirLock& operator=(StateDirLock&&) = delete;
  StateDirLock(const StateDirLock&) = delete;
  ~StateDirLock();

 private:
  explicit StateDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;  // open (and locked) for the process's life; closed on exec
};

}  // namespace quorate
