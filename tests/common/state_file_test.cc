// Durable state: round trip, fresh start, and refusal of anything unreadable.
#include "common/state_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace quorate {
namespace {

class StateFileTest : public ::testing::Test {
 protected:
  void write(const std::string& text) { std::ofstream(dir_ + "/s.state") << text; }
  testutil::TempDir tmp_{"quorate-state-test"};
  std::string dir_ = tmp_.path();
};

TEST_F(StateFileTest, MissingFileIsAFreshNode) {
  auto r = StateFile(dir_ + "/s.state").load();
  ASSERT_TRUE(std::holds_alternative<lease::DurableState>(r));
  EXPECT_EQ(std::get<lease::DurableState>(r), lease::DurableState{});
}

TEST_F(StateFileTest, RoundTripsAndLeavesNoTemporary) {
  StateFile f(dir_ + "/s.state");
  ASSERT_EQ(f.store(lease::DurableState{12345678901ULL, 2, 7}), std::nullopt);
  const lease::DurableState last{12345678902ULL, 1, 8, std::chrono::milliseconds(4800)};
  ASSERT_EQ(f.store(last), std::nullopt);
  auto r = f.load();
  ASSERT_TRUE(std::holds_alternative<lease::DurableState>(r));
  EXPECT_EQ(std::get<lease::DurableState>(r), last);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/s.state.tmp"));
}

TEST_F(StateFileTest, CorruptFilesAreErrorsNamingFileAndLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"garbage\n", "line 1"},
      {"quorate-acceptor-state 1\nmax_epoch x\nowner 0\n", "line 2"},
      {"quorate-acceptor-state 1\nmax_epoch 5\nowner 9\n", "line 3"},
      {"quorate-acceptor-state 1\nmax_epoch 99999999999999999999999\nowner 0\n", "line 2"},
      {"quorate-acceptor-state 1\nmax_epoch 5\nowner 0\n", "line 4"},
      {"quorate-acceptor-state 1\nmax_epoch 5\nowner 0\nincarnation 2\nmore\n", "line 5"},
      {"quorate-acceptor-state 2\nmax_epoch 5\nowner 0\nincarnation 2\n", "line 5"},
      {"quorate-acceptor-state 2\nmax_epoch 5\nowner 0\nincarnation 2\nmax_lease_us 9999999999\n",
       "line 5"},
      {"quorate-acceptor-state 2\nmax_epoch 5\nowner 0\nincarnation 2\nmax_lease_us 1\nx\n",
       "line 6"},
      {"", "line 1"},
  };
  for (const auto& [text, where] : cases) {
    write(text);
    auto r = StateFile(dir_ + "/s.state").load();
    ASSERT_TRUE(std::holds_alternative<StateError>(r)) << text;
    const auto msg = std::get<StateError>(r).message();
    EXPECT_NE(msg.find(dir_ + "/s.state"), std::string::npos) << msg;
    EXPECT_NE(msg.find(where), std::string::npos) << msg;
  }
}

// Files written before the longest lease was kept still load (with no longest lease known).
TEST_F(StateFileTest, ReadsVersionOneFiles) {
  write("quorate-acceptor-state 1\nmax_epoch 5\nowner 1\nincarnation 2\n");
  auto r = StateFile(dir_ + "/s.state").load();
  ASSERT_TRUE(std::holds_alternative<lease::DurableState>(r));
  EXPECT_EQ(std::get<lease::DurableState>(r), (lease::DurableState{5, 1, 2}));
}

TEST_F(StateFileTest, StoreIntoMissingDirectoryFails) {
  auto err = StateFile(dir_ + "/nope/s.state").store(lease::DurableState{1, 0});
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, std::errc::no_such_file_or_directory);
}

TEST_F(StateFileTest, EnsureDirectoryCreatesAndRejectsFiles) {
  EXPECT_EQ(ensureDirectory(dir_ + "/a/b"), std::nullopt);
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/a/b"));
  write("x");
  EXPECT_TRUE(ensureDirectory(dir_ + "/s.state"));
}

}  // namespace
}  // namespace quorate
