// A planted bug per sanitizer, so that a sanitized suite is shown to catch what it is for
// (scripts/sanitize.sh). Each mode must end in the sanitizer's report; ctest passes the test only
// on the report's words, so a build whose sanitizer is missing or quiet fails the suite.
//   sanitizer_canary heap-overflow   ASan: a read one past a heap block
//   sanitizer_canary int-overflow    UBSan: a signed overflow
//   sanitizer_canary race            TSan: two threads write one int without a lock
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>
#include <thread>

namespace {

// volatile: the compiler must not see through the planted bugs and fold them away.
int heapOverflow() {
  volatile std::size_t n = 8;
  auto block = std::make_unique<char[]>(n);
  std::memset(block.get(), 1, n);
  volatile char past = block[n];  // one past the end
  return past;
}

int intOverflow() {
  volatile int big = std::numeric_limits<int>::max();
  volatile int sum = big + 1;
  return sum;
}

int race() {
  int shared = 0;
  std::thread a([&] {
    for (int i = 0; i < 1000; ++i) shared = shared + 1;
  });
  std::thread b([&] {
    for (int i = 0; i < 1000; ++i) shared = shared + 1;
  });
  a.join();
  b.join();
  return shared == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s heap-overflow|int-overflow|race\n", argv[0]);
    return 2;
  }
  const std::string_view mode = argv[1];
  int r = 0;
  if (mode == "heap-overflow") {
    r = heapOverflow();
  } else if (mode == "int-overflow") {
    r = intOverflow();
  } else if (mode == "race") {
    r = race();
  } else {
    std::fprintf(stderr, "sanitizer_canary: no mode %s\n", argv[1]);
    return 2;
  }
  // Reached only when no sanitizer stopped the program (the test then fails: no report).
  std::printf("sanitizer_canary %s: no report (%d)\n", argv[1], r);
  return 0;
}
