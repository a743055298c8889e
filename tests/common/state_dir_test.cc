// The state directory's lock: created with the directory, refused to a second holder (naming the
// directory and the first holder's pid), free again once the first holder lets go.
#include "common/state_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/temp_dir.h"

namespace quorate {
namespace {

TEST(StateDirLock, ASecondHolderIsRefusedUntilTheFirstLetsGo) {
  testutil::TempDir tmp("quorate-state-dir-test");
  const std::string dir = tmp.path() + "/nested/state";
  std::optional<StateDirLock> first;
  {
    auto lock = StateDirLock::acquire(dir);
    ASSERT_TRUE(lock) << lock.status().message();
    first.emplace(std::move(lock).value());
  }
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // flock conflicts between two open files even in one process: this is what a second daemon
  // sees.
  auto second = StateDirLock::acquire(dir);
  ASSERT_FALSE(second);
  const std::string m = second.status().message();
  EXPECT_NE(m.find("state_dir " + dir + " is in use by another process (pid " +
                   std::to_string(::getpid()) + ")"),
            std::string::npos)
      << m;
  first.reset();
  auto third = StateDirLock::acquire(dir);
  EXPECT_TRUE(third) << third.status().message();
}

TEST(StateDirLock, ALockFileThatIsASymlinkIsRefused) {
  testutil::TempDir tmp("quorate-state-dir-test");
  const std::string dir = tmp.path() + "/state";
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink(tmp.path() + "/elsewhere", dir + "/lock");
  auto lock = StateDirLock::acquire(dir);
  ASSERT_FALSE(lock);
  EXPECT_NE(lock.status().message().find("cannot open " + dir + "/lock"), std::string::npos)
      << lock.status().message();
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/elsewhere"));
}

}  // namespace
}  // namespace quorate
