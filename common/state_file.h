// Durable acceptor state on disk: written to a temporary file, fsync'd, renamed over
// the old one, and the directory fsync'd, so a crash leaves the old or the new state.
#pragma once

#include <string>

#include "common/status.h"
#include "lease/types.h"

namespace quorate {

// Errors name the file and the problem, e.g. "<path>: line 2: expected 'max_epoch <n>'", with
// the errno when a system call failed.

class StateFile {
 public:
  explicit StateFile(std::string path) : path_(std::move(path)) {}

  // A missing file is a fresh node (all zero). A file that exists but cannot be read
  // or parsed is an error: epochs must never silently go back to zero.
  Result<lease::DurableState> load() const;
  // load() for start-up: throws std::runtime_error with the error's message().
  lease::DurableState loadOrThrow() const;
  // Fails when any step (write, fsync, rename, directory fsync) fails; the old file stays.
  Status save(const lease::DurableState& s) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Replaces `path` with `text` so that a crash leaves the old or the new content: a temporary
// file written and fsync'd, renamed over `path`, the directory fsync'd. Mode 0600.
Status writeFileDurably(const std::string& path, const std::string& text);

// Whether `dir` lives in memory (tmpfs, ramfs): a reboot there loses the epoch floor, the
// longest lease and the pinned membership. The daemons warn at start-up.
bool isVolatileDirectory(const std::string& dir);

// Creates `dir` and its parents (mode 0700) if missing.
Status ensureDirectory(const std::string& dir);

}  // namespace quorate
