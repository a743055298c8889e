// /metrics of the real daemons on loopback: the holder and the follower say who holds, the
// epochs agree with quoratectl status and the arbiter, every live scrape passes promtool check
// metrics (and a broken one does not), nothing listens unless configured, and a taken port is a
// start error naming the address.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

// GET /metrics from 127.0.0.1:port; the body of a 200, else nullopt.
std::optional<std::string> scrape(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd >= 0) ::close(fd);
    return std::nullopt;
  }
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string out;
  if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
    char buf[8192];
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 5000) > 0) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const auto body = out.find("\r\n\r\n");
  if (out.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) return std::nullopt;
  return out.substr(body + 4);
}

// The value of the sample whose name and labels are exactly `series`, e.g.
// quorate_lease_epoch{cluster="c",lease="default"}.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

std::string promtool() {
  for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

// promtool check metrics on `text`: its exit code and what it said.
RunResult promtoolCheck(const std::string& text, const std::string& dir) {
  const std::string path = dir + "/scrape.txt";
  writeFile(path, text);
  return runProgram({"/bin/sh", "-c", promtool() + " check metrics < " + path}, 10000ms);
}

std::string withMetrics(const std::string& config, int port) {
  return config + "metrics:\n  listen: \"127.0.0.1:" + std::to_string(port) + "\"\n";
}

// The TCP ports the process started with `configPath` listens on (its own sockets, found by
// inode in /proc/net/tcp and tcp6).
std::set<int> listeningPorts(const std::string& configPath) {
  std::set<std::string> inodes;
  DIR* proc = ::opendir("/proc");
  while (proc) {
    const dirent* e = ::readdir(proc);
    if (!e) break;
    const std::string pid = e->d_name;
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmd("/proc/" + pid + "/cmdline");
    std::string args((std::istreambuf_iterator<char>(cmd)), {});
    if (args.find(configPath) == std::string::npos || args.find("quorate-") == std::string::npos) {
      continue;
    }
    const std::string fdDir = "/proc/" + pid + "/fd";
    DIR* fds = ::opendir(fdDir.c_str());
    while (fds) {
      const dirent* f = ::readdir(fds);
      if (!f) break;
      char target[256];
      const ssize_t n = ::readlink((fdDir + "/" + f->d_name).c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      const std::string t(target, static_cast<std::size_t>(n));
      if (t.rfind("socket:[", 0) == 0) inodes.insert(t.substr(8, t.size() - 9));
    }
    if (fds) ::closedir(fds);
  }
  if (proc) ::closedir(proc);
  std::set<int> ports;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state, queues, timer, retr, uid, timeout, inode;
      f >> slot >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
      if (state != "0A" || !inodes.count(inode)) continue;  // 0A: LISTEN
      ports.insert(std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16));
    }
  }
  return ports;
}

std::string lbl(const std::string& cluster, const std::string& lease) {
  return "{cluster=\"" + cluster + "\",lease=\"" + lease + "\"}";
}

#ifdef QUORATECTL

TEST(MetricsProcess, HolderFollowerAndArbiterScrapesAgreeWithStatusAndPassPromtool) {
  const int alphaPort = testutil::reservePort(), betaPort = testutil::reservePort(),
            arbiterPort = testutil::reservePort();
  ClusterOptions o;
  o.editing(kAlpha, [&](const std::string& c) { return withMetrics(c, alphaPort); });
  o.editing(kBeta, [&](const std::string& c) { return withMetrics(c, betaPort); });
  o.editArbiterConfig = [&](const std::string& c) { return withMetrics(c, arbiterPort); };
  Cluster c("metrics", o);
  c.startAll();
  const auto h = c.waitForSettled(c.timers().startupBound() + 5s);
  ASSERT_TRUE(h);
  const std::string follower = otherDirector(h->holder);
  const std::map<std::string, int> port{{kAlpha, alphaPort}, {kBeta, betaPort}};
  const std::string& cl = c.clusterId();
  const std::string lease = lbl(cl, "default");

  // Renewals, elections and contacts have happened by now; the lease has not moved (settled).
  std::map<std::string, std::string> text;
  for (const auto& d : {kAlpha, kBeta}) {
    auto s = scrape(port.at(d));
    ASSERT_TRUE(s) << d;
    text[d] = *s;
    SCOPED_TRACE(d + ":\n" + *s);
    const std::string own = "{cluster=\"" + cl + "\",lease=\"default\",node=\"" + d + "\"}";
    EXPECT_EQ(sample(*s, "quorate_lease_holder" + own), d == h->holder ? 1 : 0);
    EXPECT_EQ(sample(*s, "quorate_lease_role" + own), d == h->holder ? 2 : 0);
    // The epoch quoratectl shows is the one the scrape shows.
    const RunResult st =
        runProgram({QUORATECTL, "--endpoint", c.operatorEndpoint(d), "status", "--json"}, 5000ms);
    ASSERT_EQ(st.exitCode, 0) << st.err;
    const auto epoch = nlohmann::json::parse(st.out).at("epoch").get<std::uint64_t>();
    EXPECT_EQ(epoch, h->epoch);
    EXPECT_EQ(sample(*s, "quorate_lease_epoch" + lease), static_cast<double>(epoch));
    EXPECT_EQ(sample(*s, "quorate_quorum{cluster=\"" + cl + "\",node=\"" + d + "\"}"), 1);
    for (const auto& peer : {otherDirector(d), kArbiter}) {
      EXPECT_EQ(sample(*s, "quorate_peer_up{cluster=\"" + cl + "\",node=\"" + d + "\",peer=\"" +
                               peer + "\"}"),
                1)
          << peer;
    }
    EXPECT_NE(s->find("quorate_build_info{version=\""), std::string::npos);
  }
  const std::string& held = text[h->holder];
  EXPECT_GT(*sample(held, "quorate_lease_remaining_seconds" + lease), 0);
  EXPECT_GE(*sample(held, "quorate_lease_acquired_total" + lease), 1);
  EXPECT_GE(*sample(held, "quorate_elections_total{cluster=\"" + cl +
                              "\",lease=\"default\",outcome=\"won\"}"),
            1);
  // Renewals every 500 ms since the settle: each timed into the histogram.
  EXPECT_GE(*sample(held, "quorate_lease_renewal_duration_seconds_count" + lease), 2) << held;
  EXPECT_EQ(*sample(text[follower], "quorate_lease_renewal_duration_seconds_count" + lease), 0);

  // The arbiter may still hold a stray grant from the start, when both directors campaigned at
  // once: a lease no majority made, at a lower epoch, which its acceptor keeps until it lapses
  // (the directors' two acceptors made the holder's). Its metrics then say so, truthfully; wait
  // for that lease to lapse and the holder's renewals to reach it.
  const std::string arbiterHolds = "quorate_arbiter_lease_holder{cluster=\"" + cl +
                                   "\",lease=\"default\",node=\"" + h->holder + "\"}";
  std::optional<std::string> a;
  for (const auto until = std::chrono::steady_clock::now() + c.timers().startupBound() + 5s;;) {
    a = scrape(arbiterPort);
    ASSERT_TRUE(a);
    if (sample(*a, arbiterHolds) == 1 || std::chrono::steady_clock::now() > until) break;
    std::this_thread::sleep_for(200ms);
  }
  SCOPED_TRACE("arbiter:\n" + *a);
  EXPECT_EQ(sample(*a, "quorate_arbiter_lease_epoch" + lease), static_cast<double>(h->epoch));
  EXPECT_EQ(sample(*a, "quorate_arbiter_lease_holder{cluster=\"" + cl +
                           "\",lease=\"default\",node=\"" + h->holder + "\"}"),
            1);
  EXPECT_GT(*sample(*a, "quorate_arbiter_lease_remaining_seconds" + lease), 0);
  EXPECT_GT(*sample(*a, "quorate_arbiter_requests_total{cluster=\"" + cl + "\",outcome=\"ok\"}"),
            0);
  EXPECT_GT(*sample(*a, "quorate_arbiter_request_duration_seconds_count{cluster=\"" + cl + "\"}"),
            0);
  for (const auto& d : {kAlpha, kBeta}) {
    const auto since = sample(
        *a, "quorate_arbiter_last_contact_seconds{cluster=\"" + cl + "\",node=\"" + d + "\"}");
    ASSERT_TRUE(since) << d;
    EXPECT_LT(*since, 5) << d;  // pinged every two renewal intervals at least
  }

  if (promtool().empty()) GTEST_SKIP() << "promtool (Debian package prometheus) is not installed";
  const std::string dir = c.stateDir(kArbiter);
  for (const auto& [who, body] :
       {std::pair{kAlpha, text[kAlpha]}, std::pair{kBeta, text[kBeta]}, std::pair{kArbiter, *a}}) {
    const RunResult r = promtoolCheck(body, dir);
    EXPECT_EQ(r.exitCode, 0) << who << ": " << r.out << r.err;
  }
  // The check is real: the same scrape with a second TYPE line, or a bad metric name, fails.
  const RunResult dup =
      promtoolCheck(held + "# TYPE quorate_lease_epoch gauge\nquorate_lease_epoch 1\n", dir);
  EXPECT_NE(dup.exitCode, 0) << dup.out << dup.err;
  const RunResult bad = promtoolCheck(held + "quorate-bad-name 1\n", dir);
  EXPECT_NE(bad.exitCode, 0) << bad.out << bad.err;

  // The endpoints are where the daemons listen, besides their peer ports.
  EXPECT_TRUE(listeningPorts(c.configPath(kAlpha)).count(alphaPort));
  EXPECT_TRUE(listeningPorts(c.configPath(kArbiter)).count(arbiterPort));
}

#endif

TEST(MetricsProcess, WithoutTheKeyNothingListensButThePeerPorts) {
  Cluster c("metrics-absent");
  c.startAll();
  ASSERT_TRUE(c.waitForHealthy(c.timers().startupBound() + 5s));
  for (const auto& n : {kArbiter, kAlpha, kBeta}) {
    const std::string peer = c.address(n);
    const int peerPort = std::stoi(peer.substr(peer.rfind(':') + 1));
    EXPECT_EQ(listeningPorts(c.configPath(n)), std::set<int>{peerPort}) << n;
  }
}

TEST(MetricsProcess, ATakenPortIsAStartErrorNamingTheAddress) {
  // Someone else listens there already (without SO_REUSEADDR games: a plain listener).
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int taken = ntohs(a.sin_port);
  ClusterOptions o;
  o.editing(kAlpha, [&](const std::string& cfg) { return withMetrics(cfg, taken); });
  o.editArbiterConfig = [&](const std::string& cfg) { return withMetrics(cfg, taken); };
  Cluster c("metrics-taken", o);
  c.start(kArbiter);
  c.start(kAlpha);
  EXPECT_TRUE(waitUntil([&] { return !c.running(kArbiter) && !c.running(kAlpha); }, 10000ms));
  EXPECT_EQ(c.terminate(kArbiter, 1000ms), 1);  // reaped: it exited 1 on its own
  EXPECT_EQ(c.terminate(kAlpha, 1000ms), 1);
  const std::string where = "cannot listen on 127.0.0.1:" + std::to_string(taken);
  EXPECT_NE(c.log(kAlpha).find(where), std::string::npos) << c.log(kAlpha);
  EXPECT_NE(c.log(kArbiter).find(where), std::string::npos) << c.log(kArbiter);
  ::close(fd);
}

TEST(MetricsProcess, ANameInsteadOfAnAddressIsAConfigError) {
  Cluster c("metrics-name");
  const std::string path = c.configPath(kAlpha) + ".metrics.yaml";
  writeFile(path, c.plainDirectorConfig(kAlpha) + "metrics:\n  listen: \"localhost:9362\"\n");
  const RunResult r = runProgram({QUORATE_DIRECTOR, "--config", path, "--check"}, 10000ms);
  EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("metrics.listen"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("expected an IP address"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace quorate::proctest
