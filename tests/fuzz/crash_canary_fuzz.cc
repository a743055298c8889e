// Fuzz target that crashes on purpose on inputs starting with "CRASH": the fuzz gate's own test
// runs it (tests/fuzz/CMakeLists.txt) and must fail, so a crash is shown to fail the gate.
#include <cstdint>
#include <cstring>

#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size >= 5 && std::memcmp(data, "CRASH", 5) == 0) quorate::fuzz::fail("the planted crash");
  return 0;
}
