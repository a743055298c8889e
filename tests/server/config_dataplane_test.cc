// The director config's data-plane keys: instances, sync groups and the leases they make,
// announcements, fence, own health; and a clear error for each kind of bad input.
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
    "preferred: a\n";

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

TEST(DirectorConfigDataPlane, WithoutInstancesOneDefaultLeaseAndNoDataPlane) {
  const auto c = parse("");
  ASSERT_EQ(c.leases.size(), 1u);
  EXPECT_EQ(c.leases[0].name, "default");
  EXPECT_EQ(c.leases[0].preferred, "a");
  EXPECT_FALSE(c.hasDataPlane());
  EXPECT_EQ(c.fence, FenceMode::kNftables);
  EXPECT_EQ(c.announce.repeat, 5);
}

TEST(DirectorConfigDataPlane, InstancesAndSyncGroupsMakeLeases) {
  const auto c = parse(
      "instances:\n"
      "  - name: web\n"
      "    vips:\n"
      "      - {address: 198.18.0.10/24, device: eth0, label: \"eth0:web\"}\n"
      "      - {address: \"2001:db8::10/64\", device: eth0}\n"
      "    vrrp: {vrid: 51, priority: 150, advert_interval_ms: 500}\n"
      "  - name: gw\n"
      "    vips: [{address: 198.18.1.1, device: eth1}]\n"
      "  - name: api\n"
      "    vips: [{address: 198.18.0.20/24, device: eth0}]\n"
      "    preferred: b\n"
      "    preempt_delay_ms: 3000\n"
      "sync_groups:\n"
      "  - {name: edge, instances: [web, gw], preferred: b}\n"
      "announce: {repeat: 3, interval_ms: 50, refresh_ms: 10000}\n"
      "fence: none\n"
      "track_interfaces: [eth0, eth1]\n"
      "track_scripts:\n"
      "  - {name: gwcheck, command: [/bin/true, x], interval_ms: 200, timeout_ms: 100, fall: 3, "
      "rise: 1}\n");
  ASSERT_EQ(c.instances.size(), 3u);
  EXPECT_EQ(c.instances[0].vips[0].label, "eth0:web");
  EXPECT_EQ(c.instances[0].vips[1].prefix.toString(), "2001:db8::10/64");
  EXPECT_EQ(c.instances[1].vips[0].prefix.length, 32);
  ASSERT_TRUE(c.instances[0].vrrp);
  EXPECT_EQ(c.instances[0].vrrp->vrid, 51);
  EXPECT_EQ(c.instances[0].vrrp->priority, 150);
  EXPECT_EQ(c.instances[0].vrrp->advertInterval, 500ms);
  ASSERT_EQ(c.leases.size(), 2u);
  EXPECT_EQ(c.leases[0].name, "edge");
  EXPECT_EQ(c.leases[0].instances, (std::vector<std::string>{"web", "gw"}));
  EXPECT_EQ(c.leases[0].preferred, "b");
  EXPECT_EQ(c.leases[1].name, "api");
  EXPECT_EQ(c.leases[1].preferred, "b");
  EXPECT_EQ(c.leases[1].preemptDelay, 3000ms);
  EXPECT_EQ(c.nodeConfig(c.leases[1]).preferred, 1u);
  EXPECT_EQ(c.announce.repeat, 3);
  EXPECT_EQ(c.announce.refresh, 10000ms);
  EXPECT_EQ(c.fence, FenceMode::kNone);
  EXPECT_EQ(c.trackInterfaces, (std::vector<std::string>{"eth0", "eth1"}));
  ASSERT_EQ(c.trackScripts.size(), 1u);
  EXPECT_EQ(c.trackScripts[0].argv, (std::vector<std::string>{"/bin/true", "x"}));
  EXPECT_EQ(c.trackScripts[0].fall, 3);
  EXPECT_TRUE(c.hasDataPlane());
}

struct Bad {
  const char* name;
  const char* tail;
  const char* key;
  const char* what;
};

const Bad kBad[] = {
    {"vip_not_an_address", "instances: [{name: w, vips: [{address: web.example, device: eth0}]}]",
     "address", "expected an IPv4 or IPv6 address"},
    {"vip_prefix_too_long",
     "instances: [{name: w, vips: [{address: 198.18.0.1/33, device: eth0}]}]", "address",
     "expected an IPv4 or IPv6 address"},
    {"vip_no_device", "instances: [{name: w, vips: [{address: 198.18.0.1}]}]", "device",
     "missing required key"},
    {"vip_device_too_long",
     "instances: [{name: w, vips: [{address: 198.18.0.1, device: abcdefghijklmnop}]}]", "device",
     "interface name of 1 to 15"},
    {"vip_label_v6",
     "instances: [{name: w, vips: [{address: \"2001:db8::1\", device: eth0, label: \"eth0:x\"}]}]",
     "label", "IPv4 addresses only"},
    {"vip_label_other_device",
     "instances: [{name: w, vips: [{address: 198.18.0.1, device: eth0, label: \"eth1:x\"}]}]",
     "label", "expected \"eth0:<name>\""},
    {"vip_twice",
     "instances:\n  - {name: w, vips: [{address: 198.18.0.1, device: eth0}]}\n"
     "  - {name: v, vips: [{address: 198.18.0.1/24, device: eth1}]}",
     "vips", "198.18.0.1 appears twice"},
    {"no_vips", "instances: [{name: w, vips: []}]", "vips", "at least one VIP"},
    {"instance_twice",
     "instances:\n  - {name: w, vips: [{address: 198.18.0.1, device: eth0}]}\n"
     "  - {name: w, vips: [{address: 198.18.0.2, device: eth0}]}",
     "name", "duplicate instance"},
    {"vrid_twice",
     "instances:\n  - {name: w, vips: [{address: 198.18.0.1, device: eth0}], vrrp: {vrid: 5}}\n"
     "  - {name: v, vips: [{address: 198.18.0.2, device: eth0}], vrrp: {vrid: 5}}",
     "vrrp", "vrid 5 is used by another instance"},
    {"vrid_zero",
     "instances: [{name: w, vips: [{address: 198.18.0.1, device: eth0}], vrrp: {vrid: 0}}]", "vrid",
     "must be between 1 and 255"},
    {"advert_not_centiseconds",
     "instances: [{name: w, vips: [{address: 198.18.0.1, device: eth0}], vrrp: {vrid: 1, "
     "advert_interval_ms: 105}}]",
     "advert_interval_ms", "multiple of 10"},
    {"vmac_two_families",
     "instances: [{name: w, vips: [{address: 198.18.0.1, device: eth0}, {address: \"2001:db8::1\", "
     "device: eth0}], vrrp: {vrid: 1, use_vmac: true}}]",
     "vrrp", "one device and of one family"},
    {"group_unknown_instance",
     "instances: [{name: w, vips: [{address: 198.18.0.1, device: eth0}]}]\n"
     "sync_groups: [{name: g, instances: [x]}]",
     "instances", "no instance named \"x\""},
    {"instance_in_two_groups",
     "instances: [{name: w, vips: [{address: 198.18.0.1, device: eth0}]}]\n"
     "sync_groups: [{name: g, instances: [w]}, {name: h, instances: [w]}]",
     "instances", "already in sync group \"g\""},
    {"group_named_like_instance",
     "instances: [{name: w, vips: [{address: 198.18.0.1, device: eth0}]}]\n"
     "sync_groups: [{name: w, instances: [w]}]",
     "name", "has the name of an instance"},
    {"preference_on_grouped_instance",
     "instances: [{name: w, vips: [{address: 198.18.0.1, device: eth0}], preferred: b}]\n"
     "sync_groups: [{name: g, instances: [w]}]",
     "instances[0]", "set preferred, preempt_delay_ms and hooks on the group"},
    {"hooks_on_grouped_instance",
     "instances: [{name: w, vips: [{address: 198.18.0.1, device: eth0}],\n"
     "             hooks: {notify: /bin/true}}]\n"
     "sync_groups: [{name: g, instances: [w]}]",
     "instances[0]", "hooks on the group"},
    {"hook_relative", "hooks: {notify: notify.sh}", "hooks.notify", "absolute program"},
    {"hook_unclosed_quote", "hooks: {notify_master: \"/bin/echo 'unclosed\"}",
     "hooks.notify_master", "unclosed single quote"},
    {"hook_unknown_key", "hooks: {notify_maser: /bin/true}", "notify_maser", "unknown key"},
    {"hook_command_and_shell", "hooks: {notify: {command: [/bin/true], shell: 'true'}}",
     "hooks.notify", "either command or shell"},
    {"hook_empty_list", "hooks: {on_quorum_loss: []}", "hooks.on_quorum_loss",
     "at least one command"},
    // Review (issue 14): found only at each run (kFailedToStart), a pre-claim hook's unknown
    // user failed every claim; with the same file on both directors nobody served.
    {"hook_unknown_user",
     "hooks: {pre_claim: {command: [/bin/true], user: no-such-user-qr14, timeout_ms: 100}}",
     "hooks.pre_claim", "no user \"no-such-user-qr14\" on this host"},
    {"pre_claim_over_budget",
     "hooks: {pre_claim: [{command: [/bin/true], timeout_ms: 800},\n"
     "                    {command: [/bin/true], timeout_ms: 800}]}",
     "hooks", "pre_claim hooks may take 1600 ms"},
    {"pre_release_over_budget", "hooks: {pre_release: {shell: 'sleep 1', timeout_ms: 60000}}",
     "hooks", "pre_release hooks may take 60000 ms"},
    {"fence_unknown", "fence: iptables", "fence", "expected one of nftables, none"},
    {"announce_repeat_zero", "announce: {repeat: 0}", "announce.repeat",
     "must be between 1 and 100"},
    {"script_relative", "track_scripts: [{name: s, command: [check.sh]}]", "command",
     "absolute program"},
    {"script_twice",
     "track_scripts: [{name: s, command: [/bin/true]}, {name: s, command: [/bin/true]}]",
     "track_scripts", "duplicate track script"},
    {"track_interface_bad", "track_interfaces: [\"eth 0\"]", "track_interfaces", "interface name"},
};

void PrintTo(const Bad& c, std::ostream* os) { *os << c.name; }

class DataPlaneBadInput : public ::testing::TestWithParam<Bad> {};

TEST_P(DataPlaneBadInput, OneClearError) {
  const Bad& c = GetParam();
  const std::string message = errorOf(c.tail);
  EXPECT_THAT(message, HasSubstr(c.key)) << message;
  EXPECT_THAT(message, HasSubstr(c.what)) << message;
  EXPECT_THAT(message, HasSubstr("/etc/quorate/a.yaml:")) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Table, DataPlaneBadInput, ::testing::ValuesIn(kBad),
                         [](const ::testing::TestParamInfo<Bad>& p) {
                           return std::string(p.param.name);
                         });

// Virtual servers follow the lease of their instance (its sync group's when grouped).
TEST(DirectorConfigDataPlane, VirtualServersFollowTheirInstancesLease) {
  const auto c = parse(
      "instances:\n"
      "  - {name: web, vips: [{address: 198.18.0.10/24, device: eth0}]}\n"
      "  - {name: dns, vips: [{address: 198.18.0.53/24, device: eth0}]}\n"
      "  - {name: ntp, vips: [{address: 198.18.0.123/24, device: eth0}]}\n"
      "sync_groups: [{name: infra, instances: [dns, ntp]}]\n"
      "virtual_servers:\n"
      "  - {name: http, instance: web, address: 198.18.0.10, port: 80,\n"
      "     real_servers: [{address: 198.18.0.21}]}\n"
      "  - {name: time, instance: ntp, protocol: udp, address: 198.18.0.123, port: 123,\n"
      "     real_servers: [{address: 198.18.0.22}]}\n"
      "ipvs: {standby: warm, sync_daemon: {interface: eth0, sync_id: 9}}\n");
  ASSERT_EQ(c.ipvs.virtualServers.size(), 2u);
  ASSERT_EQ(c.leases.size(), 2u);
  EXPECT_EQ(c.leases[c.virtualServerLease[0]].name, "web");
  EXPECT_EQ(c.leases[c.virtualServerLease[1]].name, "infra");
  EXPECT_EQ(c.syncLease, c.virtualServerLease[0]);
  EXPECT_EQ(c.ipvs.standby, ipvs::StandbyMode::kWarm);
  EXPECT_TRUE(c.hasDataPlane());
}

TEST(DirectorConfigDataPlane, AVirtualServerNamingNoInstanceIsAnErrorWithItsLine) {
  const std::string e = errorOf(
      "instances:\n"
      "  - {name: web, vips: [{address: 198.18.0.10/24, device: eth0}]}\n"
      "virtual_servers:\n"
      "  - name: http\n"
      "    instance: nope\n"
      "    address: 198.18.0.10\n"
      "    port: 80\n"
      "    real_servers: [{address: 198.18.0.21}]\n");
  EXPECT_THAT(e, HasSubstr("a.yaml:13:"));
  EXPECT_THAT(e, HasSubstr("nope"));
}

TEST(DirectorConfigDataPlane, ReloadMayChangeOnlyVirtualServersAndIpvs) {
  const std::string base = std::string(kHead) +
                           "virtual_servers:\n"
                           "  - {name: http, address: 198.18.0.10, port: 80,\n"
                           "     real_servers: [{address: 198.18.0.21}]}\n";
  std::string weights = base;
  weights.replace(weights.find("198.18.0.21}"), 12, "198.18.0.21, weight: 3}");
  EXPECT_TRUE(sameExceptVirtualServers(base, weights));
  EXPECT_TRUE(sameExceptVirtualServers(base, base + "ipvs: {standby: warm}\n"));
  std::string other = base;
  other.replace(other.find("preferred: a"), 12, "preferred: b");
  EXPECT_FALSE(sameExceptVirtualServers(base, other));
  EXPECT_FALSE(sameExceptVirtualServers(base, "[not, a, mapping]"));
  EXPECT_FALSE(sameExceptVirtualServers(base, "{unclosed"));
}

}  // namespace
}  // namespace quorate::server

namespace quorate::server {
namespace {

// hooks: a top-level default every lease inherits, per-instance and per-group overrides of
// single keys, keepalived's word splitting, the mapping forms, a shell only when asked.
TEST(HooksConfig, DefaultsOverridesAndTheCommandForms) {
  const auto c = parse(
      "hooks:\n"
      "  notify: \"/usr/local/bin/notify.sh 'two words' x\"\n"
      "  on_quorum_loss: [/bin/a, {command: [/bin/b, \"$HOME\"], timeout_ms: 250, user: nobody}]\n"
      "instances:\n"
      "  - {name: web, vips: [{address: 198.18.0.1, device: eth0}],\n"
      "     hooks: {notify_master: /bin/m, pre_claim: {shell: 'exit 0', timeout_ms: 100}}}\n"
      "  - {name: api, vips: [{address: 198.18.0.2, device: eth0}]}\n"
      "  - {name: db, vips: [{address: 198.18.0.3, device: eth0}]}\n"
      "sync_groups: [{name: g, instances: [db], hooks: {notify: /bin/g}}]\n");
  auto leaseNamed = [&](const std::string& n) -> const LeaseConfig& {
    for (const auto& l : c.leases) {
      if (l.name == n) return l;
    }
    throw std::runtime_error("no lease " + n);
  };
  const auto& web = leaseNamed("web");
  ASSERT_EQ(web.hooks.notify.size(), 1u);
  EXPECT_EQ(web.hooks.notify[0].program,
            (std::vector<std::string>{"/usr/local/bin/notify.sh", "two words", "x"}));
  EXPECT_TRUE(web.hooks.notify[0].keepalivedArgs);
  ASSERT_EQ(web.hooks.notifyMaster.size(), 1u);
  EXPECT_FALSE(web.hooks.notifyMaster[0].keepalivedArgs) << "notify_master runs as configured";
  ASSERT_EQ(web.hooks.preClaim.size(), 1u);
  EXPECT_EQ(web.hooks.preClaim[0].program,
            (std::vector<std::string>{"/bin/sh", "-c", "exit 0", "quorate-hook"}));
  EXPECT_EQ(web.hooks.preClaim[0].timeout.count(), 100);
  ASSERT_EQ(web.hooks.onQuorumLoss.size(), 2u) << "inherited from the top level";
  EXPECT_EQ(web.hooks.onQuorumLoss[1].program, (std::vector<std::string>{"/bin/b", "$HOME"}))
      << "no expansion without a shell";
  EXPECT_EQ(web.hooks.onQuorumLoss[1].user, "nobody");
  EXPECT_EQ(web.hooks.onQuorumLoss[1].timeout.count(), 250);
  const auto& api = leaseNamed("api");
  EXPECT_TRUE(api.hooks.notifyMaster.empty()) << "web's override leaked into api";
  EXPECT_EQ(api.hooks.notify, web.hooks.notify);
  const auto& g = leaseNamed("g");
  EXPECT_TRUE(g.syncGroup);
  ASSERT_EQ(g.hooks.notify.size(), 1u);
  EXPECT_EQ(g.hooks.notify[0].program, (std::vector<std::string>{"/bin/g"}));
  EXPECT_EQ(g.hooks.onQuorumLoss.size(), 2u);
}

}  // namespace
}  // namespace quorate::server
