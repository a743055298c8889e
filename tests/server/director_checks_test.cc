// The director with health checks, in-process: real TCP checks against listeners on loopback
// decide which real servers the holder keeps in (fake, in-memory) IPVS, and Status shows each
// verdict with its reason. One director and the arbiter make the majority.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "server/daemon.h"
#include "tests/common/config_test_util.h"
#include "tests/server/fake_kernel.h"
#include "tests/server/in_process_arbiter.h"
#include "tests/support/ports.h"

namespace quorate::server {
namespace {

using namespace std::chrono_literals;

// A listening socket on 127.0.0.1 (port 0: any); closing it makes the port refuse.
class Listener {
 public:
  explicit Listener(int port = 0) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 128), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Listener() { close(); }
  int port() const { return port_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  int port_ = 0;
};

using testutil::waitFor;

class DirectorChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    const int ports[3] = {testutil::reservePort(), testutil::reservePort(),
                          testutil::reservePort()};
    auto addr = [&](int i) { return "127.0.0.1:" + std::to_string(ports[i]); };
    arbiter_ = std::make_unique<InProcessArbiter>(addr(2), dir_ + "/arbiter");
    ASSERT_TRUE(arbiter_->server);

    up_ = std::make_unique<Listener>();
    down_ = std::make_unique<Listener>();
    downPort_ = down_->port();
    down_->close();
    const std::string text = "cluster: t1\nnode: alpha\nsecret: " + kTestKey + "\nlisten: \"" +
                             addr(0) + "\"\nstate_dir: " + dir_ + "/alpha\noperator: {socket: " +
                             dir_ + "/alpha/director.sock}\n"
                             "directors: [{id: alpha, address: \"" +
                             addr(0) + "\"}, {id: beta, address: \"" + addr(1) +
                             "\"}]\n"
                             "arbiter: {address: \"" +
                             addr(2) +
                             "\"}\n"
                             "preferred: alpha\n"
                             "announce: {repeat: 1, interval_ms: 1}\n"
                             "instances: [{name: web, vips: [{address: 198.18.0.10/24, device: "
                             "eth0}]}]\n"
                             "virtual_servers:\n"
                             "  - name: http\n"
                             "    address: 198.18.0.10\n"
                             "    port: 80\n"
                             "    forwarding: nat\n"
                             "    checks: [{type: tcp, interval_ms: 50, timeout_ms: 1000, "
                             "retries: 0, warmup_ms: 10}]\n"
                             "    real_servers:\n"
                             "      - {address: 127.0.0.1, port: " +
                             std::to_string(up_->port()) +
                             "}\n"
                             "      - {address: 127.0.0.1, port: " +
                             std::to_string(downPort_) + "}\n";
    std::filesystem::create_directories(dir_ + "/alpha");
    director_ =
        std::make_unique<Daemon>(parseDirectorConfig(text, dir_ + "/alpha.yaml"), kernel_.ports());
    ASSERT_TRUE(director_->start().isOk());
    stub_ = v1::Director::NewStub(grpc::CreateChannel("unix:" + dir_ + "/alpha/director.sock",
                                                      grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    director_.reset();
    arbiter_.reset();
  }

  v1::StatusReply status() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    v1::StatusReply r;
    EXPECT_TRUE(stub_->Status(&ctx, {}, &r).ok());
    return r;
  }
  // The real server on `port` as Status shows it, or nullptr.
  static const v1::RealServerStatus* find(const v1::StatusReply& r, int port) {
    if (r.virtual_servers_size() != 1) return nullptr;
    for (const auto& rs : r.virtual_servers(0).real_servers()) {
      if (rs.endpoint() == "127.0.0.1:" + std::to_string(port)) return &rs;
    }
    return nullptr;
  }

  testutil::TempDir tmp_{"quorate-director-checks"};
  std::string dir_;
  testing::FakeKernel kernel_;
  std::unique_ptr<InProcessArbiter> arbiter_;
  std::unique_ptr<Listener> up_, down_;
  int downPort_ = 0;
  std::unique_ptr<Daemon> director_;
  std::unique_ptr<v1::Director::Stub> stub_;
};

TEST_F(DirectorChecksTest, TheHolderServesOnlyRealServersWhoseChecksPass) {
  v1::StatusReply r;
  ASSERT_TRUE(waitFor(
      [&] {
        r = status();
        const auto* dead = find(r, downPort_);
        const auto* live = find(r, up_->port());
        return r.virtual_servers_size() == 1 && r.virtual_servers(0).programmed() && dead &&
               !dead->alive() && live && live->installed();
      },
      10s))
      << r.DebugString();
  const auto* dead = find(r, downPort_);
  EXPECT_TRUE(dead->checked());
  EXPECT_EQ(dead->health(), "tcp check: connection refused");
  EXPECT_FALSE(dead->installed());
  const auto* live = find(r, up_->port());
  EXPECT_TRUE(live->alive());
  EXPECT_TRUE(live->checked());

  // The dead one listens again: back in the pool; the live one stops: out.
  Listener back(downPort_);
  up_->close();
  ASSERT_TRUE(waitFor(
      [&] {
        r = status();
        const auto* a = find(r, downPort_);
        const auto* b = find(r, up_->port());
        return a && a->alive() && a->installed() && b && !b->alive() && !b->installed();
      },
      10s))
      << r.DebugString();
  EXPECT_EQ(find(r, downPort_)->health(), "tcp check: connected");
}

}  // namespace
}  // namespace quorate::server
