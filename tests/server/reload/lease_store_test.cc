// What a reload that removes a lease and adds it back (issue 16's leases added or removed) relies
// on: a lease's durable state is found by its name, not by its position, and a lease that leaves
// the file leaves its state file behind, so the lease added again never reuses an epoch; the lease
// host starts an added lease from that state, quarantined, and forgets a removed one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/lease_host.h"
#include "tests/support/temp_dir.h"

namespace quorate::server {
namespace {

std::string configWith(const std::string& stateDir, const std::string& instances) {
  return "cluster: c\nnode: a\nsecret: 0123456789abcdef\nlisten: 127.0.0.1:1\nstate_dir: " +
         stateDir +
         "\ndirectors: [{id: a, address: \"127.0.0.1:1\"}, {id: b, address: \"127.0.0.1:2\"}]\n"
         "arbiter: {address: \"127.0.0.1:3\"}\ninstances:\n" +
         instances;
}

std::string instance(const std::string& name, const std::string& vip) {
  return "  - name: " + name + "\n    vips: [{address: " + vip + "/24, device: eth0}]\n";
}

TEST(ReloadLeaseStore, ALeaseRemovedThenAddedAtAnotherPositionFindsItsEpochFloor) {
  const testutil::TempDir dir("quorate-reload-store");
  const auto web = instance("web", "198.18.0.10");
  const auto db = instance("db", "198.18.0.20");
  const auto mail = instance("mail", "198.18.0.30");
  const DirectorConfig before = parseDirectorConfig(configWith(dir.path(), web + db), "a.yaml");
  ASSERT_EQ(before.leases.at(1).name, "db");
  lease::DurableState held;
  held.maxEpoch = 41;
  held.maxEpochOwner = 0;
  held.incarnation = 3;
  {
    FileLeaseStore store(before);
    ASSERT_TRUE(store.save(1, held));
  }
  // db removed: its file stays.
  const DirectorConfig without = parseDirectorConfig(configWith(dir.path(), web), "a.yaml");
  {
    FileLeaseStore store(without);
    EXPECT_EQ(store.load(0), lease::DurableState{});
  }
  EXPECT_TRUE(std::filesystem::exists(dir.file("acceptor@db.state")));
  // db added again, after a new lease: another index, the same floor; the new lease starts empty.
  const DirectorConfig after =
      parseDirectorConfig(configWith(dir.path(), web + mail + db), "a.yaml");
  ASSERT_EQ(after.leases.at(2).name, "db");
  FileLeaseStore store(after);
  EXPECT_EQ(store.load(2), held) << "a re-added lease could reuse an epoch";
  EXPECT_EQ(store.load(1), lease::DurableState{}) << "a new lease took another's state";
}

// Sends nothing: the host's own steps are what is looked at.
struct NoTransport : LeaseTransport {
  void send(std::size_t, const lease::Message&) override {}
  void probe(std::size_t, const lease::Message&) override {}
};

TEST(ReloadLeaseHost, ALeaseAddedStartsFromItsFloorQuarantinedAndARemovedOneIsForgotten) {
  const testutil::TempDir dir("quorate-reload-host");
  const auto web = instance("web", "198.18.0.10");
  const auto db = instance("db", "198.18.0.20");
  lease::DurableState held;
  held.maxEpoch = 41;
  held.maxEpochOwner = 0;
  held.incarnation = 3;
  {
    FileLeaseStore earlier(parseDirectorConfig(configWith(dir.path(), web + db), "a.yaml"));
    ASSERT_TRUE(earlier.save(1, held));  // db ran before, up to epoch 41
  }
  const DirectorConfig config = parseDirectorConfig(configWith(dir.path(), web), "a.yaml");
  const DirectorConfig withDb = parseDirectorConfig(configWith(dir.path(), web + db), "a.yaml");
  const LeaseConfig& dbLease = withDb.leases.at(1);
  FileLeaseStore store(config);
  NoTransport transport;
  const lease::Time now{std::chrono::seconds(100)};
  std::uint64_t seed = 1;
  LeaseHost host(
      config, [&] { return now; }, transport, store, nullptr, nullptr, [&] { return seed++; });
  ASSERT_EQ(host.liveLeases(), std::vector<std::size_t>{0});

  store.add(dbLease);
  ASSERT_TRUE(host.addLease(dbLease));
  ASSERT_EQ(host.leaseIndex("db"), std::optional<std::size_t>(1));
  EXPECT_EQ(host.node(1).durable().maxEpoch, 41u) << "the added lease could reuse an epoch";
  EXPECT_GT(host.node(1).durable().incarnation, 3u) << "this start is not recorded";
  EXPECT_EQ(host.node(1).role(), lease::Role::kQuarantine) << "it may campaign at once";
  EXPECT_EQ(host.snapshot().leases.size(), 2u);

  EXPECT_TRUE(host.retireLease(1));
  EXPECT_FALSE(host.leaseIndex("db").has_value()) << "a removed lease still answers";
  EXPECT_EQ(host.liveLeases(), std::vector<std::size_t>{0});
  EXPECT_EQ(host.snapshot().leases.size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(dir.file("acceptor@db.state")));

  // Added again: the next index, the same floor, and another start recorded.
  const auto incarnation = host.node(1).durable().incarnation;
  store.add(dbLease);
  ASSERT_TRUE(host.addLease(dbLease));
  ASSERT_EQ(host.leaseIndex("db"), std::optional<std::size_t>(2));
  EXPECT_EQ(host.node(2).durable().maxEpoch, 41u);
  EXPECT_GT(host.node(2).durable().incarnation, incarnation);
  EXPECT_EQ(host.liveLeases(), (std::vector<std::size_t>{0, 2}));
}

// A lease whose state file exists but cannot be read is not added, and the file is left as it
// is (an operator may restore it); the index is spent, so every part of the director keeps
// counting leases alike.
TEST(ReloadLeaseHost, ALeaseWhoseStateCannotBeReadIsNotAddedAndItsFileIsKept) {
  const testutil::TempDir dir("quorate-reload-host");
  const std::string garbage = "not a state file\n";
  {
    std::ofstream f(dir.file("acceptor@db.state"));
    f << garbage;
  }
  const DirectorConfig config =
      parseDirectorConfig(configWith(dir.path(), instance("web", "198.18.0.10")), "a.yaml");
  const DirectorConfig withDb = parseDirectorConfig(
      configWith(dir.path(), instance("web", "198.18.0.10") + instance("db", "198.18.0.20")),
      "a.yaml");
  FileLeaseStore store(config);
  NoTransport transport;
  const lease::Time now{std::chrono::seconds(100)};
  LeaseHost host(
      config, [&] { return now; }, transport, store, nullptr, nullptr,
      [seed = std::uint64_t{1}]() mutable { return seed++; });
  store.add(withDb.leases.at(1));
  const Status st = host.addLease(withDb.leases.at(1));
  EXPECT_FALSE(st);
  EXPECT_NE(st.message().find("acceptor@db.state"), std::string::npos) << st.message();
  EXPECT_FALSE(host.leaseIndex("db").has_value());
  EXPECT_EQ(host.leaseCount(), 2u);
  EXPECT_TRUE(host.retired(1));
  std::ifstream f(dir.file("acceptor@db.state"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), garbage) << "written over";
}

}  // namespace
}  // namespace quorate::server
