#include "common/file_limit.h"

#include <gtest/gtest.h>

namespace quorate {
namespace {

// Runs with a lowered soft limit and puts the limits back afterwards.
class FileLimitTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved_), 0); }
  void TearDown() override { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  rlimit saved_{};
};

TEST_F(FileLimitTest, RaisesTheSoftLimitToTheHardOne) {
  if (saved_.rlim_max <= 64) GTEST_SKIP() << "hard limit too low to lower the soft one";
  rlimit lowered = saved_;
  lowered.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  rlim_t now = 0;
  EXPECT_TRUE(raiseOpenFileLimit(&now));
  EXPECT_EQ(now, saved_.rlim_max);
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, saved_.rlim_max);
  EXPECT_TRUE(raiseOpenFileLimit(&now));  // already there: nothing to do
  EXPECT_EQ(now, saved_.rlim_max);
}

}  // namespace
}  // namespace quorate
