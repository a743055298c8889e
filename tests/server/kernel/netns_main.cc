// main() for tests against the real kernel: the whole binary moves into a fresh, private
// network namespace first (only `lo`, down), so tests may create interfaces and addresses
// freely and everything vanishes when the process exits. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Test discovery (--gtest_list_tests) must work without root.
  if (::testing::GTEST_FLAG(list_tests)) return RUN_ALL_TESTS();
  if (unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr,
                 "these tests run in a private network namespace and need root: unshare: %s\n",
                 std::strerror(errno));
    return 1;
  }
  return RUN_ALL_TESTS();
}
