// The VM harness's own proof (label vm; runs inside the qemu VM, see docs/vm.md): Debian 12's
// kernel there has IPVS with every scheduler, ipvsadm programs it, and network namespaces, veth,
// the link kinds of the data plane and nftables (sets with timeouts, `meta time` intervals, the
// arp family) work. Addresses are in 198.18.0.0/15 only.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace {

struct Result {
  int rc = -1;
  std::string out;  // stdout and stderr
};

// `/bin/sh -c cmd` with stderr folded into stdout.
Result sh(const std::string& cmd) {
  Result r;
  FILE* p = ::popen(("(" + cmd + ") 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

bool has(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern));
}

const std::vector<std::string> kSchedulers = {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh",
                                              "sh", "sed", "nq", "fo",  "ovf",  "mh"};

// Each test runs in a fresh network namespace of its own (its IPVS table and nftables ruleset
// are that namespace's and vanish with it); commands started by the test run there too.
class IpvsVmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0) << "runs as root inside the test VM (tests/vm/run-in-vm.sh)";
    ASSERT_EQ(::access("/proc/net/ip_vs", F_OK), 0)
        << "this kernel has no IPVS: run the test in the VM, e.g. "
           "tests/vm/run-in-vm.sh -- build/bin/quorate_vm_ipvs_smoke_tests";
    original_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(original_, 0) << std::strerror(errno);
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "unshare: " << std::strerror(errno);
    // With lo down a new namespace has no local routing table, so the kernel calls every
    // address "not unicast" and IPVS refuses real servers ("Invalid operation").
    ok("ip link set lo up");
  }
  void TearDown() override {
    if (original_ >= 0) {
      EXPECT_EQ(::setns(original_, CLONE_NEWNET), 0) << std::strerror(errno);
      ::close(original_);
    }
    for (const auto& ns : named_) sh("ip netns del " + ns);
  }
  // Runs a command and expects it to succeed; returns what it printed.
  std::string ok(const std::string& cmd) {
    const Result r = sh(cmd);
    EXPECT_EQ(r.rc, 0) << cmd << ":\n" << r.out;
    return r.out;
  }
  // A named namespace (ip netns add), removed after the test.
  std::string addNamespace(const std::string& tag) {
    const std::string ns = "qvm-smoke-" + std::to_string(::getpid()) + "-" + tag;
    const Result r = sh("ip netns add " + ns);
    EXPECT_EQ(r.rc, 0) << r.out;
    named_.push_back(ns);
    return ns;
  }

  int original_ = -1;
  std::vector<std::string> named_;
};

TEST_F(IpvsVmTest, TheKernelHasIpvsInEveryNamespace) {
  const std::string proc = ok("cat /proc/net/ip_vs");
  EXPECT_TRUE(has(proc, "IP Virtual Server version")) << proc;
  EXPECT_TRUE(has(ok("ipvsadm -Ln"), "IP Virtual Server version"));
}

TEST_F(IpvsVmTest, AServiceWithADirectRoutedRealServerReadsBack) {
  ok("ipvsadm -A -t 198.18.0.1:80 -s rr");
  ok("ipvsadm -a -t 198.18.0.1:80 -r 198.18.0.2:80 -g -w 3");
  const std::string list = ok("ipvsadm -Ln");
  EXPECT_TRUE(has(list, R"(TCP\s+198\.18\.0\.1:80\s+rr)")) << list;
  EXPECT_TRUE(has(list, R"(->\s+198\.18\.0\.2:80\s+Route\s+3\s+0\s+0)")) << list;
  // The kernel's own view: addresses and ports in hex.
  const std::string proc = ok("cat /proc/net/ip_vs");
  EXPECT_TRUE(has(proc, R"(TCP\s+C6120001:0050\s+rr)")) << proc;
  EXPECT_TRUE(has(proc, R"(->\s+C6120002:0050\s+Route\s+3)")) << proc;

  ok("ipvsadm -d -t 198.18.0.1:80 -r 198.18.0.2:80");
  ok("ipvsadm -D -t 198.18.0.1:80");
  EXPECT_FALSE(has(ok("ipvsadm -Ln"), "198\\.18\\.0\\.1"));
}

TEST_F(IpvsVmTest, EverySchedulerIsAccepted) {
  for (std::size_t i = 0; i < kSchedulers.size(); ++i) {
    const std::string& s = kSchedulers[i];
    const std::string vip = "198.18.0." + std::to_string(10 + i) + ":80";
    const Result r = sh("ipvsadm -A -t " + vip + " -s " + s);
    EXPECT_EQ(r.rc, 0) << "scheduler " << s << " (module ip_vs_" << s << "):\n" << r.out;
  }
  const std::string list = ok("ipvsadm -Ln");
  for (std::size_t i = 0; i < kSchedulers.size(); ++i) {
    const std::string vip = "198\\.18\\.0\\." + std::to_string(10 + i) + ":80";
    EXPECT_TRUE(has(list, "TCP\\s+" + vip + "\\s+" + kSchedulers[i] + "\\b"))
        << kSchedulers[i] << " missing from:\n"
        << list;
  }
  ok("ipvsadm -C");
  EXPECT_FALSE(has(ok("ipvsadm -Ln"), "TCP"));
}

TEST_F(IpvsVmTest, TunnelMasqueradeAndUdpServicesAreAccepted) {
  ok("ipvsadm -A -t 198.18.0.1:443 -s wlc");
  ok("ipvsadm -a -t 198.18.0.1:443 -r 198.18.0.3:443 -i -w 1");
  ok("ipvsadm -a -t 198.18.0.1:443 -r 198.18.0.4:8443 -m -w 2");
  ok("ipvsadm -A -u 198.18.0.1:53 -s sh");
  ok("ipvsadm -a -u 198.18.0.1:53 -r 198.18.0.5:53 -g");
  const std::string list = ok("ipvsadm -Ln");
  EXPECT_TRUE(has(list, R"(->\s+198\.18\.0\.3:443\s+Tunnel\s+1)")) << list;
  EXPECT_TRUE(has(list, R"(->\s+198\.18\.0\.4:8443\s+Masq\s+2)")) << list;
  EXPECT_TRUE(has(list, R"(UDP\s+198\.18\.0\.1:53\s+sh)")) << list;
  ok("ipvsadm -C");
}

TEST_F(IpvsVmTest, NamedNamespacesAndVethCarryArp) {
  const std::string a = addNamespace("a");
  const std::string b = addNamespace("b");
  ok("ip -n " + a + " link set lo up");
  ok("ip -n " + a + " link add v0 type veth peer name v1 netns " + b);
  ok("ip -n " + a + " addr add 198.18.1.1/24 dev v0");
  ok("ip -n " + a + " link set v0 up");
  ok("ip -n " + b + " addr add 198.18.1.2/24 dev v1");
  ok("ip -n " + b + " link set v1 up");
  // One ARP request over the veth pair, answered by the other namespace's kernel.
  const std::string arp = ok("ip netns exec " + a + " arping -c 1 -w 5 -I v0 198.18.1.2");
  EXPECT_TRUE(has(arp, "198\\.18\\.1\\.2")) << arp;
  EXPECT_TRUE(has(ok("ip netns list"), a)) << "ip netns list does not show " << a;
}

TEST_F(IpvsVmTest, TheDataPlanesLinkKindsCanBeCreated) {
  ok("ip link add br0 type bridge");
  ok("ip link add d0 type dummy");
  ok("ip link add mv0 link d0 type macvlan mode bridge");
  ok("ip link add tun0 type ipip local 198.18.2.1 remote 198.18.2.2");
  const std::string links = ok("ip -br link");
  for (const char* name : {"br0", "d0", "mv0@d0", "tun0@NONE"}) {
    EXPECT_NE(links.find(name), std::string::npos) << name << " missing from:\n" << links;
  }
}

TEST_F(IpvsVmTest, NftablesHasWhatTheFenceUses) {
  // The fence's constructs: sets with timeouts, interval sets over `address . meta time`, the
  // arp family; plus conntrack state, which IPVS setups commonly match.
  const std::string file = "/tmp/qvm-smoke-" + std::to_string(::getpid()) + ".nft";
  std::ofstream(file) << R"(table inet qvm_smoke {
  set live4 { type ipv4_addr; flags timeout; }
  set until4 { typeof ip daddr . meta time; flags interval; }
  chain pre {
    type filter hook prerouting priority -300;
    ct state established,related accept
    ip daddr @live4 ip daddr . meta time != @until4 drop
  }
}
table arp qvm_smoke {
  set live4 { type ipv4_addr; flags timeout; }
  chain in {
    type filter hook input priority 0;
    arp daddr ip != @live4 drop
  }
}
)";
  ok("nft -f " + file);
  ::unlink(file.c_str());
  ok("nft add element inet qvm_smoke live4 '{ 198.18.0.1 timeout 30s }'");
  ok("nft add element arp qvm_smoke live4 '{ 198.18.0.1 timeout 30s }'");
  const std::string rules = ok("nft list ruleset");
  EXPECT_TRUE(has(rules, "table inet qvm_smoke")) << rules;
  EXPECT_TRUE(has(rules, "table arp qvm_smoke")) << rules;
  EXPECT_TRUE(has(rules, R"(198\.18\.0\.1 timeout 30s expires)")) << rules;
  EXPECT_TRUE(has(rules, "meta time")) << rules;
  ok("nft delete table inet qvm_smoke");
  ok("nft delete table arp qvm_smoke");
}

}  // namespace
