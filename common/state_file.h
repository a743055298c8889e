// Durable acceptor state on disk: written to a temporary file, fsync'd, renamed over
// the old one, and the directory fsync'd, so a crash leaves the old or the new state.
#pragma once

#include <optional>
#include <string>
#include <system_error>
#include <variant>

#include "lease/types.h"

namespace quorate {

struct StateError {
  std::string path;
  std::string what;  // names the problem, e.g. "line 2: expected 'max_epoch <n>'"
  std::error_code code;
  std::string message() const;
};

class StateFile {
 public:
  explicit StateFile(std::string path) : path_(std::move(path)) {}

  // A missing file is a fresh node (all zero). A file that exists but cannot be read
  // or parsed is an error: epochs must never silently go back to zero.
  std::variant<lease::DurableState, StateError> load() const;
  // load() for start-up: throws std::runtime_error with StateError::message().
  lease::DurableState loadOrThrow() const;
  // Returns a StateError when any step (write, fsync, rename, directory fsync) fails.
  std::optional<StateError> store(const lease::DurableState& s) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Replaces `path` with `text` so that a crash leaves the old or the new content: a temporary
// file written and fsync'd, renamed over `path`, the directory fsync'd. Mode 0600.
std::optional<StateError> writeFileDurably(const std::string& path, const std::string& text);

// Whether `dir` lives in memory (tmpfs, ramfs): a reboot there loses the epoch floor, the
// longest lease and the pinned membership. The daemons warn at start-up.
bool isVolatileDirectory(const std::string& dir);

// Creates `dir` and its parents (mode 0700) if missing.
std::optional<StateError> ensureDirectory(const std::string& dir);

}  // namespace quorate
