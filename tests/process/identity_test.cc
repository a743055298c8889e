// Identity skew with the real daemons (issue 11, finding 1): a director whose file disagrees with
// the other's on who is who never holds together with it, and says what disagrees.
#include <gtest/gtest.h>

#include <regex>

#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

// `text` with the first match of `pattern` replaced.
std::string replaceOnce(const std::string& text, const std::string& pattern,
                        const std::string& with) {
  return std::regex_replace(text, std::regex(pattern), with,
                            std::regex_constants::format_first_only);
}

// Both directors sampled for `window`: no two tenures overlap, whatever else happens.
void expectNeverTwoHolders(const Cluster& c, Ms window) {
  Sampler sampler(c);
  std::this_thread::sleep_for(window);
  sampler.stop();
  const auto samples = sampler.samples();
  EXPECT_GT(okCount(samples, kAlpha), 0u);
  EXPECT_GT(okCount(samples, kBeta), 0u);
  const auto v = checkTenures(samples, /*releasesPossible=*/true);
  EXPECT_TRUE(v.empty()) << summary(v) << "\n" << describeTenures(samples, true);
}

std::size_t holdingSamples(const std::vector<Sample>& samples, const std::string& director) {
  std::size_t n = 0;
  for (const auto& s : samples) n += s.ok && s.node == director && s.role == "holder";
  return n;
}

// A copy of alpha's file on beta's host, `node` left at alpha: refused before it starts, by
// --check and by the daemon itself, with a message naming the mismatch.
TEST(Identity, DirectorWithTheOthersNameRefusesToStart) {
  Cluster c("identity-name", ClusterOptions().editing(kBeta, [](const std::string& y) {
    return replaceOnce(y, "node: beta", "node: alpha");
  }));
  for (const bool check : {true, false}) {
    std::vector<std::string> argv = {QUORATE_DIRECTOR, "--config", c.configPath(kBeta)};
    if (check) argv.push_back("--check");
    const auto r = runProgram(argv, 10s);
    EXPECT_NE(r.exitCode, 0) << (check ? "--check" : "start") << " accepted the file";
    EXPECT_NE((r.out + r.err).find("is `node` this director's own id?"), std::string::npos)
        << r.out << r.err;
  }
  // alpha, configured right, is not disturbed.
  c.start(kArbiter);
  c.start(kAlpha);
  EXPECT_TRUE(c.waitForSelfHolder(kAlpha, c.timers().startupBound()));
}

// A second daemon started on a running one's state_dir (a copied unit, a test instance left
// running) would be the same node twice, each trusting promises the other made. It is refused
// naming the directory and the pid that holds it, and the running holder is not disturbed.
TEST(Identity, SecondDaemonOnARunningOnesStateDirRefusesToStart) {
  Cluster c("identity-statedir");
  c.start(kArbiter);
  c.start(kAlpha);
  const auto before = c.waitForSelfHolder(kAlpha, c.timers().startupBound());
  ASSERT_TRUE(before);
  for (const auto& node : {kAlpha, kArbiter}) {
    SCOPED_TRACE(node);
    const std::string binary = node == kArbiter ? QUORATE_ARBITER : QUORATE_DIRECTOR;
    const RunResult r = runProgram({binary, "--config", c.configPath(node)}, 10s);
    EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
    EXPECT_NE((r.out + r.err)
                  .find("state_dir " + c.stateDir(node) + " is in use by another process (pid "),
              std::string::npos)
        << r.out << r.err;
  }
  const auto after = c.waitForSelfHolder(kAlpha, c.timers().startupBound());
  ASSERT_TRUE(after);
  EXPECT_EQ(after->epoch, before->epoch);
}

// beta lists the directors in the other order, so it believes it is node 0, as alpha does. Before
// the fix both reported "holder" for as long as they ran. Now the views are refused on every
// side (the arbiter admits the view it pinned first): neither director holds while the other
// does, and both logs name the two views.
TEST(Identity, DirectorsListedInAnotherOrderNeverHoldTogether) {
  Cluster c("identity-order", ClusterOptions().editing(kBeta, [](const std::string& y) {
    const std::regex entries(
        "(  - id: alpha\n    address: [^\n]+\n)(  - id: beta\n    address: [^\n]+\n)");
    return std::regex_replace(y, entries, "$2$1");
  }));
  ASSERT_NE(c.plainDirectorConfig(kBeta), readFile(c.configPath(kBeta))) << "not edited";
  c.startAll();
  expectNeverTwoHolders(c, c.timers().startupBound() + 4s);
  for (const auto& d : {kAlpha, kBeta}) {
    EXPECT_NE(c.log(d).find("membership differs"), std::string::npos) << d << " names no mismatch";
  }
}

// beta points at an arbiter of its own (same cluster id and secret). With one arbiter each,
// {alpha, arbiter} and {beta, arbiter2} would both be majorities; the directors' views differ in
// the arbiter, so each refuses the other's requests from the start (identity probes during the
// quarantine), and since their views name different arbiters, neither campaigns.
TEST(Identity, DirectorWithAnotherArbiterNeverHoldsTogether) {
  const int port2 = testutil::reservePort();
  std::string arbiterAddress;  // known once the cluster has its ports
  Cluster c("identity-arbiter", ClusterOptions().editing(kBeta, [&](std::string y) {
    const auto at = y.find("  address: " + arbiterAddress + "\n");
    return at == std::string::npos
               ? y
               : y.replace(at, arbiterAddress.size() + 12,
                           "  address: 127.0.0.1:" + std::to_string(port2) + "\n");
  }));
  arbiterAddress = c.address(kArbiter);
  c.rewriteConfigs();
  ASSERT_NE(readFile(c.configPath(kBeta)).find(std::to_string(port2)), std::string::npos);
  // The second arbiter: the first one's file on another port and state directory.
  const std::string dir2 = c.stateDir(kArbiter) + "-2";
  std::string y = readFile(c.configPath(kArbiter));
  y = replaceOnce(y, "listen: [^\n]+", "listen: 127.0.0.1:" + std::to_string(port2));
  y = replaceOnce(y, "state_dir: [^\n]+", "state_dir: " + dir2);
  const std::string path2 = c.configPath(kArbiter) + "-2.yaml";
  writeFile(path2, y);
  ExtraProcess arbiter2({QUORATE_ARBITER, "--config", path2}, c.logPath(kArbiter) + "-2");
  c.startAll();
  expectNeverTwoHolders(c, c.timers().startupBound() + 4s);
  for (const auto& d : {kAlpha, kBeta}) {
    EXPECT_NE(c.log(d).find("membership differs"), std::string::npos) << d << " names no mismatch";
  }
}

// beta has another secret: the arbiter and alpha refuse it, so only alpha can hold.
TEST(Identity, DirectorWithAnotherSecretNeverHolds) {
  Cluster c("identity-secret",
            ClusterOptions().withWrongSecret(kBeta, "not-the-cluster-key-0123456789"));
  c.startAll();
  Sampler sampler(c);
  ASSERT_TRUE(c.waitForSelfHolder(kAlpha, c.timers().startupBound()));
  std::this_thread::sleep_for(c.timers().failoverBound());
  sampler.stop();
  const auto samples = sampler.samples();
  EXPECT_EQ(holdingSamples(samples, kBeta), 0u);
  EXPECT_TRUE(checkTenures(samples, true).empty()) << summary(checkTenures(samples, true));
  EXPECT_NE(c.log(kBeta).find("not authenticated: unknown cluster, key or signature"),
            std::string::npos);
}

}  // namespace
}  // namespace quorate::proctest
