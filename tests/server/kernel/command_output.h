// Runs a shell command for test set-up and inspection and returns its standard output.
#pragma once

#include <array>
#include <cstdio>
#include <string>

namespace quorate::kernel::testing {

// `/bin/sh -c cmd`; what it printed on stdout (empty if it could not start).
inline std::string commandOutput(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  ::pclose(p);
  return out;
}

}  // namespace quorate::kernel::testing
