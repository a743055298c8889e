// Durable state: round trip, fresh start, and refusal of anything unreadable.
#include "common/state_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "tests/support/temp_dir.h"

namespace quorate {
namespace {

class StateFileTest : public ::testing::Test {
 protected:
  void write(const std::string& text) { std::ofstream(dir_ + "/s.state") << text; }
  // Writes `text`, expects the load to refuse it naming the file and `where`; the message.
  std::string refusal(const std::string& text, const std::string& where) {
    write(text);
    auto r = StateFile(dir_ + "/s.state").load();
    EXPECT_FALSE(r) << text;
    if (r) return "";
    const auto msg = r.status().message();
    EXPECT_NE(msg.find(dir_ + "/s.state"), std::string::npos) << msg;
    EXPECT_NE(msg.find(where), std::string::npos) << msg;
    return msg;
  }
  testutil::TempDir tmp_{"quorate-state-test"};
  std::string dir_ = tmp_.path();
};

TEST_F(StateFileTest, MissingFileIsAFreshNode) {
  auto r = StateFile(dir_ + "/s.state").load();
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(*r, lease::DurableState{});
}

TEST_F(StateFileTest, RoundTripsAndLeavesNoTemporary) {
  StateFile f(dir_ + "/s.state");
  ASSERT_TRUE(f.save(lease::DurableState{12345678901ULL, 2, 7}));
  const lease::DurableState last{12345678902ULL, 1, 8, std::chrono::milliseconds(4800)};
  ASSERT_TRUE(f.save(last));
  auto r = f.load();
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(*r, last);
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
      {"quorate-acceptor-state 3\nmax_epoch 5\nowner 0\nincarnation 2\nmax_lease_us 1\n", "line 6"},
      {"quorate-acceptor-state 3\nmax_epoch 5\nowner 0\nincarnation 2\nmax_lease_us 1\nmax_round "
       "1\nx\n",
       "line 7"},
      {"", "line 1"},
  };
  for (const auto& [text, where] : cases) refusal(text, where);
}

// Files written before the longest lease was kept still load (with no longest lease known).
TEST_F(StateFileTest, ReadsVersionOneFiles) {
  write("quorate-acceptor-state 1\nmax_epoch 5\nowner 1\nincarnation 2\n");
  auto r = StateFile(dir_ + "/s.state").load();
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(*r, (lease::DurableState{5, 1, 2}));
}

// Counters above lease::kMaxCounter (an insider's epoch written by a version without the range
// checks, an edited file) are refused at load, naming the file, the line and the limit: the
// cluster could not go on from them.
TEST_F(StateFileTest, CountersAboveTheLimitAreRefused) {
  const std::string top = std::to_string(std::numeric_limits<std::uint64_t>::max());
  const std::string over = std::to_string(lease::kMaxCounter + 1);
  const std::string at = std::to_string(lease::kMaxCounter);
  const std::pair<std::string, const char*> cases[] = {
      {"quorate-acceptor-state 2\nmax_epoch " + top + "\nowner 0\nincarnation 2\nmax_lease_us 1\n",
       "line 2"},
      {"quorate-acceptor-state 1\nmax_epoch " + over + "\nowner 0\nincarnation 2\n", "line 2"},
      {"quorate-acceptor-state 3\nmax_epoch 5\nowner 0\nincarnation " + over +
           "\nmax_lease_us 1\nmax_round 1\n",
       "line 4"},
      {"quorate-acceptor-state 3\nmax_epoch 5\nowner 0\nincarnation 2\nmax_lease_us 1\nmax_round " +
           top + "\n",
       "line 6"},
  };
  for (const auto& [text, where] : cases) {
    const std::string msg = refusal(text, where);
    EXPECT_NE(msg.find("above the limit"), std::string::npos) << msg;
  }
  // The limit itself loads (a director then stops at its next campaign, loudly).
  write("quorate-acceptor-state 3\nmax_epoch " + at + "\nowner 0\nincarnation " + at +
        "\nmax_lease_us 1\nmax_round " + at + "\n");
  auto r = StateFile(dir_ + "/s.state").load();
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->maxEpoch, lease::kMaxCounter);
  EXPECT_EQ(r->maxRound, lease::kMaxCounter);
}

// The round reserve (version 3) survives a save and load.
TEST_F(StateFileTest, KeepsTheRoundReserve) {
  const lease::DurableState s{7, 1, 3, std::chrono::microseconds(1700000), 4242};
  ASSERT_TRUE(StateFile(dir_ + "/s.state").save(s));
  auto r = StateFile(dir_ + "/s.state").load();
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(*r, s);
}

TEST_F(StateFileTest, StoreIntoMissingDirectoryFails) {
  const Status st = StateFile(dir_ + "/nope/s.state").save(lease::DurableState{1, 0});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.err(), ENOENT);
  EXPECT_NE(st.message().find(dir_ + "/nope/s.state.tmp: cannot create"), std::string::npos)
      << st.message();
}

TEST_F(StateFileTest, EnsureDirectoryCreatesAndRejectsFiles) {
  EXPECT_TRUE(ensureDirectory(dir_ + "/a/b"));
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/a/b"));
  write("x");
  const Status st = ensureDirectory(dir_ + "/s.state");
  EXPECT_FALSE(st);
  EXPECT_NE(st.message().find(dir_ + "/s.state: "), std::string::npos) << st.message();
}

}  // namespace
}  // namespace quorate
