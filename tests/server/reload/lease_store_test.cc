// What a reload that removes a lease and adds it back (issue 16's leases added or removed) relies
// on: a lease's durable state is found by its name, not by its position, and a lease that leaves
// the file leaves its state file behind, so the lease added again never reuses an epoch.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

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

}  // namespace
}  // namespace quorate::server
