// libquorate-client against a scripted Director on loopback: field mapping, tenure, step-down
// requests, watch and its cancellation, and errors (bad, dead and silent endpoints) as values.
// This binary also links the full quorate.proto (the fake), so it shows the library's hidden lite
// copy living beside another copy in one process.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <quorate/client.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "quorate/v1/quorate.grpc.pb.h"

namespace quorate::sdk {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// A reply whose every field has its own value, so a field read from the wrong place shows.
v1::StatusReply richStatus() {
  v1::StatusReply r;
  r.set_cluster("demo");
  r.set_node("alpha");
  r.set_version(9);
  r.set_healthy(false);
  r.add_health_problems("interface eth1 down");
  // The top-level fields repeat the first lease for old clients; give them other values so a
  // library reading them instead of the lease's own is caught.
  r.set_role("candidate");
  r.set_holder("gamma");
  r.set_epoch(77);
  r.set_lease_remaining_ms(5);
  auto* web = r.add_leases();
  web->set_name("web");
  web->set_role("holder");
  web->set_role_reason("renewed");
  web->set_holder("alpha");
  web->set_epoch(41);
  web->set_lease_remaining_ms(1200);
  web->set_preferred("alpha");
  web->add_instances("vi_web");
  web->add_vips("198.18.0.10/24 dev eth0");
  web->add_vips("198.18.0.11/24 dev eth0");
  web->set_vips_claimed(true);
  web->set_eligible(true);
  auto* db = r.add_leases();
  db->set_name("db");
  db->set_role("standby");
  db->set_role_reason("beta holds");
  db->set_holder("beta");
  db->set_epoch(12);
  db->set_lease_remaining_ms(1300);
  db->set_vips_claimed(false);
  db->set_eligible(false);
  auto* a = r.add_nodes();
  a->set_id("alpha");
  a->set_role("holder");
  a->set_reachable(true);
  a->set_last_seen_ms(0);
  a->set_address("198.18.0.1:7101");
  a->set_self(true);
  auto* arb = r.add_nodes();
  arb->set_id("arbiter");
  arb->set_role("arbiter");
  arb->set_reachable(false);
  arb->set_last_seen_ms(-1);
  arb->set_address("198.18.0.3:7100");
  return r;
}

// A Director that answers from a script and records what it was asked.
class ScriptedDirector final : public v1::Director::Service {
 public:
  enum class WatchEnd { kEnd, kHold, kBreak };

  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*,
                      v1::StatusReply* reply) override {
    std::chrono::milliseconds delay;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++statusCalls_;
      // Same process, same steady clock: the client sent its request before this instant.
      lastStatusAt_ = SteadyClock::now();
      *reply = status_;
      delay = statusDelay_;
    }
    std::this_thread::sleep_for(delay);  // the reply is built later than the request left
    std::lock_guard<std::mutex> lock(mu_);
    return statusError_;
  }

  grpc::Status WatchStatus(grpc::ServerContext* context, const v1::StatusRequest*,
                           grpc::ServerWriter<v1::StatusReply>* writer) override {
    std::vector<v1::StatusReply> updates;
    WatchEnd end;
    {
      std::lock_guard<std::mutex> lock(mu_);
      updates = updates_;
      end = watchEnd_;
    }
    for (const auto& u : updates) {
      if (!writer->Write(u)) return grpc::Status::OK;
    }
    if (end == WatchEnd::kBreak) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "director shutting down");
    }
    // A server-side wait for the client to go, not a synchronisation of the test.
    while (end == WatchEnd::kHold && !context->IsCancelled()) std::this_thread::sleep_for(5ms);
    return grpc::Status::OK;
  }

  grpc::Status StepDown(grpc::ServerContext*, const v1::StepDownRequest* request,
                        v1::StepDownReply* reply) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++stepDownCalls_;
    lastStepDown_ = *request;
    *reply = stepDownReply_;
    return stepDownError_;
  }

  void setStatus(v1::StatusReply r, grpc::Status error = grpc::Status::OK) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(r);
    statusError_ = std::move(error);
  }
  void setWatch(std::vector<v1::StatusReply> updates, WatchEnd end) {
    std::lock_guard<std::mutex> lock(mu_);
    updates_ = std::move(updates);
    watchEnd_ = end;
  }
  void setStepDown(v1::StepDownReply r, grpc::Status error = grpc::Status::OK) {
    std::lock_guard<std::mutex> lock(mu_);
    stepDownReply_ = std::move(r);
    stepDownError_ = std::move(error);
  }
  v1::StepDownRequest lastStepDown() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lastStepDown_;
  }
  int stepDownCalls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stepDownCalls_;
  }
  void setStatusDelay(std::chrono::milliseconds delay) {
    std::lock_guard<std::mutex> lock(mu_);
    statusDelay_ = delay;
  }
  SteadyClock::time_point lastStatusAt() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lastStatusAt_;
  }
  int statusCalls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return statusCalls_;
  }

 private:
  mutable std::mutex mu_;
  v1::StatusReply status_ = richStatus();
  grpc::Status statusError_ = grpc::Status::OK;
  std::chrono::milliseconds statusDelay_{0};
  SteadyClock::time_point lastStatusAt_;
  std::vector<v1::StatusReply> updates_;
  WatchEnd watchEnd_ = WatchEnd::kEnd;
  v1::StepDownReply stepDownReply_;
  grpc::Status stepDownError_ = grpc::Status::OK;
  v1::StepDownRequest lastStepDown_;
  int stepDownCalls_ = 0;
  int statusCalls_ = 0;
};

class SdkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&director_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_) << "no server";
    ASSERT_GT(port_, 0);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now() + 1s); }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  ScriptedDirector director_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// A loopback port nobody listens on: bound, then closed.
int closedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("bind");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A loopback listener that completes TCP handshakes (the kernel's backlog) and never says a
// word: a frozen director.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("listen");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(SdkTest, StatusCarriesEveryFieldOfTheReply) {
  Client client(endpoint());
  ASSERT_TRUE(client.valid().ok()) << client.valid().toString();
  const auto before = SteadyClock::now();
  Result<DirectorStatus> s = client.status();
  ASSERT_TRUE(s.ok()) << s.status().toString();
  EXPECT_EQ(s->cluster, "demo");
  EXPECT_EQ(s->node, "alpha");
  EXPECT_EQ(s->version, 9u);
  EXPECT_FALSE(s->healthy);
  EXPECT_EQ(s->healthProblems, std::vector<std::string>{"interface eth1 down"});
  EXPECT_GE(s->receivedAt, before);
  EXPECT_LE(s->receivedAt, SteadyClock::now());

  ASSERT_EQ(s->leases.size(), 2u);
  const LeaseStatus& web = s->leases[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.role, "holder");
  EXPECT_EQ(web.roleReason, "renewed");
  EXPECT_EQ(web.holder, "alpha");
  EXPECT_EQ(web.epoch, 41u);
  EXPECT_EQ(web.remainingMs, 1200);
  EXPECT_EQ(web.preferred, "alpha");
  EXPECT_EQ(web.instances, std::vector<std::string>{"vi_web"});
  EXPECT_EQ(web.vips,
            (std::vector<std::string>{"198.18.0.10/24 dev eth0", "198.18.0.11/24 dev eth0"}));
  EXPECT_TRUE(web.claimed);
  EXPECT_TRUE(web.eligible);
  const LeaseStatus& db = s->leases[1];
  EXPECT_EQ(db.name, "db");
  EXPECT_EQ(db.role, "standby");
  EXPECT_EQ(db.holder, "beta");
  EXPECT_EQ(db.epoch, 12u);
  EXPECT_EQ(db.remainingMs, 1300);
  EXPECT_FALSE(db.claimed);
  EXPECT_FALSE(db.eligible);
  EXPECT_EQ(s->lease("db"), &db);
  EXPECT_EQ(s->lease("nope"), nullptr);
  EXPECT_EQ(s->lease(""), nullptr) << "two leases: an empty name is ambiguous";

  ASSERT_EQ(s->nodes.size(), 2u);
  EXPECT_EQ(s->nodes[0].id, "alpha");
  EXPECT_EQ(s->nodes[0].role, "holder");
  EXPECT_TRUE(s->nodes[0].reachable);
  EXPECT_EQ(s->nodes[0].lastSeenMs, 0);
  EXPECT_EQ(s->nodes[0].address, "198.18.0.1:7101");
  EXPECT_TRUE(s->nodes[0].self);
  EXPECT_EQ(s->nodes[1].id, "arbiter");
  EXPECT_FALSE(s->nodes[1].reachable);
  EXPECT_EQ(s->nodes[1].lastSeenMs, -1);
  EXPECT_FALSE(s->nodes[1].self);
}

TEST_F(SdkTest, LocalTenureOnlyForALeaseThisDirectorHolds) {
  director_.setStatusDelay(50ms);
  Client client(endpoint());
  const auto before = SteadyClock::now();
  auto web = client.localTenure("web");
  const auto after = SteadyClock::now();
  ASSERT_TRUE(web.ok()) << web.status().toString();
  ASSERT_TRUE(web->has_value());
  const Tenure& t = **web;
  EXPECT_EQ(t.lease, "web");
  EXPECT_EQ(t.holder, "alpha");
  EXPECT_EQ(t.epoch, 41u);
  EXPECT_EQ(t.remaining, 1200ms);
  EXPECT_TRUE(t.claimed);
  // Counted from before the request left: never later than the director's own end, which is
  // at least the instant the director got the request plus what it reported remaining (the
  // reply is built 50 ms later still). Counting from the reply's arrival would overshoot.
  EXPECT_GE(t.validUntil, before + 1200ms);
  EXPECT_LE(t.validUntil, director_.lastStatusAt() + 1200ms);
  EXPECT_LE(t.validUntil, after + 1200ms);

  auto db = client.localTenure("db");
  ASSERT_TRUE(db.ok()) << db.status().toString();
  EXPECT_FALSE(db->has_value()) << "beta holds db";

  auto missing = client.localTenure("mail");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  auto ambiguous = client.localTenure("");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.status().code(), Code::kInvalidArgument);
}

TEST_F(SdkTest, LocalTenureNeedsTheHolderToBeThisDirectorAndTimeLeft) {
  v1::StatusReply r = richStatus();
  r.mutable_leases(0)->set_holder("beta");  // "holder" role, someone else's tenure: refused
  r.mutable_leases(1)->set_role("holder");  // holder of db, but with no time left
  r.mutable_leases(1)->set_holder("alpha");
  r.mutable_leases(1)->set_lease_remaining_ms(0);
  director_.setStatus(r);
  Client client(endpoint());
  for (const char* lease : {"web", "db"}) {
    auto t = client.localTenure(lease);
    ASSERT_TRUE(t.ok()) << lease << ": " << t.status().toString();
    EXPECT_FALSE(t->has_value()) << lease;
  }

  v1::StatusReply one;
  one.set_node("alpha");
  auto* only = one.add_leases();
  only->set_name("default");
  only->set_role("holder");
  only->set_holder("alpha");
  only->set_epoch(5);
  only->set_lease_remaining_ms(900);
  director_.setStatus(one);
  auto t = client.localTenure("");
  ASSERT_TRUE(t.ok()) << t.status().toString();
  ASSERT_TRUE(t->has_value()) << "one lease: an empty name means it";
  EXPECT_EQ((*t)->lease, "default");
  EXPECT_EQ((*t)->epoch, 5u);
}

// Review (issue 14): a reply no director can give (a tenure longer than the longest lease the
// config allows, or epoch 0, which no holder has) must not become a fencing token. remaining
// near INT64_MAX also overflowed validUntil (milliseconds to the clock's nanoseconds), which
// lands anywhere, the far future included.
TEST_F(SdkTest, LocalTenureRefusesARemainingOrEpochNoDirectorCanReport) {
  Client client(endpoint());
  auto reply = [](std::uint64_t epoch, std::int64_t remainingMs) {
    v1::StatusReply one;
    one.set_node("alpha");
    auto* only = one.add_leases();
    only->set_name("default");
    only->set_role("holder");
    only->set_holder("alpha");
    only->set_epoch(epoch);
    only->set_lease_remaining_ms(remainingMs);
    return one;
  };
  const std::int64_t wraps = 18'446'744'073'709 + 3'600'000;  // 2^64 ns in ms, plus an hour
  for (const std::int64_t remaining :
       {std::numeric_limits<std::int64_t>::max(), wraps, std::int64_t{86'400'001}}) {
    director_.setStatus(reply(5, remaining));
    const auto before = SteadyClock::now();
    auto t = client.localTenure("");
    EXPECT_FALSE(t.ok() && t->has_value())
        << remaining << " ms taken as a tenure until "
        << (t.ok() && t->has_value() ? ((*t)->validUntil - before).count() : 0) << " ns from now";
    if (!t.ok()) {
      EXPECT_EQ(t.status().code(), Code::kInternal);
    }
  }
  director_.setStatus(reply(0, 900));
  auto zero = client.localTenure("");
  EXPECT_FALSE(zero.ok() && zero->has_value()) << "epoch 0 is no fencing token";
  // The longest real lease is still a tenure.
  director_.setStatus(reply(5, 86'400'000));
  auto day = client.localTenure("");
  ASSERT_TRUE(day.ok()) << day.status().toString();
  EXPECT_TRUE(day->has_value());
}

TEST_F(SdkTest, DirectorErrorsBecomeCodes) {
  director_.setStatus(v1::StatusReply(),
                      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not you"));
  Client client(endpoint());
  auto s = client.status();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kPermissionDenied);
  EXPECT_NE(s.status().message().find("not you"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find(endpoint()), std::string::npos) << s.status().message();
  EXPECT_EQ(s.status().toString().rfind("PERMISSION_DENIED: ", 0), 0u);
  auto t = client.localTenure("web");
  ASSERT_FALSE(t.ok()) << "an unanswered question is not a 'no'";
  EXPECT_EQ(t.status().code(), Code::kPermissionDenied);
}

TEST_F(SdkTest, StepDownSendsLeaseForceAndHold) {
  v1::StepDownReply reply;
  reply.set_released_epoch(41);
  reply.set_handed_to("beta");
  reply.add_leases("web");
  reply.set_hold_remaining_ms(30000);
  director_.setStepDown(reply);
  Client client(endpoint());

  auto r = client.stepDown("web", /*force=*/true, /*holdMs=*/30000);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->releasedEpoch, 41u);
  EXPECT_EQ(r->handedTo, "beta");
  EXPECT_EQ(r->leases, std::vector<std::string>{"web"});
  EXPECT_EQ(r->holdRemainingMs, 30000);
  v1::StepDownRequest sent = director_.lastStepDown();
  EXPECT_EQ(sent.lease(), "web");
  EXPECT_TRUE(sent.force());
  EXPECT_EQ(sent.hold_ms(), 30000u);
  EXPECT_FALSE(sent.clear_hold());

  ASSERT_TRUE(client.stepDown("").ok());
  sent = director_.lastStepDown();
  EXPECT_EQ(sent.lease(), "");
  EXPECT_FALSE(sent.force());
  EXPECT_EQ(sent.hold_ms(), 0u);

  ASSERT_TRUE(client.clearHold("web").ok());
  sent = director_.lastStepDown();
  EXPECT_EQ(sent.lease(), "web");
  EXPECT_TRUE(sent.clear_hold());
  EXPECT_FALSE(sent.force());
  EXPECT_EQ(sent.hold_ms(), 0u);

  director_.setStepDown(v1::StepDownReply(),
                        grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "not the holder"));
  auto refused = client.stepDown("web");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
}

TEST_F(SdkTest, BadLeaseNamesAreRefusedBeforeAnythingIsSent) {
  Client client(endpoint());
  const int calls = director_.stepDownCalls();
  for (const std::string& bad : std::vector<std::string>{"we b", "a/b", std::string(65, 'x')}) {
    auto r = client.stepDown(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(client.clearHold(bad).status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(client.localTenure(bad).status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(director_.stepDownCalls(), calls);
}

TEST(SdkEndpoint, BadEndpointsAndTimeoutsAreErrorsNotExceptions) {
  for (const std::string bad : {"", "no-port", "host:0", "host:70000", "[::1", "::1:80", "a b:1"}) {
    Client client(bad);
    EXPECT_EQ(client.valid().code(), Code::kInvalidArgument) << bad;
    EXPECT_FALSE(client.valid().message().empty()) << bad;
    EXPECT_EQ(client.status().status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(client.localTenure("default").status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(client.stepDown("default").status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(client.watch([](const DirectorStatus&) { return true; }).code(),
              Code::kInvalidArgument)
        << bad;
  }
  Client zero("127.0.0.1:7101", [] {
    Options o;
    o.timeout = 0ms;
    return o;
  }());
  EXPECT_EQ(zero.valid().code(), Code::kInvalidArgument);
  Client v6("[::1]:7101");
  EXPECT_TRUE(v6.valid().ok()) << v6.valid().toString();
  EXPECT_EQ(v6.endpoint(), "[::1]:7101");
}

// Nothing listens: every call fails as a value, within its timeout.
TEST(SdkEndpoint, DeadDirectorIsAnErrorNotAHang) {
  Options options;
  options.timeout = 500ms;
  Client client("127.0.0.1:" + std::to_string(closedPort()), options);
  const auto start = SteadyClock::now();
  auto s = client.status();
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.status().code() == Code::kUnavailable ||
              s.status().code() == Code::kDeadlineExceeded)
      << s.status().toString();
  auto t = client.localTenure("default");
  ASSERT_FALSE(t.ok());
  EXPECT_FALSE(client.stepDown("default").ok());
  const Status w = client.watch([](const DirectorStatus&) { return true; });
  EXPECT_FALSE(w.ok());
  EXPECT_NE(w.code(), Code::kCancelled) << w.toString();
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  std::cout << "[  MEASURE ] four calls to a closed port: " << elapsed.count() << " ms"
            << std::endl;
  // A guard against a hang only (four calls of at most 500 ms each), with room for a loaded
  // machine; not a timing claim.
  EXPECT_LT(elapsed, 4 * options.timeout + 10s);
}

// Accepts the connection and never answers (a frozen director): the deadline ends each call.
TEST(SdkEndpoint, SilentDirectorEndsInDeadlineExceeded) {
  SilentListener silent;
  Options options;
  options.timeout = 300ms;
  Client client(silent.endpoint(), options);
  auto start = SteadyClock::now();
  auto s = client.status();
  const auto statusTook = SteadyClock::now() - start;
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kDeadlineExceeded) << s.status().toString();
  EXPECT_GE(statusTook, options.timeout) << "it waited for the director, not less";
  EXPECT_LT(statusTook, options.timeout + 10s) << "hang guard";

  start = SteadyClock::now();
  const Status w = client.watch([](const DirectorStatus&) { return true; });
  const auto watchTook = SteadyClock::now() - start;
  EXPECT_EQ(w.code(), Code::kDeadlineExceeded) << w.toString();
  EXPECT_LT(watchTook, options.timeout + 10s) << "hang guard";
  std::cout << "[  MEASURE ] silent director, timeout 300 ms: status "
            << std::chrono::duration_cast<std::chrono::milliseconds>(statusTook).count()
            << " ms, watch "
            << std::chrono::duration_cast<std::chrono::milliseconds>(watchTook).count() << " ms"
            << std::endl;
}

v1::StatusReply versioned(std::uint64_t version, const std::string& holder, std::uint64_t epoch) {
  v1::StatusReply r;
  r.set_node("beta");
  r.set_version(version);
  auto* l = r.add_leases();
  l->set_name("default");
  l->set_role(holder == "beta" ? "holder" : "standby");
  l->set_holder(holder);
  l->set_epoch(epoch);
  return r;
}

TEST_F(SdkTest, WatchDeliversUpdatesUntilTheCallbackStops) {
  director_.setWatch({versioned(1, "alpha", 3), versioned(2, "", 3), versioned(3, "beta", 4),
                      versioned(4, "beta", 4)},
                     ScriptedDirector::WatchEnd::kHold);
  Client client(endpoint());
  std::vector<DirectorStatus> seen;
  const Status s = client.watch([&](const DirectorStatus& st) {
    seen.push_back(st);
    return st.lease("default")->holder != "beta";
  });
  EXPECT_TRUE(s.ok()) << s.toString();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].leases[0].holder, "alpha");
  EXPECT_EQ(seen[0].leases[0].epoch, 3u);
  EXPECT_EQ(seen[2].version, 3u);
  EXPECT_EQ(seen[2].leases[0].role, "holder");
  EXPECT_EQ(seen[2].leases[0].epoch, 4u);
}

TEST_F(SdkTest, WatchEndsAsTheStreamDoes) {
  director_.setWatch({versioned(1, "alpha", 3)}, ScriptedDirector::WatchEnd::kBreak);
  Client client(endpoint());
  int updates = 0;
  Status s = client.watch([&](const DirectorStatus&) { return ++updates > 0; });
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.toString();
  EXPECT_EQ(updates, 1);

  director_.setWatch({versioned(1, "alpha", 3), versioned(2, "alpha", 3)},
                     ScriptedDirector::WatchEnd::kEnd);
  updates = 0;
  s = client.watch([&](const DirectorStatus&) { return ++updates > 0; });
  EXPECT_TRUE(s.ok()) << s.toString();
  EXPECT_EQ(updates, 2);
}

TEST_F(SdkTest, WatchIsCancelledFromAnotherThread) {
  director_.setWatch({versioned(1, "alpha", 3)}, ScriptedDirector::WatchEnd::kHold);
  Client client(endpoint());
  Cancellation cancel;
  std::atomic<int> updates{0};
  Status result;
  std::thread watcher([&] {
    result = client.watch(
        [&](const DirectorStatus&) {
          ++updates;
          return true;  // never stops by itself
        },
        cancel);
  });
  // Cancel only once the stream is open and delivering, so the cancel hits a live call.
  const auto deadline = SteadyClock::now() + 20s;
  while (updates.load() == 0 && SteadyClock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(updates.load(), 1);
  cancel.cancel();
  watcher.join();
  EXPECT_EQ(result.code(), Code::kCancelled) << result.toString();
  EXPECT_TRUE(cancel.cancelled());

  // Stays cancelled: a watch started with it ends at once, without an update.
  const Status again = client.watch(
      [&](const DirectorStatus&) {
        ++updates;
        return true;
      },
      cancel);
  EXPECT_EQ(again.code(), Code::kCancelled) << again.toString();
  EXPECT_EQ(updates.load(), 1);
}

TEST_F(SdkTest, OneCancellationEndsEveryWatchItServes) {
  director_.setWatch({versioned(1, "alpha", 3)}, ScriptedDirector::WatchEnd::kHold);
  Client client(endpoint());
  Cancellation cancel;
  std::atomic<int> updates{0};
  std::atomic<int> ended{0};
  Status results[2];
  std::vector<std::thread> watchers;
  for (Status& result : results) {
    watchers.emplace_back([&] {
      result = client.watch(
          [&](const DirectorStatus&) {
            ++updates;
            return true;
          },
          cancel);  // a copy: copies share the state
      ++ended;
    });
  }
  auto deadline = SteadyClock::now() + 20s;
  while (updates.load() < 2 && SteadyClock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(updates.load(), 2) << "both watches open";
  cancel.cancel();
  deadline = SteadyClock::now() + 10s;
  while (ended.load() < 2 && SteadyClock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(ended.load(), 2) << "a watch outlived its cancellation";
  // Ends whatever the cancellation left open, so a failure is reported instead of a hang.
  server_->Shutdown(std::chrono::system_clock::now());
  for (auto& w : watchers) w.join();
  for (const Status& result : results) {
    EXPECT_EQ(result.code(), Code::kCancelled) << result.toString();
  }
}

TEST_F(SdkTest, ACallbackThatThrowsEndsTheWatchWithAnError) {
  director_.setWatch({versioned(1, "alpha", 3)}, ScriptedDirector::WatchEnd::kHold);
  Client client(endpoint());
  const Status s =
      client.watch([](const DirectorStatus&) -> bool { throw std::runtime_error("boom"); });
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_NE(s.message().find("boom"), std::string::npos) << s.message();
}

TEST(SdkVersion, IsTheProjectVersion) { EXPECT_STREQ(version(), QUORATE_PROJECT_VERSION); }

}  // namespace
}  // namespace quorate::sdk
