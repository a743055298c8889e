// The event log in the director: the event_log section of its config, and the daemon's own
// records (started, stopping) in a real file, or none when it is turned off.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/config_error.h"
#include "server/config.h"
#include "server/daemon.h"
#include "tests/support/ports.h"
#include "tests/support/temp_dir.h"

namespace quorate::server {
namespace {

using nlohmann::json;
using testutil::TempDir;

std::string directorYaml(const std::string& stateDir, const std::string& listen,
                         const std::string& rest) {
  return "cluster: c\nnode: alpha\nsecret: 0123456789abcdef\nlisten: \"" + listen +
         "\"\nstate_dir: " + stateDir + "\ndirectors: [{id: alpha, address: \"" + listen +
         "\"}, {id: beta, address: \"127.0.0.1:2\"}]\n"
         "arbiter: {address: \"127.0.0.1:3\"}\n" +
         rest;
}

std::string configError(const std::string& rest) {
  try {
    parseDirectorConfig(directorYaml("/var/lib/quorate", "127.0.0.1:1", rest),
                        "/etc/quorate/alpha.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::vector<json> recordsOf(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

TEST(EventLogConfig, DefaultsAndEveryKey) {
  const std::string path = "/etc/quorate/alpha.yaml";
  auto c = parseDirectorConfig(directorYaml("/var/lib/quorate", "127.0.0.1:1", ""), path);
  EXPECT_TRUE(c.eventLog.enabled);
  EXPECT_EQ(c.eventLog.path, "/var/lib/quorate/events.jsonl");
  EXPECT_EQ(c.eventLog.maxBytes, 16u << 20);
  EXPECT_EQ(c.eventLog.keep, 5);

  c = parseDirectorConfig(
      directorYaml("/var/lib/quorate", "127.0.0.1:1",
                   "event_log: {path: log/events.jsonl, max_bytes: 1048576, keep: 0}\n"),
      path);
  EXPECT_TRUE(c.eventLog.enabled);
  EXPECT_EQ(c.eventLog.path, "/etc/quorate/log/events.jsonl");  // relative to the file
  EXPECT_EQ(c.eventLog.maxBytes, 1048576u);
  EXPECT_EQ(c.eventLog.keep, 0);

  c = parseDirectorConfig(
      directorYaml("/var/lib/quorate", "127.0.0.1:1", "event_log: {enabled: false}\n"), path);
  EXPECT_FALSE(c.eventLog.enabled);
}

TEST(EventLogConfig, BadValuesNameTheKey) {
  EXPECT_NE(configError("event_log: {keep: 101}\n").find("event_log.keep"), std::string::npos);
  EXPECT_NE(configError("event_log: {keep: -1}\n").find("event_log.keep"), std::string::npos);
  EXPECT_NE(configError("event_log: {max_bytes: 100}\n").find("event_log.max_bytes"),
            std::string::npos);
  EXPECT_NE(configError("event_log: {enabled: maybe}\n").find("event_log.enabled"),
            std::string::npos);
  EXPECT_NE(configError("event_log: {rotate: daily}\n").find("rotate"), std::string::npos);
  EXPECT_NE(configError("event_log: [a]\n").find("event_log"), std::string::npos);
  EXPECT_EQ(configError("event_log: {keep: 100, max_bytes: 4096}\n"), "");
}

DirectorConfig configIn(const TempDir& dir, const std::string& rest) {
  std::filesystem::create_directories(dir.file("state"));
  return parseDirectorConfig(
      directorYaml(dir.file("state"), testutil::reserveLoopbackEndpoint(), rest),
      dir.file("alpha.yaml"));
}

// The records other than the lease's own (role, hook: tests/server/hooks).
std::vector<json> daemonRecordsOf(const std::string& path) {
  std::vector<json> out;
  for (auto& r : recordsOf(path)) {
    if (r["event"] != "role" && r["event"] != "hook") out.push_back(std::move(r));
  }
  return out;
}

TEST(DaemonEvents, StartedAndStoppingRecords) {
  TempDir dir("daemon-events");
  const DirectorConfig c = configIn(dir, "");
  {
    Daemon d(c);
    ASSERT_NE(d.events(), nullptr);
    ASSERT_TRUE(d.start().isOk());
    d.events()->append({{"event", "from-the-lead"}, {"lease", "default"}});
    d.stop();
    // stop() leaves everything on disk, the lease's last word (STOP) too.
    const auto all = recordsOf(c.eventLog.path);
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all.back()["event"], "role");
    EXPECT_EQ(all.back()["to"], "stopping");
    const auto records = daemonRecordsOf(c.eventLog.path);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0]["event"], "started");
    EXPECT_EQ(records[0]["version"], QUORATE_TEST_VERSION);
    EXPECT_EQ(records[0]["node"], "alpha");
    EXPECT_EQ(records[0]["cluster"], "c");
    EXPECT_EQ(records[0]["seq"], 1);
    EXPECT_EQ(records[1]["event"], "from-the-lead");
    EXPECT_EQ(records[2]["event"], "stopping");
  }
  // A second run appends to the same file.
  {
    Daemon d(c);
    ASSERT_TRUE(d.start().isOk());
  }
  const auto records = daemonRecordsOf(c.eventLog.path);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[3]["event"], "started");
  EXPECT_EQ(records[4]["event"], "stopping");
}

TEST(DaemonEvents, TurnedOff) {
  TempDir dir("daemon-events");
  const DirectorConfig c = configIn(dir, "event_log: {enabled: false}\n");
  Daemon d(c);
  EXPECT_EQ(d.events(), nullptr);
  ASSERT_TRUE(d.start().isOk());
  d.stop();
  EXPECT_FALSE(std::filesystem::exists(c.eventLog.path));
}

TEST(DaemonEvents, AnUnopenableLogIsAStartFailureNamingThePath) {
  TempDir dir("daemon-events");
  const DirectorConfig c = configIn(dir, "event_log: {path: missing/events.jsonl}\n");
  try {
    Daemon d(c);
    FAIL() << "the daemon started without its event log";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("missing")), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quorate::server
