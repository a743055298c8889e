// The arbiter's SIGHUP handler: the file read again, the plan applied or the running one kept,
// the log level switched, every outcome counted.
#include "arbiter/reloader.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace quorate::arbiter {
namespace {

class ReloaderTest : public ::testing::Test {
 protected:
  void SetUp() override { savedLevel_ = spdlog::default_logger()->level(); }
  void TearDown() override { spdlog::default_logger()->set_level(savedLevel_); }

  std::string path() const { return tmp_.path() + "/arbiter.yaml"; }
  void write(const std::string& extra, const std::string& clusters) {
    {
      std::ofstream out(path());
      out << "listen: 127.0.0.1:7100\nstate_dir: " << tmp_.path() << "\n"
          << extra << "clusters:\n"
          << clusters;
    }
    ::chmod(path().c_str(), 0600);  // it holds inline keys
  }
  static std::string cluster(const std::string& id) {
    return "  - id: " + id + "\n    secret: " + id + "-key-0123456789abcdef\n";
  }

  testutil::TempDir tmp_{"quorate-reloader-test"};
  spdlog::level::level_enum savedLevel_{};
};

TEST_F(ReloaderTest, AppliesAGoodFileAndKeepsTheRunningOneOtherwise) {
  write("log_level: info\n", cluster("a"));
  const ArbiterConfig first = loadArbiterConfig(path());
  ArbiterService svc(first, lease::Time{});
  Reloader reloader(first, svc, [] { return lease::Time{}; });

  write("log_level: warn\n", cluster("a") + cluster("b"));
  ASSERT_TRUE(reloader.reload());
  EXPECT_EQ(svc.clusterCount(), 2u);
  EXPECT_EQ(reloader.running().clusters.size(), 2u);
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);

  // Does not parse: nothing changes.
  write("log_level: loud\n", cluster("b"));
  EXPECT_FALSE(reloader.reload());
  // Parses, but moves the state directory: refused as a whole (b is not removed either).
  {
    std::ofstream out(path());
    out << "listen: 127.0.0.1:7100\nstate_dir: /elsewhere\nclusters:\n" << cluster("a");
  }
  EXPECT_FALSE(reloader.reload());
  EXPECT_EQ(svc.clusterCount(), 2u);
  EXPECT_EQ(reloader.running().clusters.size(), 2u);
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
  EXPECT_EQ(svc.counters().reloads.load(), 1u);
  EXPECT_EQ(svc.counters().reloadFailures.load(), 2u);

  // The running configuration is the one applied: removing b now is planned against it.
  write("log_level: warn\n", cluster("a"));
  ASSERT_TRUE(reloader.reload());
  EXPECT_EQ(svc.clusterCount(), 1u);
}

}  // namespace
}  // namespace quorate::arbiter
