// A virtual_server_group in the director, in-process: one real TCP check per real server
// (counted at the real server's listener) decides that real server in all three of the group's
// services in the (fake, in-memory) IPVS, and a reload that changes the members keeps it so. One
// director and the arbiter make the majority.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "server/daemon.h"
#include "server/reload/plan.h"
#include "tests/common/config_test_util.h"
#include "tests/server/fake_kernel.h"
#include "tests/server/in_process_arbiter.h"
#include "tests/support/ports.h"

namespace quorate::server {
namespace {

using namespace std::chrono_literals;
using testutil::waitFor;

// A non-blocking listener on 127.0.0.1 that counts the connections made to it (each probe of a
// TCP check is one).
class CountingListener {
 public:
  CountingListener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 128), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~CountingListener() { ::close(fd_); }
  int port() const { return port_; }
  // Connections accepted so far (those queued are accepted now).
  int connections() {
    for (int c; (c = ::accept(fd_, nullptr, nullptr)) >= 0;) {
      ::close(c);
      ++count_;
    }
    return count_;
  }

 private:
  int fd_;
  int port_ = 0;
  int count_ = 0;
};

// A port on 127.0.0.1 nothing listens on: a TCP check there is refused.
int refusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(DirectorGroup, EachRealServerIsCheckedOnceAndItsVerdictReachesEveryMember) {
  testutil::TempDir tmp{"quorate-director-group"};
  const std::string dir = tmp.path();
  const int ports[3] = {testutil::reservePort(), testutil::reservePort(), testutil::reservePort()};
  auto addr = [&](int i) { return "127.0.0.1:" + std::to_string(ports[i]); };
  InProcessArbiter arbiter(addr(2), dir + "/arbiter");
  ASSERT_TRUE(arbiter.server);
  CountingListener up;
  const int down = refusedPort();
  // An interval of an hour: each check probes once in this test, so the listener's count is the
  // number of checks of that real server.
  auto text = [&](const std::string& members) {
    return "cluster: t1\nnode: alpha\nsecret: " + kTestKey + "\nlisten: \"" + addr(0) +
           "\"\nstate_dir: " + dir + "/alpha\noperator: {socket: " + dir +
           "/alpha/director.sock}\n"
           "directors: [{id: alpha, address: \"" +
           addr(0) + "\"}, {id: beta, address: \"" + addr(1) + "\"}]\narbiter: {address: \"" +
           addr(2) +
           "\"}\npreferred: alpha\nannounce: {repeat: 1, interval_ms: 1}\n"
           "instances: [{name: web, vips: [{address: 198.18.0.10/24, device: eth0}, "
           "{address: 198.18.0.11/24, device: eth0}]}]\n"
           "virtual_server_groups:\n"
           "  front: [" +
           members +
           "]\n"
           "virtual_servers:\n"
           "  - name: web\n"
           "    group: front\n"
           "    forwarding: nat\n"
           "    checks: [{type: tcp, interval_ms: 3600000, timeout_ms: 1000, retries: 0, "
           "warmup_ms: 10}]\n"
           "    real_servers:\n"
           "      - {address: 127.0.0.1, port: " +
           std::to_string(up.port()) +
           "}\n      - {address: 127.0.0.1, port: " + std::to_string(down) + "}\n";
  };
  const std::string first = text("\"198.18.0.10-11:80\", \"fwmark:7\"");
  std::filesystem::create_directories(dir + "/alpha");
  testing::FakeKernel kernel;
  auto director =
      std::make_unique<Daemon>(parseDirectorConfig(first, dir + "/alpha.yaml"), kernel.ports());
  ASSERT_TRUE(director->start().isOk());
  auto stub = v1::Director::NewStub(grpc::CreateChannel("unix:" + dir + "/alpha/director.sock",
                                                        grpc::InsecureChannelCredentials()));
  auto status = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    v1::StatusReply r;
    EXPECT_TRUE(stub->Status(&ctx, {}, &r).ok());
    return r;
  };
  const std::string upEndpoint = "127.0.0.1:" + std::to_string(up.port());
  const std::string downEndpoint = "127.0.0.1:" + std::to_string(down);
  // Every member programmed, the live real server in, the refused one out.
  auto settled = [&](const v1::StatusReply& r) {
    if (r.virtual_servers_size() != 3) return false;
    for (const auto& vs : r.virtual_servers()) {
      if (vs.name() != "web" || !vs.programmed()) return false;
      for (const auto& rs : vs.real_servers()) {
        if (rs.endpoint() == upEndpoint && !(rs.alive() && rs.installed())) return false;
        if (rs.endpoint() == downEndpoint && (rs.alive() || rs.installed())) return false;
      }
    }
    return true;
  };
  v1::StatusReply r;
  ASSERT_TRUE(waitFor([&] { return settled(r = status()); }, 10s)) << r.DebugString();
  std::set<std::string> services;
  for (const auto& vs : r.virtual_servers()) services.insert(vs.service());
  EXPECT_EQ(services, (std::set<std::string>{"tcp 198.18.0.10:80 wlc", "tcp 198.18.0.11:80 wlc",
                                             "fwmark 7 ipv4 wlc"}));
  // A check probing once per member would have connected three times by now (they start
  // together, within warmup_ms); give them a moment more to be sure none is late.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(up.connections(), 1);
  r = status();
  EXPECT_TRUE(settled(r)) << r.DebugString();

  // A reload adds 198.18.0.12 and drops the mark (through the plan and the reconciler): the new
  // member has the group's verdicts, and no check starts again (the real servers' keys stay).
  const std::string next = text("\"198.18.0.10-12:80\"");
  const auto plan = reload::planReload(parseDirectorConfig(first, "x"), first,
                                       parseDirectorConfig(next, "x"), next);
  ASSERT_TRUE(plan.accepted()) << plan.summary();
  const auto result = director->applyReload(parseDirectorConfig(next, "x"), plan);
  EXPECT_TRUE(result.applied) << result.text;
  const std::set<std::string> three = {"tcp 198.18.0.10:80 wlc", "tcp 198.18.0.11:80 wlc",
                                       "tcp 198.18.0.12:80 wlc"};
  auto servicesOf = [](const v1::StatusReply& reply) {
    std::set<std::string> out;
    for (const auto& vs : reply.virtual_servers()) out.insert(vs.service());
    return out;
  };
  EXPECT_TRUE(waitFor(
      [&] {
        r = status();
        return servicesOf(r) == three && settled(r);
      },
      5s))
      << r.DebugString();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(up.connections(), 1) << "a reload that kept the real servers started a check again";
  director.reset();
}

}  // namespace
}  // namespace quorate::server
