// The reload plan: what a new director file may change while the director runs, and that any
// change needing a restart refuses the whole file with every reason given.
#include "server/reload/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "server/config.h"

namespace quorate::server::reload {
namespace {

using ::testing::HasSubstr;

const std::string kHead = R"(cluster: c
node: a
secret: 0123456789abcdef
listen: 127.0.0.1:1
state_dir: /tmp/unused
directors: [{id: a, address: "127.0.0.1:1"}, {id: b, address: "127.0.0.1:2"}]
arbiter: {address: "127.0.0.1:3"}
)";

const std::string kInstances = R"(instances:
  - name: web
    vips: [{address: 198.18.0.10/24, device: eth0}]
  - name: db
    vips: [{address: 198.18.0.20/24, device: eth0}, {address: 198.18.0.21/24, device: eth0}]
)";

const std::string kVirtualServers = R"(virtual_servers:
  - {name: http, instance: web, address: 198.18.0.10, port: 80,
     real_servers: [{address: 198.18.1.21}]}
)";

const std::string kBase = kHead + kInstances + kVirtualServers;

ReloadPlan plan(const std::string& running, const std::string& next) {
  return planReload(parseDirectorConfig(running, "/etc/quorate/a.yaml"), running,
                    parseDirectorConfig(next, "/etc/quorate/a.yaml"), next);
}

// `text` with its first `from` replaced by `to` (which must be there).
std::string with(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

void expectRefusedOnly(const ReloadPlan& p, const std::string& reason) {
  EXPECT_FALSE(p.accepted());
  EXPECT_TRUE(p.empty()) << "a refused plan applies nothing";
  EXPECT_TRUE(p.changes.empty());
  ASSERT_FALSE(p.refused.empty());
  std::string all;
  for (const auto& r : p.refused) all += r + "\n";
  EXPECT_THAT(all, HasSubstr(reason));
  EXPECT_THAT(p.summary(), HasSubstr("refused, nothing changed"));
}

TEST(ReloadPlan, TheSameFileChangesNothing) {
  const auto p = plan(kHead + kInstances, kHead + kInstances);
  EXPECT_TRUE(p.accepted());
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.summary(), "no change");
}

// The same file with virtual servers: nothing changed, but they are compared with the kernel
// again and the checks re-read their files (a rotated CA bundle), as SIGHUP always did.
TEST(ReloadPlan, TheSameVirtualServersAreAppliedAgain) {
  const auto p = plan(kBase, kBase);
  EXPECT_TRUE(p.accepted());
  EXPECT_TRUE(p.virtualServers);
  EXPECT_TRUE(p.changes.empty());
  EXPECT_EQ(p.summary(), "no change");
}

TEST(ReloadPlan, CommentsAndQuotingAreNoChange) {
  const std::string next = "# edited\n" + with(kBase, "cluster: c", "cluster: \"c\"  # same");
  const auto p = plan(kBase, next);
  EXPECT_TRUE(p.accepted()) << p.summary();
  EXPECT_TRUE(p.changes.empty());
}

TEST(ReloadPlan, LogLevelIsApplied) {
  const auto p = plan(kBase, kBase + "log_level: debug\n");
  EXPECT_TRUE(p.accepted()) << p.summary();
  EXPECT_TRUE(p.logLevel);
  EXPECT_FALSE(p.hooks || p.announce);
  EXPECT_EQ(p.changes.size(), 1u);
  EXPECT_THAT(p.summary(), HasSubstr("log_level info -> debug"));
}

TEST(ReloadPlan, AnnouncementsAreApplied) {
  const auto p = plan(kBase, kBase + "announce: {repeat: 3, interval_ms: 200}\n");
  EXPECT_TRUE(p.accepted()) << p.summary();
  EXPECT_TRUE(p.announce);
  EXPECT_FALSE(p.logLevel || p.hooks);
  EXPECT_EQ(p.changes.size(), 1u);
}

TEST(ReloadPlan, TrackScriptsAreApplied) {
  const std::string one = kBase + "track_scripts: [{name: t, command: [/bin/true]}]\n";
  const auto p = plan(kBase, one);
  EXPECT_TRUE(p.accepted()) << p.summary();
  EXPECT_TRUE(p.trackScripts);
  EXPECT_EQ(p.summary(), "applied: track_scripts");
  const auto q = plan(one, with(one, "[/bin/true]}", "[/bin/true], fall: 3}"));
  EXPECT_TRUE(q.trackScripts);
  EXPECT_FALSE(plan(one, one).trackScripts);
}

TEST(ReloadPlan, PerLeaseTrackingIsAppliedToThatLease) {
  const std::string base = kBase + "track_scripts: [{name: t, command: [/bin/true]}]\n";
  const std::string next = with(base, "  - name: db\n",
                                "  - name: db\n    track_scripts: [t]\n    track_files: [/run/db]\n"
                                "    track_interfaces: [eth0]\n");
  const auto p = plan(base, next);
  EXPECT_TRUE(p.accepted()) << p.summary();
  EXPECT_TRUE(p.leaseTracks);
  EXPECT_FALSE(p.trackScripts) << "the scripts themselves did not change";
  EXPECT_EQ(p.summary(), "applied: lease \"db\": tracking");
  const auto q =
      plan(next, with(next, "track_scripts: [t]", "track_scripts: [{name: t, weight: 4}]"));
  EXPECT_TRUE(q.leaseTracks) << q.summary();
  EXPECT_FALSE(plan(next, next).leaseTracks);
}

TEST(ReloadPlan, APerLeaseTrackInterfaceTheDirectorDoesNotWatchIsRefused) {
  expectRefusedOnly(
      plan(kBase, with(kBase, "  - name: db\n", "  - name: db\n    track_interfaces: [eth1]\n")),
      "the interfaces the director watches");
}

TEST(ReloadPlan, PerLeaseAnnouncementsAreApplied) {
  const auto p =
      plan(kBase, with(kBase, "  - name: db\n", "  - name: db\n    announce: {repeat: 2}\n"));
  EXPECT_TRUE(p.accepted()) << p.summary();
  EXPECT_TRUE(p.announce);
  EXPECT_FALSE(p.leaseTracks || p.hooks);
  EXPECT_EQ(p.summary(), "applied: lease \"db\": announce");
}

TEST(ReloadPlan, TopLevelHooksReachEveryLease) {
  const auto p = plan(kBase, kBase + "hooks: {notify_master: /bin/true}\n");
  EXPECT_TRUE(p.accepted()) << p.summary();
  EXPECT_TRUE(p.hooks);
  EXPECT_THAT(p.summary(), HasSubstr("lease \"web\": hooks"));
  EXPECT_THAT(p.summary(), HasSubstr("lease \"db\": hooks"));
}

TEST(ReloadPlan, OneInstancesHooksAreApplied) {
  const std::string next =
      with(kBase, "  - name: db\n", "  - name: db\n    hooks: {notify_backup: /bin/true}\n");
  const auto p = plan(kBase, next);
  EXPECT_TRUE(p.accepted()) << p.summary();
  EXPECT_TRUE(p.hooks);
  EXPECT_THAT(p.summary(), HasSubstr("lease \"db\": hooks"));
  EXPECT_THAT(p.summary(), ::testing::Not(HasSubstr("\"web\"")));
}

TEST(ReloadPlan, VirtualServersAreApplied) {
  const auto p = plan(kBase, with(kBase, "198.18.1.21}", "198.18.1.21, weight: 3}"));
  EXPECT_TRUE(p.accepted()) << p.summary();
  EXPECT_TRUE(p.virtualServers);
  EXPECT_EQ(p.summary(), "applied: virtual servers and health checks");
  const auto q = plan(kBase, kBase + "ipvs: {standby: warm}\n");
  EXPECT_TRUE(q.accepted()) << q.summary();
  EXPECT_TRUE(q.virtualServers);
}

TEST(ReloadPlan, AGroupsMembersAreAppliedLikeVirtualServers) {
  const std::string group = kBase + "virtual_server_groups: {front: [\"198.18.1.40-41:80\"]}\n";
  const std::string withGroup =
      with(group, "real_servers: [{address: 198.18.1.21}]}",
           "real_servers: [{address: 198.18.1.21}]}\n  - {name: front, instance: web, group: "
           "front, real_servers: [{address: 198.18.1.22}]}");
  // A member added or removed by the group alone, with virtual_servers unchanged.
  const std::string more = with(withGroup, "40-41:80", "40-42:80");
  const auto p = plan(withGroup, more);
  EXPECT_TRUE(p.accepted()) << p.summary();
  EXPECT_TRUE(p.virtualServers);
  EXPECT_EQ(p.summary(), "applied: virtual servers and health checks");
}

TEST(ReloadPlan, TheFirstOrLastVirtualServerNeedsARestart) {
  expectRefusedOnly(plan(kHead + kInstances, kBase), "started without virtual servers");
  expectRefusedOnly(plan(kBase, kHead + kInstances), "removing every virtual server");
}

// Every key that needs a restart, each shown refused on its own.
TEST(ReloadPlan, EachRestartKeyIsRefusedWithItsReason) {
  const std::pair<std::string, std::string> cases[] = {
      {with(kBase, "cluster: c", "cluster: d"), "cluster:"},
      {with(with(kBase, "node: a", "node: b"), "listen: 127.0.0.1:1", "listen: 127.0.0.1:2"),
       "node:"},
      {with(kBase, "0123456789abcdef", "fedcba9876543210"), "secret:"},
      {with(kBase, "listen: 127.0.0.1:1", "listen: 127.0.0.1:9"), "listen:"},
      {with(kBase, "state_dir: /tmp/unused", "state_dir: /tmp/other"), "state_dir:"},
      {with(kBase, "127.0.0.1:2\"}]", "127.0.0.1:4\"}]"), "directors:"},
      {with(kBase, "arbiter: {address: \"127.0.0.1:3\"}", "arbiter: {address: \"127.0.0.1:5\"}"),
       "arbiter:"},
      {kBase + "timers: {holder_lease_ms: 1400}\n", "timers:"},
      {kBase + "operator: {max_watchers: 5}\n", "operator:"},
      {kBase + "event_log: {enabled: false}\n", "event_log:"},
      {kBase + "fence: none\n", "fence:"},
      {kBase + "track_interfaces: [eth0]\n", "track_interfaces:"},
      {kBase + "preferred: a\n", "preferred/preempt_delay_ms changed"},
  };
  for (const auto& [next, reason] : cases) {
    SCOPED_TRACE(reason);
    expectRefusedOnly(plan(kBase, next), reason);
  }
}

TEST(ReloadPlan, ARefusedKeyRefusesTheWholeFileWithEveryReason) {
  const std::string next = with(kBase, "cluster: c", "cluster: d") +
                           "log_level: debug\ntimers: {holder_lease_ms: 1400}\n"
                           "hooks: {notify_master: /bin/true}\n";
  const auto p = plan(kBase, next);
  expectRefusedOnly(p, "cluster:");
  expectRefusedOnly(p, "timers:");
  EXPECT_EQ(p.refused.size(), 2u) << p.summary();
  EXPECT_FALSE(p.logLevel);
  EXPECT_FALSE(p.hooks);
}

TEST(ReloadPlan, VipChangesWithinAnInstanceAreTakenNamingTheVipAndTheLease) {
  const auto added = plan(kBase, with(kBase, "{address: 198.18.0.21/24, device: eth0}",
                                      "{address: 198.18.0.21/24, device: eth0}, "
                                      "{address: 198.18.0.22/24, device: eth0}"));
  EXPECT_TRUE(added.accepted()) << added.summary();
  EXPECT_THAT(added.summary(), HasSubstr("instance \"db\": VIP 198.18.0.22/24 dev eth0 added"));
  EXPECT_EQ(added.vipLeases, std::vector<std::size_t>{1}) << "db is the second lease";
  const auto removed = plan(kBase, with(kBase, ", {address: 198.18.0.21/24, device: eth0}", ""));
  EXPECT_TRUE(removed.accepted()) << removed.summary();
  EXPECT_THAT(removed.summary(), HasSubstr("instance \"db\": VIP 198.18.0.21/24 dev eth0 removed"));
  EXPECT_EQ(removed.vipLeases, std::vector<std::size_t>{1});
  const auto reordered = plan(kBase, with(kBase,
                                          "{address: 198.18.0.20/24, device: eth0}, "
                                          "{address: 198.18.0.21/24, device: eth0}",
                                          "{address: 198.18.0.21/24, device: eth0}, "
                                          "{address: 198.18.0.20/24, device: eth0}"));
  EXPECT_TRUE(reordered.accepted());
  EXPECT_THAT(reordered.summary(), HasSubstr("VIPs reordered"));
  EXPECT_TRUE(plan(kBase, kBase).vipLeases.empty());
}

// A VIP moved from one lease to another in one reload: between the two directors' reloads, the
// one with the new file answers for it as the new lease's holder while the other still answers
// as the old one's (the leases may be held by different directors). Refused; the two steps
// (removed, then added) are taken.
TEST(ReloadPlan, AVipMovedToAnotherLeaseInOneReloadIsRefused) {
  const std::string removed = with(kBase, ", {address: 198.18.0.21/24, device: eth0}", "");
  const std::string moved = with(removed, "vips: [{address: 198.18.0.10/24, device: eth0}]",
                                 "vips: [{address: 198.18.0.10/24, device: eth0}, "
                                 "{address: 198.18.0.21/24, device: eth0}]");
  expectRefusedOnly(plan(kBase, moved), "VIP 198.18.0.21 moves from lease \"db\" to lease \"web\"");
  const auto first = plan(kBase, removed);
  EXPECT_TRUE(first.accepted()) << first.summary();
  const auto second = plan(removed, moved);
  EXPECT_TRUE(second.accepted()) << second.summary();
  EXPECT_EQ(second.vipLeases, std::vector<std::size_t>{0});
}

TEST(ReloadPlan, VipChangesAlongsideARefusedKeyApplyNothing) {
  const std::string next = with(with(kBase, ", {address: 198.18.0.21/24, device: eth0}", ""),
                                "listen: 127.0.0.1:1", "listen: 127.0.0.1:9");
  const auto p = plan(kBase, next);
  expectRefusedOnly(p, "listen");
  EXPECT_TRUE(p.vipLeases.empty());
}

TEST(ReloadPlan, AVipOnADeviceTheDirectorDoesNotWatchIsRefused) {
  expectRefusedOnly(plan(kBase, with(kBase, "{address: 198.18.0.21/24, device: eth0}",
                                     "{address: 198.18.0.21/24, device: eth1}")),
                    "the interfaces the director watches");
}

TEST(ReloadPlan, VipChangesOnAUseVmacInstanceAreRefused) {
  const std::string vmac =
      with(kBase, "  - name: db\n", "  - name: db\n    vrrp: {vrid: 7, use_vmac: true}\n");
  expectRefusedOnly(plan(vmac, with(vmac, ", {address: 198.18.0.21/24, device: eth0}", "")),
                    "use_vmac");
}

const std::string kMail =
    "  - name: mail\n"
    "    vips: [{address: 198.18.0.30/24, device: eth0}]\n";

TEST(ReloadPlan, AnInstanceAddedOrRemovedAddsOrRemovesItsLease) {
  const std::string added = with(kBase, "virtual_servers:", kMail + "virtual_servers:");
  const auto p = plan(kBase, added);
  ASSERT_TRUE(p.accepted()) << p.summary();
  EXPECT_EQ(p.addedLeases, std::vector<std::size_t>{2}) << "mail is the third lease";
  EXPECT_TRUE(p.removedLeases.empty());
  EXPECT_TRUE(p.vipLeases.empty()) << "the other leases are left alone";
  EXPECT_THAT(p.summary(), HasSubstr("lease \"mail\" added (instances mail)"));
  EXPECT_FALSE(p.empty());
  const auto q = plan(added, kBase);
  ASSERT_TRUE(q.accepted()) << q.summary();
  EXPECT_EQ(q.removedLeases, std::vector<std::string>{"mail"});
  EXPECT_TRUE(q.addedLeases.empty());
  EXPECT_THAT(q.summary(), HasSubstr("lease \"mail\" removed (instances mail)"));
}

// Leases are found by name: one removed ahead of another moves the other's index, and the VIP
// changes of the other name it by its index in the new file.
TEST(ReloadPlan, ALeaseRemovedAheadOfAnotherLeavesItsVipChangesNamed) {
  const std::string three = kHead + "instances:\n" + kMail +
                            "  - name: db\n"
                            "    vips: [{address: 198.18.0.20/24, device: eth0}]\n";
  const std::string next = kHead +
                           "instances:\n"
                           "  - name: db\n"
                           "    vips: [{address: 198.18.0.20/24, device: eth0}, "
                           "{address: 198.18.0.21/24, device: eth0}]\n";
  const auto p = plan(three, next);
  ASSERT_TRUE(p.accepted()) << p.summary();
  EXPECT_EQ(p.removedLeases, std::vector<std::string>{"mail"});
  EXPECT_EQ(p.vipLeases, std::vector<std::size_t>{0}) << "db is the first lease of the new file";
}

TEST(ReloadPlan, ASyncGroupAddedOrRemovedWithItsInstancesIsTaken) {
  const std::string group = with(kBase, "virtual_servers:",
                                 kMail +
                                     "  - name: smtp\n"
                                     "    vips: [{address: 198.18.0.31/24, device: eth0}]\n"
                                     "sync_groups: [{name: post, instances: [mail, smtp]}]\n"
                                     "virtual_servers:");
  const auto p = plan(kBase, group);
  ASSERT_TRUE(p.accepted()) << p.summary();
  EXPECT_EQ(p.addedLeases, std::vector<std::size_t>{0}) << "sync groups come first";
  const auto q = plan(group, kBase);
  ASSERT_TRUE(q.accepted()) << q.summary();
  EXPECT_EQ(q.removedLeases, std::vector<std::string>{"post"});
}

TEST(ReloadPlan, LeasesRegroupedAreRefused) {
  const std::string grouped = kBase + "sync_groups: [{name: all, instances: [web, db]}]\n";
  const auto p = plan(kBase, grouped);
  expectRefusedOnly(p, "lease \"all\" added with instances that ran in another lease");
  expectRefusedOnly(p, "lease \"web\" removed while some of its instances stay");
  EXPECT_TRUE(p.addedLeases.empty());
  EXPECT_TRUE(p.removedLeases.empty());
  expectRefusedOnly(plan(grouped, kBase), "lease \"all\" removed while some of its instances");
  // Only the order changed: nothing to apply, and nothing this version takes as a change.
  const std::string swapped = kHead +
                              "instances:\n"
                              "  - name: db\n"
                              "    vips: [{address: 198.18.0.20/24, device: eth0}, "
                              "{address: 198.18.0.21/24, device: eth0}]\n"
                              "  - name: web\n"
                              "    vips: [{address: 198.18.0.10/24, device: eth0}]\n" +
                              kVirtualServers;
  expectRefusedOnly(plan(kBase, swapped), "instances: changed in a way this version cannot");
}

// An address goes out of one lease and into another in two reloads: in one, the fence would
// hold it in two groups, and the other director may take the file later.
TEST(ReloadPlan, ALeaseAddedOrRemovedWithAVipOfAnotherLeaseIsRefused) {
  const std::string renamed = with(kBase, "virtual_servers:",
                                   "  - name: mail2\n"
                                   "    vips: [{address: 198.18.0.30/24, device: eth0}]\n"
                                   "virtual_servers:");
  const std::string added = with(kBase, "virtual_servers:", kMail + "virtual_servers:");
  const auto p = plan(added, renamed);
  expectRefusedOnly(p, "in two reloads");
  expectRefusedOnly(p, "lease \"mail\" removed while its VIP 198.18.0.30 is in instance");
  expectRefusedOnly(p, "lease \"mail2\" added while its VIP 198.18.0.30 is in instance");
  // Out of db into a new lease.
  const std::string taken =
      with(with(kBase, ", {address: 198.18.0.21/24, device: eth0}", ""), "virtual_servers:",
           "  - name: mail\n"
           "    vips: [{address: 198.18.0.21/24, device: eth0}]\n"
           "virtual_servers:");
  expectRefusedOnly(plan(kBase, taken), "lease \"mail\" added while its VIP 198.18.0.21");
}

TEST(ReloadPlan, AUseVmacInstanceAddedOrRemovedIsRefused) {
  const std::string added = with(
      kBase, "virtual_servers:", kMail + "    vrrp: {vrid: 9, use_vmac: true}\nvirtual_servers:");
  expectRefusedOnly(plan(kBase, added), "instance \"mail\" added with use_vmac");
  expectRefusedOnly(plan(added, kBase), "instance \"mail\" removed with use_vmac");
}

TEST(ReloadPlan, TheFirstInstanceOrTheLastNeedsARestart) {
  const std::string none = kHead;
  const std::string one = kHead + "instances:\n" + kMail;
  expectRefusedOnly(plan(none, one), "started without any; restart it to add the first");
  expectRefusedOnly(plan(one, none), "removing every instance needs a restart");
}

// A key this planner does not know (a later version's) is refused, never silently ignored.
TEST(ReloadPlan, AnUnknownKeyThatChangedIsRefused) {
  const auto c = parseDirectorConfig(kBase, "/etc/quorate/a.yaml");
  const auto p = planReload(c, kBase, c, kBase + "future_key: 1\n");
  expectRefusedOnly(p, "future_key: this version does not know how to reload it");
}

// secret_file: the same text, other keys in the file it names.
TEST(ReloadPlan, NewKeysBehindTheSameTextAreRefused) {
  const auto c = parseDirectorConfig(kBase, "/etc/quorate/a.yaml");
  auto next = c;
  next.secrets = {"another key of 16+ chars"};
  expectRefusedOnly(planReload(c, kBase, next, kBase), "the file's contents changed");
}

TEST(ReloadPlan, TextsThatAreNotMappingsAreRefused) {
  const auto c = parseDirectorConfig(kBase, "/etc/quorate/a.yaml");
  expectRefusedOnly(planReload(c, kBase, c, "[a, list]"), "not a YAML mapping");
}

}  // namespace
}  // namespace quorate::server::reload
