// Status and Result: what a failure says, and context added without changing the error.
#include "common/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace quorate {
namespace {

TEST(Status, OkIsTrueAndAFailureIsFalse) {
  EXPECT_TRUE(Status::ok());
  const Status st = Status::fail(ENOENT, "open /x");
  EXPECT_FALSE(st);
  EXPECT_EQ(st.err(), ENOENT);
  EXPECT_EQ(Status::fail(-ENOENT, "open /x").err(), ENOENT);  // -errno is normalised
  EXPECT_EQ(st.message(), "open /x: " + std::string(std::strerror(ENOENT)));
}

TEST(Status, AFailureWithoutAnErrnoSaysOnlyWhat) {
  const Status st = Status::fail(0, "line 2: expected 'max_epoch <n>'");
  EXPECT_FALSE(st);
  EXPECT_EQ(st.message(), "line 2: expected 'max_epoch <n>'");
}

// Rebuilding a failure from err() would turn "no errno" into EPERM; withWhat keeps the error.
TEST(Status, WithWhatKeepsTheErrorAndReplacesTheText) {
  const Status noErrno = Status::fail(0, "bad reply").withWhat("arm lease 0: bad reply");
  EXPECT_FALSE(noErrno);
  EXPECT_EQ(noErrno.message(), "arm lease 0: bad reply");
  const Status withErrno = Status::fail(EBUSY, "commit").withWhat("arm lease 0: commit");
  EXPECT_EQ(withErrno.err(), EBUSY);
  EXPECT_EQ(withErrno.message(), "arm lease 0: commit: " + std::string(std::strerror(EBUSY)));
}

TEST(Result, HoldsAValueOrTheFailure) {
  Result<int> good = 7;
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 7);
  EXPECT_TRUE(good.status());
  Result<int> bad = Status::fail(EINVAL, "parse");
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.status().err(), EINVAL);
}

}  // namespace
}  // namespace quorate
