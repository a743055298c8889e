// What the fuzz targets share: a finding that is not a sanitizer's (a broken invariant, an
// exception a parser must not let out) stops the run with its reason.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

namespace quorate::fuzz {

// Removes the scratch directory, if one was made (scratchDirectory()).
void removeScratch();

// Aborts, which libFuzzer reports as a crash and saves the input that caused it. The scratch
// directory goes first: the saved input is what reproduces the finding.
[[noreturn]] inline void fail(std::string_view why) {
  std::fprintf(stderr, "fuzz finding: %.*s\n", static_cast<int>(why.size()), why.data());
  std::fflush(stderr);
  removeScratch();
  std::abort();
}

inline void check(bool ok, std::string_view why) {
  if (!ok) fail(why);
}

inline std::span<const std::uint8_t> bytes(const std::uint8_t* data, std::size_t size) {
  return {data, size};
}

inline std::string text(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// A directory of its own under $TMPDIR (or /tmp) for a target that must go through files; made
// once per process (call it once), removed when the process exits or fails a check.
std::string scratchDirectory(const char* target);

}  // namespace quorate::fuzz
