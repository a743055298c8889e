// Reload on the real daemons (SIGHUP and `quoratectl reload`): it never stops them or moves the
// lease; a director re-reads its file, applies what may change (here: the log level, hooks) and
// refuses, whole and naming every reason, a file that does not parse or that changes what needs
// a restart (here: the lease timers). Only the admin role may ask for it over the API.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

// Waits until `text` appears in the node's log after its first `from` bytes.
bool logShows(const Cluster& c, const std::string& node, const std::string& text, Ms timeout,
              std::size_t from = 0) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    const std::string log = c.log(node);
    if (log.size() > from && log.find(text, from) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// `text` with its first `from` replaced by `to`, which must be there.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(Reload, SighupRereadsTheFileAndNeverStopsTheDaemonsOrMovesTheLease) {
  Cluster c("reload");
  c.startAll();
  const auto h = c.waitForSettled(c.timers().startupBound() + 5s);
  ASSERT_TRUE(h);
  const std::string path = c.configPath(kAlpha);
  const std::string good = readFile(path);

  // Nothing changed.
  c.signal(kAlpha, SIGHUP);
  EXPECT_TRUE(logShows(c, kAlpha, "SIGHUP: reload: no change", 3s)) << c.log(kAlpha);
  // A file that does not parse: refused, naming the problem.
  writeFile(path, good + "bogus_key: 1\n");
  c.signal(kAlpha, SIGHUP);
  EXPECT_TRUE(logShows(c, kAlpha, "SIGHUP: reload refused, running configuration kept", 3s));
  EXPECT_TRUE(logShows(c, kAlpha, "bogus_key", 1s));
  // A timer change with a log level change: refused whole, the timers named; the log level
  // stays (no "applied").
  std::string timers = replaced(good, "holder_lease_ms: 1500", "holder_lease_ms: 1400");
  timers = replaced(timers, "log_level: debug", "log_level: info");
  writeFile(path, timers);
  std::size_t mark = c.log(kAlpha).size();
  c.signal(kAlpha, SIGHUP);
  EXPECT_TRUE(
      logShows(c, kAlpha, "timers: the lease core runs with the timing it started with", 3s, mark))
      << c.log(kAlpha);
  EXPECT_EQ(c.log(kAlpha).find("reload applied", mark), std::string::npos);
  writeFile(path, good);
  // The arbiter ignores it.
  c.signal(kArbiter, SIGHUP);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(c.running(kAlpha));
  EXPECT_TRUE(c.running(kArbiter));
  const auto after = c.waitForHolder(2s);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->holder, h->holder);
  EXPECT_EQ(after->epoch, h->epoch);
}

TEST(Reload, RaisingTheLogLevelBySighupShowsDebugLines) {
  ClusterOptions o;
  o.editing(kAlpha, [](const std::string& t) {
    return replaced(t, "log_level: debug", "log_level: info");
  });
  Cluster c("reload-level", o);
  // Beta never starts: alpha's messages to it fail, which it logs at debug only.
  c.start(kArbiter);
  c.start(kAlpha);
  ASSERT_TRUE(c.waitForSelfHolder(kAlpha, c.timers().startupBound() + 5s));
  std::this_thread::sleep_for(c.timers().renewInterval * 3);
  const std::string before = c.log(kAlpha);
  EXPECT_EQ(before.find("-> beta failed"), std::string::npos) << "debug lines at info";
  writeFile(c.configPath(kAlpha), c.plainDirectorConfig(kAlpha));  // log_level: debug
  c.signal(kAlpha, SIGHUP);
  EXPECT_TRUE(
      logShows(c, kAlpha, "SIGHUP: reload applied: log_level info -> debug", 3s, before.size()))
      << c.log(kAlpha);
  EXPECT_TRUE(logShows(c, kAlpha, "-> beta failed", 3s, before.size())) << c.log(kAlpha);
}

// A track script added by SIGHUP gates the holder at once: failing, it hands the lease over.
TEST(Reload, ATrackScriptAddedBySighupGatesTheHolder) {
  // A script from the start: as root, scripts run as another user, which needs capabilities the
  // director keeps only when its file has programs at start.
  const std::string first =
      "track_scripts:\n  - {name: ok, command: [/bin/true], interval_ms: 200}\n";
  ClusterOptions o;
  for (const auto& d : {kAlpha, kBeta}) {
    o.editing(d, [first](const std::string& t) { return t + first; });
  }
  Cluster c("reload-track", o);
  c.startAll();
  const auto h = c.waitForSettled(c.timers().startupBound() + 5s);
  ASSERT_TRUE(h);
  const std::string path = c.configPath(h->holder);
  const std::size_t mark = c.log(h->holder).size();
  writeFile(path, readFile(path) +
                      "  - {name: gate, command: [/bin/false], interval_ms: 100, fall: 1}\n");
  c.signal(h->holder, SIGHUP);
  EXPECT_TRUE(logShows(c, h->holder, "SIGHUP: reload applied: track_scripts", 3s, mark))
      << c.log(h->holder);
  EXPECT_TRUE(logShows(c, h->holder, "track script gate failing", 3s, mark));
  const std::string other = otherDirector(h->holder);
  std::optional<HolderView> moved;
  const auto end = Clock::now() + c.timers().failoverBound() + 3s;
  while (Clock::now() < end) {
    moved = c.agreedHolder();
    if (moved && moved->holder == other) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->holder, other);
  EXPECT_GT(moved->epoch, h->epoch);
  // The unchanged script kept running (no "fine again", it never failed).
  EXPECT_EQ(c.log(h->holder).find("track script ok", mark), std::string::npos) << c.log(h->holder);
}

#ifdef QUORATECTL

constexpr uid_t kNobody = 65534;

RunResult ctl(const Cluster& c, const std::string& director, std::vector<std::string> args,
              std::optional<uid_t> uid = std::nullopt) {
  std::vector<std::string> argv;
  if (uid) {
    const std::string id = std::to_string(*uid);
    argv = {"/usr/bin/setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups"};
  }
  argv.insert(argv.end(), {QUORATECTL, "--endpoint", c.operatorEndpoint(director), "reload"});
  argv.insert(argv.end(), args.begin(), args.end());
  return runProgram(argv, 5000ms);
}

// quoratectl reload runs what SIGHUP runs: a hook added by it runs at the next transition; a
// refused file's reasons are its output and its exit status 1.
TEST(Reload, QuoratectlReloadAppliesHooksAndShowsRefusals) {
  // A hook from the start: as root, hooks run as another user, which needs capabilities the
  // director keeps only when its file has programs at start (a reload cannot bring them back).
  const std::string firstHooks = "hooks:\n  notify_master: /bin/true\n";
  ClusterOptions o;
  for (const auto& d : {kAlpha, kBeta}) {
    o.editing(d, [firstHooks](const std::string& t) { return t + firstHooks; });
  }
  Cluster c("reload-ctl", o);
  c.startAll();
  const auto h = c.waitForSettled(c.timers().startupBound() + 5s);
  ASSERT_TRUE(h);
  const std::string holder = h->holder;
  const std::string path = c.configPath(holder);
  const std::string good = readFile(path);
  // Where the hook, run as another user when we are root, may write.
  char dirTemplate[] = "/tmp/quorate-reload-hook-XXXXXX";
  ASSERT_NE(::mkdtemp(dirTemplate), nullptr);
  const std::string markDir = dirTemplate;
  std::filesystem::permissions(markDir, std::filesystem::perms::all);
  const std::string mark = markDir + "/backup-hook-ran";
  const std::string withHook =
      replaced(good, firstHooks,
               firstHooks + "  notify_backup:\n    command: [/usr/bin/touch, " + mark + "]\n");
  writeFile(path, withHook);
  const auto asked = Clock::now();
  const RunResult applied = ctl(c, holder, {});
  // The whole round: quoratectl's start, the call, the file read and parsed, the hooks swapped.
  reportMs("reload_quoratectl_ms", msBetween(asked, Clock::now()));
  EXPECT_EQ(applied.exitCode, 0) << applied.out << applied.err;
  EXPECT_NE(applied.out.find("reload applied"), std::string::npos) << applied.out;
  EXPECT_NE(applied.out.find("hooks"), std::string::npos) << applied.out;
  // The lease did not move for it.
  const auto same = c.waitForHealthy(2s);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->holder, holder);
  EXPECT_EQ(same->epoch, h->epoch);
  // The new hook runs when the holder becomes a backup.
  ASSERT_TRUE(c.stepDown(holder).ok());
  const auto end = Clock::now() + 5s;
  while (!std::filesystem::exists(mark) && Clock::now() < end) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(std::filesystem::exists(mark)) << c.log(holder);

  // A timer change: refused, every reason printed, exit 1, nothing changed.
  writeFile(path, replaced(replaced(withHook, "renew_interval_ms: 500", "renew_interval_ms: 400"),
                           "log_level: debug", "log_level: info"));
  const RunResult refused = ctl(c, holder, {"--json"});
  EXPECT_EQ(refused.exitCode, 1) << refused.out << refused.err;
  const auto j = nlohmann::json::parse(refused.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << refused.out;
  EXPECT_EQ(j.at("applied"), false);
  ASSERT_FALSE(j.at("refused").empty());
  EXPECT_NE(j.at("summary").get<std::string>().find("timers:"), std::string::npos) << refused.out;
  EXPECT_TRUE(j.at("changes").empty()) << "the log level is not applied alone: " << refused.out;
  std::filesystem::remove_all(markDir);
}

TEST(Reload, AReaderCannotReload) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run the client as uid 65534";
  ClusterOptions o;
  o.editing(kAlpha, [](const std::string& t) {
    return replaced(t, "operator:\n", "operator:\n  group: nogroup\n");
  });
  Cluster c("reload-roles", o);
  c.start(kArbiter);
  c.start(kAlpha);
  ASSERT_TRUE(c.waitForSelfHolder(kAlpha, c.timers().startupBound() + 5s));
  for (std::filesystem::path p = c.stateDir(kAlpha); p.has_relative_path() && p != "/tmp";
       p = p.parent_path()) {
    std::filesystem::permissions(p, std::filesystem::perms::others_exec,
                                 std::filesystem::perm_options::add);
  }
  writeFile(c.configPath(kAlpha),
            replaced(readFile(c.configPath(kAlpha)), "log_level: debug", "log_level: info"));
  const std::size_t mark = c.log(kAlpha).size();
  const RunResult refused = ctl(c, kAlpha, {}, kNobody);
  EXPECT_EQ(refused.exitCode, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("PERMISSION_DENIED"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("Reload needs the admin role"), std::string::npos) << refused.err;
  EXPECT_TRUE(logShows(c, kAlpha, "operator: refused Reload", 2s, mark)) << c.log(kAlpha);
  EXPECT_EQ(c.log(kAlpha).find("reload applied", mark), std::string::npos) << c.log(kAlpha);
  // The audit record.
  bool recorded = false;
  for (int i = 0; i < 100 && !recorded; ++i) {
    std::ifstream in(c.stateDir(kAlpha) + "/events.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      const auto r = nlohmann::json::parse(line, nullptr, false);
      recorded |= !r.is_discarded() && r.value("call", "") == "Reload" &&
                  r.at("who").value("uid", -1) == static_cast<std::int64_t>(kNobody);
    }
    if (!recorded) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(recorded);
}

#endif  // QUORATECTL

}  // namespace
}  // namespace quorate::proctest
