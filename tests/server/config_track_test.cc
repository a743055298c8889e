// The director config's per-lease keys: an instance's or sync group's track_interfaces,
// track_scripts, track_files and announce, and a clear error naming the key for bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/config_error.h"
#include "server/config.h"

namespace quorate::server {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kHead[] =
    "cluster: c\n"
    "node: a\n"
    "secret: 0123456789abcdef\n"
    "listen: 127.0.0.1:7101\n"
    "state_dir: /tmp/q\n"
    "directors: [{id: a, address: \"127.0.0.1:7101\"}, {id: b, address: \"127.0.0.1:7102\"}]\n"
    "arbiter: {address: \"127.0.0.1:7100\"}\n"
    "track_scripts:\n"
    "  - {name: gw, command: [/bin/true]}\n"
    "  - {name: dns, command: [/bin/true]}\n"
    "  - {name: disk, command: [/bin/true]}\n"
    "announce: {repeat: 3, interval_ms: 50, refresh_ms: 10000}\n";

DirectorConfig parse(const std::string& tail) {
  return parseDirectorConfig(std::string(kHead) + tail, "/etc/quorate/a.yaml");
}

std::string errorOf(const std::string& tail) {
  try {
    parse(tail);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed without error:\n" << tail;
  return "";
}

TEST(DirectorConfigTrack, PerInstanceTrackingAndAnnouncements) {
  const auto c = parse(
      "instances:\n"
      "  - name: web\n"
      "    vips: [{address: 198.18.0.10/24, device: eth0}]\n"
      "    track_interfaces: [eth1, {name: eth2, weight: -10}]\n"
      "    track_scripts: [gw]\n"
      "    track_files: [/run/web.state, {path: /run/web.prio, weight: 5},\n"
      "                  {path: /run/web.down, weight: -254}]\n"
      "    announce: {repeat: 9, refresh_ms: 0}\n"
      "  - name: dns\n"
      "    vips: [{address: 198.18.0.53/24, device: eth0}]\n"
      "    track_scripts: [{name: dns, weight: 20}]\n");
  ASSERT_EQ(c.leases.size(), 2u);
  const auto& web = c.leases[0].track;
  EXPECT_EQ(web.interfaces, (std::vector<TrackItem>{{"eth1", 0}, {"eth2", -10}}));
  EXPECT_EQ(web.scripts, (std::vector<TrackItem>{{"gw", 0}}));
  // A track file's weight runs to keepalived's 254 (an interface's and a script's to 253).
  EXPECT_EQ(web.files, (std::vector<TrackItem>{
                           {"/run/web.state", 0}, {"/run/web.prio", 5}, {"/run/web.down", -254}}));
  EXPECT_EQ(parse("instances: [{name: x, vips: [{address: 198.18.0.9, device: eth0}],\n"
                  "             track_files: [run/x]}]\n")
                .leases[0]
                .track.files[0]
                .name,
            "/etc/quorate/run/x")
      << "relative to the file's directory, as every path in it";
  // Key by key over the top-level announce.
  EXPECT_EQ(c.leases[0].announce.repeat, 9);
  EXPECT_EQ(c.leases[0].announce.interval, 50ms);
  EXPECT_EQ(c.leases[0].announce.refresh, std::nullopt);
  EXPECT_EQ(c.leases[1].track.scripts, (std::vector<TrackItem>{{"dns", 20}}));
  EXPECT_TRUE(c.leases[1].track.interfaces.empty());
  EXPECT_EQ(c.leases[1].announce, c.announce);
  // Global lists are untouched; the link watcher follows the leases' interfaces too.
  EXPECT_TRUE(c.trackInterfaces.empty());
  EXPECT_EQ(c.watchedInterfaces(), (std::vector<std::string>{"eth0"}));
  EXPECT_EQ(c.linkWatchList(), (std::vector<std::string>{"eth0", "eth1", "eth2"}));
}

TEST(DirectorConfigTrack, ASyncGroupTracksItsOwnAndItsInstancesItems) {
  const auto c = parse(
      "instances:\n"
      "  - {name: web, vips: [{address: 198.18.0.10/24, device: eth0}],\n"
      "     track_interfaces: [eth1], track_scripts: [{name: gw, weight: 3}]}\n"
      "  - {name: db, vips: [{address: 198.18.0.11/24, device: eth0}], track_scripts: [gw]}\n"
      "sync_groups:\n"
      "  - {name: edge, instances: [web, db], track_files: [/run/edge],\n"
      "     announce: {interval_ms: 20}}\n");
  ASSERT_EQ(c.leases.size(), 1u);
  const auto& t = c.leases[0].track;
  EXPECT_EQ(t.interfaces, (std::vector<TrackItem>{{"eth1", 0}}));
  // Named by both members: once, and fatal because db's entry is.
  EXPECT_EQ(t.scripts, (std::vector<TrackItem>{{"gw", 0}}));
  EXPECT_EQ(t.files, (std::vector<TrackItem>{{"/run/edge", 0}}));
  EXPECT_EQ(c.leases[0].announce.interval, 20ms);
  EXPECT_EQ(c.leases[0].announce.repeat, 3);
}

TEST(DirectorConfigTrack, WithoutPerLeaseKeysNothingChanges) {
  const auto c =
      parse("instances: [{name: web, vips: [{address: 198.18.0.10/24, device: eth0}]}]\n");
  EXPECT_TRUE(c.leases[0].track.empty());
  EXPECT_EQ(c.leases[0].announce, c.announce);
  const auto d = parse("");  // the default lease
  EXPECT_EQ(d.leases[0].announce, d.announce);
}

struct Bad {
  const char* name;
  const char* instanceTail;  // appended to the instance "web"'s mapping
  const char* key;           // the message names it
  const char* what;
};

const Bad kBad[] = {
    {"unknown_script", "track_scripts: [nosuch]", "track_scripts",
     "no track script named \"nosuch\" in the top-level track_scripts"},
    {"script_twice", "track_scripts: [gw, {name: gw, weight: 2}]", "track_scripts",
     "\"gw\" appears twice in track_scripts"},
    {"bad_interface", "track_interfaces: [\"eth 1\"]", "track_interfaces", "interface name"},
    {"interface_weight_high", "track_interfaces: [{name: eth1, weight: 254}]",
     "track_interfaces[0].weight", "between -253 and 253"},
    {"file_weight_high", "track_files: [{path: /run/x, weight: 255}]", "track_files[0].weight",
     "between -254 and 254"},
    {"file_empty", "track_files: [\"\"]", "track_files[0]", "must not be empty"},
    {"file_unknown_key", "track_files: [{path: /run/x, wieght: 1}]", "wieght", "unknown key"},
    {"file_no_path", "track_files: [{weight: 1}]", "track_files[0]", "path"},
    {"announce_bad", "announce: {repeat: 0}", "announce.repeat", "between 1 and 100"},
    {"not_a_list", "track_scripts: gw", "track_scripts", "list"},
};

void PrintTo(const Bad& c, std::ostream* os) { *os << c.name; }

class TrackBadInput : public ::testing::TestWithParam<Bad> {};

TEST_P(TrackBadInput, OneClearErrorNamingTheKey) {
  const Bad& c = GetParam();
  const std::string message =
      errorOf(std::string("instances:\n"
                          "  - name: web\n"
                          "    vips: [{address: 198.18.0.10/24, device: eth0}]\n"
                          "    ") +
              c.instanceTail + "\n");
  EXPECT_THAT(message, HasSubstr(c.key)) << message;
  EXPECT_THAT(message, HasSubstr(c.what)) << message;
  EXPECT_THAT(message, HasSubstr("/etc/quorate/a.yaml:")) << message;
}

INSTANTIATE_TEST_SUITE_P(Table, TrackBadInput, ::testing::ValuesIn(kBad),
                         [](const ::testing::TestParamInfo<Bad>& p) {
                           return std::string(p.param.name);
                         });

TEST(DirectorConfigTrack, AGroupedInstanceKeepsAnnounceOnItsGroup) {
  const std::string message = errorOf(
      "instances:\n"
      "  - {name: web, vips: [{address: 198.18.0.10/24, device: eth0}], announce: {repeat: 2}}\n"
      "sync_groups: [{name: edge, instances: [web]}]\n");
  EXPECT_THAT(message, HasSubstr("instances[0].announce"));
  EXPECT_THAT(message, HasSubstr("set announce on the group"));
}

TEST(DirectorConfigTrack, AGroupNamingAnUnknownScriptIsRefused) {
  const std::string message = errorOf(
      "instances: [{name: web, vips: [{address: 198.18.0.10/24, device: eth0}]}]\n"
      "sync_groups: [{name: edge, instances: [web], track_scripts: [gone]}]\n");
  EXPECT_THAT(message, HasSubstr("sync_groups[0].track_scripts"));
  EXPECT_THAT(message, HasSubstr("no track script named \"gone\""));
}

}  // namespace
}  // namespace quorate::server
