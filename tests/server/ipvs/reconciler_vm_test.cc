// The reconciler against the real kernel, with real connections (in the VM: the host kernel
// has no IPVS). A director namespace forwards a VIP in DR mode to real servers in namespaces of
// their own; a reload that changes one real server is one op, and every other entry keeps its
// connections and its counters, where flushing and reloading (ipvsadm -C, -R) zeroes them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "netns/topology.h"
#include "server/ipvs/reconciler.h"
#include "server/kernel/ipvs.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using netns::Ms;
using netns::Topology;

net::IpAddress ip(const std::string& s) { return *net::IpAddress::parse(s); }

const std::string kVip = "198.18.0.10";

kipvs::Destination rs(const std::string& address, int weight = 1) {
  kipvs::Destination d;
  d.address = ip(address);
  d.port = 80;
  d.forward = kipvs::Forward::Direct;
  d.weight = weight;
  return d;
}

DesiredService web(std::vector<kipvs::Destination> dests) {
  DesiredService s;
  s.service.key = kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip(kVip), 80);
  s.service.scheduler = "rr";
  s.destinations = std::move(dests);
  return s;
}

// A line-echo server on port 80 of a real server's namespace: answers "<name>: <line>".
class EchoServer {
 public:
  EchoServer(const Topology& topo, const std::string& host) : name_(host) {
    listener_ = topo.inHost(host, [] {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in any{};
      any.sin_family = AF_INET;
      any.sin_port = htons(80);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 || ::listen(fd, 64) != 0) {
        ::close(fd);
        return -1;
      }
      return fd;
    });
    if (listener_ >= 0) thread_ = std::thread([this] { run(); });
  }
  ~EchoServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (int fd : clients_) ::close(fd);
    if (listener_ >= 0) ::close(listener_);
  }
  bool ok() const { return listener_ >= 0; }

 private:
  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (int c : clients_) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) clients_.push_back(c);
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[256];
        ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        if (n <= 0) {
          ::close(fds[i].fd);
          std::erase(clients_, fds[i].fd);
          continue;
        }
        std::string reply = name_ + ": " + std::string(buf, static_cast<std::size_t>(n));
        (void)::send(fds[i].fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
    }
  }

  std::string name_;
  int listener_ = -1;
  std::vector<int> clients_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One request on an open connection: the real server that answered, or "" on failure.
std::string ask(int fd, const std::string& line) {
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    return "";
  }
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 3000) != 1) return "";
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) return "";
  std::string reply(buf, static_cast<std::size_t>(n));
  auto colon = reply.find(':');
  return colon == std::string::npos ? "" : reply.substr(0, colon);
}

class ReconcilerKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    netns::TopologyOptions o;
    o.hosts = {{"director", "198.18.0.1", ""},
               {"rs1", "198.18.0.11", ""},
               {"rs2", "198.18.0.12", ""},
               {"rs3", "198.18.0.13", ""},
               {"client", "198.18.0.100", ""}};
    topo_ = std::make_unique<Topology>(o);
    topo_->check("director", "ip addr add " + kVip + "/24 dev eth0");
    for (const char* r : {"rs1", "rs2", "rs3"}) {
      // The usual DR real server: the VIP on lo, never answered for on the wire.
      topo_->check(r, "ip addr add " + kVip +
                          "/32 dev lo && sysctl -qw net.ipv4.conf.all.arp_ignore=1 "
                          "net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 "
                          "net.ipv4.conf.eth0.arp_announce=2");
      servers_.push_back(std::make_unique<EchoServer>(*topo_, r));
      ASSERT_TRUE(servers_.back()->ok()) << r;
    }
    // The IPVS socket opens in the director's namespace and stays there.
    ipvs_ = topo_->inHost("director", [] {
      auto p = kipvs::makeNetlinkIpvs();
      auto info = p->info();
      return info.isOk() ? std::move(p) : nullptr;
    });
    ASSERT_NE(ipvs_, nullptr) << "no IPVS in the director namespace";
    reconciler_ = std::make_unique<Reconciler>(*ipvs_);
  }
  void TearDown() override {
    for (int fd : connections_) ::close(fd);
    servers_.clear();
    reconciler_.reset();
    ipvs_.reset();
    topo_.reset();
  }

  int connect() {
    return topo_->inHost("client", [] {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in vip{};
      vip.sin_family = AF_INET;
      vip.sin_port = htons(80);
      inet_pton(AF_INET, kVip.c_str(), &vip.sin_addr);
      timeval tv{3, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&vip), sizeof vip) != 0) {
        ::close(fd);
        return -1;
      }
      return fd;
    });
  }

  // Opens n connections through the VIP; returns which real server each reached.
  std::vector<std::string> open(int n) {
    std::vector<std::string> who;
    for (int i = 0; i < n; ++i) {
      int fd = connect();
      EXPECT_GE(fd, 0);
      connections_.push_back(fd);
      who.push_back(fd >= 0 ? ask(fd, "hello\n") : "");
    }
    return who;
  }

  // The kernel's counters for each real server, once its estimator has folded them in.
  std::map<std::string, std::uint64_t> connectionCounters() {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    std::map<std::string, std::uint64_t> out;
    auto table = ipvs_->dump();
    EXPECT_TRUE(table.isOk());
    if (!table.isOk() || table->empty()) return out;
    for (const auto& d : table->front().destinations) {
      out[d.dest.address.toString()] = d.stats.connections;
    }
    return out;
  }

  std::unique_ptr<Topology> topo_;
  std::vector<std::unique_ptr<EchoServer>> servers_;
  std::unique_ptr<kipvs::Ipvs> ipvs_;
  std::unique_ptr<Reconciler> reconciler_;
  std::vector<int> connections_;
};

TEST_F(ReconcilerKernel, AReloadChangingOneRealServerLeavesEveryOtherEntryAndItsConnections) {
  auto first = reconciler_->sync({web({rs("198.18.0.11"), rs("198.18.0.12")})});
  ASSERT_TRUE(first.isOk()) << first.status().message();
  ASSERT_EQ(first->failed, 0u);
  const std::vector<std::string> who = open(6);
  int toRs1 = 0;
  for (const auto& w : who) {
    ASSERT_TRUE(w == "rs1" || w == "rs2") << "a connection through the VIP failed";
    toRs1 += w == "rs1";
  }
  EXPECT_EQ(toRs1, 3) << "rr spreads over both";
  const auto before = connectionCounters();
  ASSERT_EQ(before.at("198.18.0.11"), 3u);

  // Reload 1: rs2's weight changes. One op; nothing else moves.
  auto r = reconciler_->update({web({rs("198.18.0.11"), rs("198.18.0.12", 3)})});
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->planned, 1u);
  EXPECT_EQ(r->failed, 0u);
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    EXPECT_EQ(ask(connections_[i], "after weight change\n"), who[i]) << "connection " << i;
  }
  // Reload 2: rs3 joins. One op.
  r = reconciler_->update({web({rs("198.18.0.11"), rs("198.18.0.12", 3), rs("198.18.0.13")})});
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->planned, 1u);
  // Reload 3: rs2 leaves. One op; rs1's connections go on.
  r = reconciler_->update({web({rs("198.18.0.11"), rs("198.18.0.13")})});
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->planned, 1u);
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    if (who[i] == "rs1") {
      EXPECT_EQ(ask(connections_[i], "after removal\n"), "rs1") << i;
    }
  }
  // rs1's entry was never touched: its counters go on from where they were.
  const auto after = connectionCounters();
  EXPECT_EQ(after.at("198.18.0.11"), before.at("198.18.0.11"));
  // And the kernel agrees with the reconciler's record.
  auto check = reconciler_->sync({web({rs("198.18.0.11"), rs("198.18.0.13")})});
  ASSERT_TRUE(check.isOk());
  EXPECT_EQ(check->planned, 0u);

  // The contrast: flush and reload the same table with ipvsadm zeroes rs1's counters.
  topo_->check("director",
               "ipvsadm -C && printf '%s\\n' '-A -t 198.18.0.10:80 -s rr' "
               "'-a -t 198.18.0.10:80 -r 198.18.0.11:80 -g -w 1' "
               "'-a -t 198.18.0.10:80 -r 198.18.0.13:80 -g -w 1' | ipvsadm -R");
  const auto flushed = connectionCounters();
  EXPECT_EQ(flushed.at("198.18.0.11"), 0u) << "a flush-and-reload starts the entry afresh";
}

}  // namespace
}  // namespace quorate::server::ipvs
