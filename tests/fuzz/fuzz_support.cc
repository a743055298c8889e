// Scratch space for the fuzz targets that read files (state files, the arbiter's state).
#include "fuzz_support.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace quorate::fuzz {

std::string scratchDirectory(const char* target) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/quorate-" + target + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp " + pattern);
  // libFuzzer ends a run by exit(): the directory goes then (a crash leaves it to look at).
  static std::string made;
  made = pattern;
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(made, ec);
  });
  return pattern;
}

}  // namespace quorate::fuzz
