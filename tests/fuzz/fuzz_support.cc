// Scratch space for the fuzz targets that read files (state files, the arbiter's state).
#include "fuzz_support.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace quorate::fuzz {

namespace {
std::string made;  // the scratch directory, once made
}  // namespace

void removeScratch() {
  if (made.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(made, ec);
  made.clear();
}

std::string scratchDirectory(const char* target) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/quorate-" + target + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp " + pattern);
  // libFuzzer ends a run by exit(): the directory goes then (and in fail() on a finding).
  made = pattern;
  std::atexit(removeScratch);
  return pattern;
}

}  // namespace quorate::fuzz
