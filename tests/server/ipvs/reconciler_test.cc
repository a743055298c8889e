// Unit tests of the reconciler against an in-memory IPVS: idempotence, drift repair, failed ops
// retried, ownership on withdraw, foreign services left alone.
#include "server/ipvs/reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <vector>

#include "server/ipvs/pool.h"
#include "tests/server/ipvs/fake_ipvs.h"
#include "tests/server/ipvs/values.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using Kind = kipvs::Op::Kind;
using testing::FakeIpvs;
using ::testing::HasSubstr;

using testing::dest;
using testing::ip;
using testing::service;

std::vector<DesiredService> twoServices() {
  return {
      DesiredService{service("198.18.0.10"), {dest("10.0.0.1"), dest("10.0.0.2", 2)}},
      DesiredService{service("198.18.0.11"), {dest("10.0.1.1")}},
  };
}

class ReconcilerTest : public ::testing::Test {
 protected:
  Reconciler::Summary sync(const std::vector<DesiredService>& desired) {
    auto r = reconciler.sync(desired);
    EXPECT_TRUE(r.isOk()) << r.status().message();
    return r.isOk() ? r.value() : Reconciler::Summary{};
  }
  bool installed(const std::string& svc, const std::string& address) {
    return reconciler.installed(service(svc).key, ip(address), 80);
  }

  FakeIpvs kernel;
  Reconciler reconciler{kernel};
};

TEST_F(ReconcilerTest, FirstSyncInstallsEverything) {
  const auto s = sync(twoServices());
  EXPECT_EQ(s.planned, 5u);
  EXPECT_EQ(s.applied, 5u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(kernel.table.size(), 2u);
  EXPECT_EQ(kernel.destinationCount(), 3u);
  EXPECT_EQ(kernel.find(service("198.18.0.10").key, ip("10.0.0.2"), 80)->weight, 2);
  EXPECT_TRUE(installed("198.18.0.10", "10.0.0.1"));
  EXPECT_TRUE(installed("198.18.0.10", "10.0.0.2"));
  EXPECT_TRUE(installed("198.18.0.11", "10.0.1.1"));
  EXPECT_FALSE(installed("198.18.0.11", "10.0.0.1"));
  EXPECT_EQ(reconciler.owned(),
            (std::set<kipvs::ServiceKey>{service("198.18.0.10").key, service("198.18.0.11").key}));
  EXPECT_EQ(reconciler.counters().opsApplied, 5u);
}

TEST_F(ReconcilerTest, SecondSyncIsANoOp) {
  sync(twoServices());
  kernel.resetCounters();
  const auto s = sync(twoServices());
  EXPECT_EQ(s.planned, 0u);
  EXPECT_EQ(kernel.ops, 0);
  EXPECT_EQ(kernel.applies, 0);  // not even an empty batch
  EXPECT_EQ(kernel.dumps, 1);
  EXPECT_TRUE(installed("198.18.0.10", "10.0.0.2"));
}

TEST_F(ReconcilerTest, DriftIsRepaired) {
  sync(twoServices());
  // Someone deletes a destination and changes a weight behind our back.
  kernel.table[service("198.18.0.10").key].destinations.erase({ip("10.0.0.1"), 80});
  kernel.table[service("198.18.0.11").key].destinations[{ip("10.0.1.1"), 80}].weight = 100;
  kernel.resetCounters();
  const auto s = sync(twoServices());
  EXPECT_EQ(s.planned, 2u);
  EXPECT_EQ(s.applied, 2u);
  EXPECT_EQ(kernel.opsByKind[Kind::AddDestination], 1);
  EXPECT_EQ(kernel.opsByKind[Kind::EditDestination], 1);
  EXPECT_EQ(kernel.find(service("198.18.0.10").key, ip("10.0.0.1"), 80)->weight, 1);
  EXPECT_EQ(kernel.find(service("198.18.0.11").key, ip("10.0.1.1"), 80)->weight, 1);
  EXPECT_TRUE(installed("198.18.0.10", "10.0.0.1"));
}

TEST_F(ReconcilerTest, AServiceDeletedBehindOurBackComesBack) {
  sync(twoServices());
  kernel.table.erase(service("198.18.0.11").key);
  const auto s = sync(twoServices());
  EXPECT_EQ(s.planned, 2u);
  EXPECT_EQ(kernel.table.size(), 2u);
  EXPECT_TRUE(installed("198.18.0.11", "10.0.1.1"));
}

TEST_F(ReconcilerTest, AFailedOpLeavesItsDestinationNotInstalledAndIsRetried) {
  kernel.failOp(3, ENOMEM);  // add service .10, add 10.0.0.1, add 10.0.0.2 <- fails
  const auto s = sync(twoServices());
  EXPECT_EQ(s.planned, 5u);
  EXPECT_EQ(s.applied, 4u);
  EXPECT_EQ(s.failed, 1u);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_THAT(s.errors[0], HasSubstr("add 10.0.0.2:80 dr weight 2 to tcp 198.18.0.10:80"));
  EXPECT_THAT(s.errors[0], HasSubstr("Cannot allocate memory"));
  EXPECT_TRUE(installed("198.18.0.10", "10.0.0.1"));
  EXPECT_FALSE(installed("198.18.0.10", "10.0.0.2"));
  EXPECT_TRUE(installed("198.18.0.11", "10.0.1.1"));
  EXPECT_THAT(reconciler.lastError(service("198.18.0.10").key),
              ::testing::Optional(HasSubstr("10.0.0.2")));
  EXPECT_EQ(reconciler.lastError(service("198.18.0.11").key), std::nullopt);
  EXPECT_EQ(reconciler.counters().opsFailed, 1u);

  kernel.resetCounters();
  const auto retry = sync(twoServices());
  EXPECT_EQ(retry.planned, 1u);
  EXPECT_EQ(retry.applied, 1u);
  EXPECT_EQ(kernel.opsByKind[Kind::AddDestination], 1);
  EXPECT_TRUE(installed("198.18.0.10", "10.0.0.2"));
  EXPECT_EQ(reconciler.lastError(service("198.18.0.10").key), std::nullopt);
}

TEST_F(ReconcilerTest, AnErrorClearsOnceTheServiceIsClean) {
  sync(twoServices());
  auto desired = twoServices();
  desired[1].service.scheduler = "rr";
  kernel.failMatching = {{"edit service", EOPNOTSUPP}};
  EXPECT_EQ(sync(desired).failed, 1u);
  EXPECT_THAT(reconciler.lastError(desired[1].service.key),
              ::testing::Optional(HasSubstr("edit service tcp 198.18.0.11:80 rr")));
  EXPECT_TRUE(installed("198.18.0.11", "10.0.1.1"));  // the destination is fine
  // Someone fixes it by hand: the next sync has nothing to do and the error is gone.
  kernel.failMatching.reset();
  kernel.table[desired[1].service.key].service.scheduler = "rr";
  EXPECT_EQ(sync(desired).planned, 0u);
  EXPECT_EQ(reconciler.lastError(desired[1].service.key), std::nullopt);
}

TEST_F(ReconcilerTest, AFailedAddServiceInstallsNoneOfItsDestinations) {
  kernel.failOp(1, EINVAL);
  const auto s = sync(twoServices());
  EXPECT_EQ(s.failed, 3u);  // the service and then its two destinations (no such service)
  EXPECT_FALSE(installed("198.18.0.10", "10.0.0.1"));
  EXPECT_FALSE(installed("198.18.0.10", "10.0.0.2"));
  EXPECT_TRUE(installed("198.18.0.11", "10.0.1.1"));
  EXPECT_TRUE(reconciler.owned().count(service("198.18.0.10").key));
  sync(twoServices());
  EXPECT_TRUE(installed("198.18.0.10", "10.0.0.1"));
  EXPECT_TRUE(installed("198.18.0.10", "10.0.0.2"));
}

TEST_F(ReconcilerTest, AKernelFailureIsReturnedAndRetried) {
  kernel.failNextDump = EAGAIN;
  auto r = reconciler.sync(twoServices());
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().err(), EAGAIN);
  EXPECT_TRUE(kernel.table.empty());

  kernel.failNextApply = ENOBUFS;
  r = reconciler.sync(twoServices());
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().err(), ENOBUFS);
  EXPECT_FALSE(installed("198.18.0.10", "10.0.0.1"));
  EXPECT_EQ(reconciler.owned().size(), 2u);  // what may have gone in is ours to clean up
  EXPECT_EQ(reconciler.counters().kernelFailures, 2u);

  EXPECT_EQ(sync(twoServices()).applied, 5u);
  EXPECT_TRUE(installed("198.18.0.10", "10.0.0.1"));
}

TEST_F(ReconcilerTest, ForeignServicesAreNeverTouched) {
  kernel.put(service("203.0.113.1"), {dest("10.9.9.9")});
  kernel.put(service("198.18.0.10", 443), {});
  sync(twoServices());
  sync({twoServices()[0]});  // .11 is no longer desired: deleted, the foreign ones stay
  sync({});
  EXPECT_EQ(kernel.table.size(), 2u);
  EXPECT_TRUE(kernel.find(service("203.0.113.1").key, ip("10.9.9.9"), 80));
  EXPECT_TRUE(kernel.table.count(service("198.18.0.10", 443).key));
  for (const auto& line : kernel.journal) {
    EXPECT_THAT(line, ::testing::Not(HasSubstr("203.0.113.1")));
    EXPECT_THAT(line, ::testing::Not(HasSubstr(":443")));
  }
}

TEST_F(ReconcilerTest, AServiceNoLongerDesiredIsDeletedAndDisowned) {
  sync(twoServices());
  kernel.resetCounters();
  const auto s = sync({twoServices()[1]});
  EXPECT_EQ(s.planned, 1u);
  EXPECT_EQ(kernel.opsByKind[Kind::DeleteService], 1);
  EXPECT_FALSE(kernel.table.count(service("198.18.0.10").key));
  EXPECT_EQ(reconciler.owned(), (std::set<kipvs::ServiceKey>{service("198.18.0.11").key}));
  EXPECT_FALSE(installed("198.18.0.10", "10.0.0.1"));
}

TEST_F(ReconcilerTest, AFailedDeleteKeepsOwnershipSoTheNextSyncRetries) {
  sync(twoServices());
  kernel.failOp(1, EBUSY);
  const auto s = sync({twoServices()[1]});
  EXPECT_EQ(s.failed, 1u);
  EXPECT_TRUE(reconciler.owned().count(service("198.18.0.10").key));
  EXPECT_TRUE(reconciler.lastError(service("198.18.0.10").key));
  sync({twoServices()[1]});
  EXPECT_FALSE(kernel.table.count(service("198.18.0.10").key));
  EXPECT_FALSE(reconciler.owned().count(service("198.18.0.10").key));
  EXPECT_EQ(reconciler.lastError(service("198.18.0.10").key), std::nullopt);
}

TEST_F(ReconcilerTest, WithdrawDeletesOnlyOwnedServices) {
  kernel.put(service("203.0.113.1"), {dest("10.9.9.9")});
  sync(twoServices());
  kernel.resetCounters();
  const auto w = reconciler.withdraw();
  ASSERT_TRUE(w.isOk());
  EXPECT_EQ(w->planned, 2u);
  EXPECT_EQ(w->applied, 2u);
  EXPECT_EQ(kernel.opsByKind[Kind::DeleteService], 2);
  EXPECT_EQ(kernel.dumps, 0);
  EXPECT_EQ(kernel.table.size(), 1u);
  EXPECT_TRUE(kernel.table.count(service("203.0.113.1").key));
  EXPECT_TRUE(reconciler.owned().empty());
  EXPECT_FALSE(installed("198.18.0.10", "10.0.0.1"));

  kernel.resetCounters();
  EXPECT_EQ(reconciler.withdraw()->planned, 0u);  // nothing owned: nothing to do
  EXPECT_EQ(kernel.applies, 0);
}

TEST_F(ReconcilerTest, WithdrawToleratesServicesAlreadyGoneAndKeepsFailedOnes) {
  sync(twoServices());
  kernel.table.erase(service("198.18.0.10").key);  // gone already: fine
  kernel.failMatching = {{"198.18.0.11", EPERM}};
  auto w = reconciler.withdraw();
  ASSERT_TRUE(w.isOk());
  EXPECT_EQ(w->applied, 1u);
  EXPECT_EQ(w->failed, 1u);
  EXPECT_EQ(reconciler.owned(), (std::set<kipvs::ServiceKey>{service("198.18.0.11").key}));
  kernel.failMatching.reset();
  w = reconciler.withdraw();
  EXPECT_EQ(w->applied, 1u);
  EXPECT_TRUE(kernel.table.empty());
  EXPECT_TRUE(reconciler.owned().empty());
}

TEST_F(ReconcilerTest, PoolTransitionsFlowThroughToTheKernel) {
  VirtualServerConfig c;
  c.name = "web";
  c.service = service("198.18.0.10");
  c.realServers = {testing::realServer(dest("10.0.0.1"), true),
                   testing::realServer(dest("10.0.0.2"))};
  c.sorryServer = dest("10.0.0.99");
  Pool pool(c);
  sync({pool.desired()});
  EXPECT_EQ(kernel.destinationCount(), 2u);

  pool.setAlive(0, false);  // quiescent: stays with weight 0
  kernel.resetCounters();
  sync({pool.desired()});
  EXPECT_EQ(kernel.ops, 1);
  EXPECT_EQ(kernel.find(c.service.key, ip("10.0.0.1"), 80)->weight, 0);

  pool.setAlive(1, false);  // quorum lost: 10.0.0.2 out, sorry server in
  kernel.resetCounters();
  sync({pool.desired()});
  EXPECT_THAT(kernel.journal,
              ::testing::ElementsAre("delete 10.0.0.2:80 from tcp 198.18.0.10:80",
                                     "add 10.0.0.99:80 dr weight 1 to tcp 198.18.0.10:80"));
  EXPECT_TRUE(installed("198.18.0.10", "10.0.0.99"));
  EXPECT_FALSE(installed("198.18.0.10", "10.0.0.2"));
}

// update(): the same plan, against the reconciler's own record of the table, without a read.
TEST_F(ReconcilerTest, UpdatePlansAgainstItsRecordWithoutReading) {
  sync(twoServices());
  ASSERT_EQ(kernel.dumps, 1);
  auto changed = twoServices();
  changed[0].destinations[1].weight = 5;                           // edit
  changed[1].destinations.push_back(dest("10.0.1.2"));             // add
  changed[0].destinations.erase(changed[0].destinations.begin());  // delete
  kernel.resetCounters();
  auto r = reconciler.update(changed);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(kernel.dumps, 0);
  EXPECT_EQ(r->planned, 3u);
  EXPECT_EQ(kernel.ops, 3);
  // Its record followed: the same desired state again is no work, still without a read.
  kernel.resetCounters();
  r = reconciler.update(changed);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->planned, 0u);
  EXPECT_EQ(kernel.dumps, 0);
  // And the record agrees with a real read.
  kernel.resetCounters();
  EXPECT_EQ(sync(changed).planned, 0u);
  EXPECT_EQ(kernel.dumps, 1);
}

TEST_F(ReconcilerTest, UpdateReadsFirstWhenItHasNoRecordOrAfterAFailure) {
  auto r = reconciler.update(twoServices());
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(kernel.dumps, 1);  // nothing known yet
  auto changed = twoServices();
  changed[0].destinations[0].weight = 7;
  kernel.failOp(1, EINVAL);
  r = reconciler.update(changed);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->failed, 1u);
  // The failure made the record uncertain: the next update reads the kernel and retries.
  kernel.resetCounters();
  r = reconciler.update(changed);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(kernel.dumps, 1);
  EXPECT_EQ(r->applied, 1u);
  EXPECT_EQ(kernel.find(service("198.18.0.10").key, ip("10.0.0.1"), 80)->weight, 7);
}

// Drift behind its back is invisible to update() and repaired by the next sync().
TEST_F(ReconcilerTest, DriftIsLeftToTheNextSync) {
  sync(twoServices());
  kernel.table.erase(service("198.18.0.11").key);  // someone ran ipvsadm -D
  auto r = reconciler.update(twoServices());
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->planned, 0u);
  EXPECT_EQ(sync(twoServices()).applied, 2u);  // service and its destination are back
  EXPECT_NE(kernel.find(service("198.18.0.11").key, ip("10.0.1.1"), 80), nullptr);
}

// adopt(): a killed earlier run's services become ours, so they go unless desired.
TEST_F(ReconcilerTest, AdoptedLeftoversAreDeletedUnlessDesired) {
  kernel.put(service("198.18.0.10"), {dest("10.0.0.1")});
  kernel.put(service("198.18.0.11"), {dest("10.0.1.1")});
  kernel.put(service("198.18.0.12"), {dest("10.0.2.1")});  // not ours: never touched
  reconciler.adopt({service("198.18.0.10").key, service("198.18.0.11").key});
  sync({DesiredService{service("198.18.0.11"), {dest("10.0.1.1")}}});
  EXPECT_EQ(kernel.table.count(service("198.18.0.10").key), 0u);
  EXPECT_EQ(kernel.table.count(service("198.18.0.11").key), 1u);
  EXPECT_EQ(kernel.table.count(service("198.18.0.12").key), 1u);
}

// An update that adds, reorders or drops services plans only what changed.
TEST_F(ReconcilerTest, UpdateWithOtherServicesPlansOnlyTheDifference) {
  sync(twoServices());
  auto more = twoServices();
  more.push_back(DesiredService{service("198.18.0.12"), {dest("10.0.2.1")}});
  kernel.resetCounters();
  auto r = reconciler.update(more);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->planned, 2u);    // the new service and its destination
  std::swap(more[0], more[2]);  // the same services in another order: nothing to do
  r = reconciler.update(more);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->planned, 0u);
  more.erase(more.begin() + 1);  // one goes: one delete
  r = reconciler.update(more);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->planned, 1u);
  EXPECT_EQ(kernel.table.count(service("198.18.0.11").key), 0u);
  EXPECT_EQ(kernel.dumps, 0);
  EXPECT_EQ(sync(more).planned, 0u);  // and the kernel agrees
}

// A service whose deletion failed in withdraw() is deleted by the next update, too.
TEST_F(ReconcilerTest, AnUpdateAfterAFailedWithdrawRetriesTheDeletion) {
  sync(twoServices());
  kernel.failOp(1, EBUSY);
  auto w = reconciler.withdraw();
  ASSERT_TRUE(w.isOk());
  EXPECT_EQ(w->failed, 1u);
  EXPECT_EQ(kernel.table.size(), 1u);
  auto r = reconciler.update({});
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->applied, 1u);
  EXPECT_TRUE(kernel.table.empty());
  EXPECT_TRUE(reconciler.owned().empty());
}

}  // namespace
}  // namespace quorate::server::ipvs
