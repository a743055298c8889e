// Shared pieces of the VM end-to-end tests through quorate's IPVS: the netns test bed with DR
// real servers, the HTTP client load (short requests and keep-alive connections), what it saw
// around an event, and the fixture that brings the cluster up (director_ipvs_vm_test.cc,
// fence_load_vm_test.cc).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "netns/checker.h"
#include "netns/director_cluster.h"
#include "netns/topology.h"

namespace quorate::netns::vmtest {

constexpr int kLongLived = 4;
constexpr std::uint16_t kPort = 80;

inline std::string httpServerBin() {
  if (const char* p = std::getenv("QUORATE_TEST_HTTP")) return p;
#ifdef QUORATE_TEST_HTTP_BIN
  return QUORATE_TEST_HTTP_BIN;
#else
  return binDir() + "/quorate-test-http";
#endif
}

inline double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

// ---------------------------------------------------------------------------------------------
// HTTP client pieces

enum class Outcome {
  kPending,
  kOk,
  kTimeout,
  kRefused,
  kReset,
  kClosed,
  kUnreachable,
  kBad,
  kOther
};

inline const char* name(Outcome o) {
  switch (o) {
    case Outcome::kPending:
      return "pending";
    case Outcome::kOk:
      return "ok";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kRefused:
      return "refused";
    case Outcome::kReset:
      return "reset";
    case Outcome::kClosed:
      return "closed";
    case Outcome::kUnreachable:
      return "unreachable";
    case Outcome::kBad:
      return "bad-response";
    case Outcome::kOther:
      return "error";
  }
  return "?";
}

inline Outcome classify(int err) {
  switch (err) {
    case ECONNRESET:
    case EPIPE:
      return Outcome::kReset;
    case ECONNREFUSED:
      return Outcome::kRefused;
    case ETIMEDOUT:
      return Outcome::kTimeout;
    case EHOSTUNREACH:
    case ENETUNREACH:
      return Outcome::kUnreachable;
    default:
      return Outcome::kOther;
  }
}

inline const std::string kKeepAliveRequest =
    "GET / HTTP/1.1\r\nHost: 198.18.0.10\r\nConnection: keep-alive\r\n\r\n";
inline const std::string kCloseRequest =
    "GET / HTTP/1.1\r\nHost: 198.18.0.10\r\nConnection: close\r\n\r\n";

// A complete response at the start of `buf`: removes it and returns its body ("rs1\n");
// nullopt while incomplete; Outcome::kBad is signalled by an empty optional body in `bad`.
inline std::optional<std::string> takeResponse(std::string& buf, bool& bad) {
  bad = false;
  const auto end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  if (buf.compare(0, 12, "HTTP/1.1 200") != 0) {
    bad = true;
    return std::nullopt;
  }
  static const std::regex kLength(R"(\r\nContent-Length:\s*(\d+))", std::regex::icase);
  std::smatch m;
  const std::string head = buf.substr(0, end + 2);
  if (!std::regex_search(head, m, kLength)) {
    bad = true;
    return std::nullopt;
  }
  const std::size_t length = std::stoul(m[1].str());
  if (buf.size() < end + 4 + length) return std::nullopt;
  std::string body = buf.substr(end + 4, length);
  buf.erase(0, end + 4 + length);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return body;
}

inline sockaddr_in vipAddress() {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kPort);
  ::inet_pton(AF_INET, kVip.c_str(), &a.sin_addr);
  return a;
}

// The calling thread enters the network namespace at `path`.
inline void enterNamespace(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  const int rc = ::setns(fd, CLONE_NEWNET);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("setns " + path + ": " + std::strerror(err));
}

// One GET to `ip`:80 with a new connection from the client, answered within `timeout`; the body
// ("rs1") or nullopt. For set-up checks.
inline std::optional<std::string> getOnce(const Topology& topo, const std::string& ip, Ms timeout) {
  return topo.inHost(kClient, [&]() -> std::optional<std::string> {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(kPort);
    ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    const auto deadline = monoNs() + timeout.count() * 1'000'000;
    std::optional<std::string> result;
    auto waitFor = [&](short events) {
      pollfd p{fd, events, 0};
      const auto left = (deadline - monoNs()) / 1'000'000;
      return left > 0 && ::poll(&p, 1, static_cast<int>(left)) == 1;
    };
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
      ::close(fd);
      return std::nullopt;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (waitFor(POLLOUT) && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0 &&
        ::send(fd, kCloseRequest.data(), kCloseRequest.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(kCloseRequest.size())) {
      std::string buf;
      char chunk[2048];
      while (!result && waitFor(POLLIN)) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
        bool bad = false;
        result = takeResponse(buf, bad);
        if (bad) break;
      }
    }
    ::close(fd);
    return result;
  });
}

// ---------------------------------------------------------------------------------------------
// A stream of short requests: every `interval` a new connection to the VIP, a GET with
// "Connection: close", the answer within `deadline`. One thread in the client's namespace drives
// all requests in flight with poll(), so a stalled request does not delay the next ones.

struct ShortRequest {
  std::int64_t startNs = 0;
  std::int64_t endNs = 0;
  Outcome outcome = Outcome::kPending;
  int err = 0;
  bool connected = false;  // the handshake completed (a failure after it: the answer was missing)
  std::uint16_t localPort = 0;
  std::string server;
};

class ShortStream {
 public:
  ShortStream(const Topology& topo, Ms interval = Ms(20), Ms deadline = Ms(1000))
      : intervalNs_(interval.count() * 1'000'000), deadlineNs_(deadline.count() * 1'000'000) {
    thread_ = std::thread([this, path = topo.nsPath(kClient)] {
      try {
        enterNamespace(path);
        run();
      } catch (const std::exception& e) {
        std::lock_guard lock(mu_);
        error_ = e.what();
      }
    });
  }
  ~ShortStream() { stop(); }

  // Starts no more requests and waits for those in flight (at most one deadline).
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<ShortRequest> results() const {
    std::lock_guard lock(mu_);
    return results_;
  }
  std::string error() const {
    std::lock_guard lock(mu_);
    return error_;
  }
  // Times the stream's own loop did not run for kStallNs or more (it wakes at least every
  // interval): the VM (TCG on a shared host) or the thread was not scheduled. A request
  // whose life overlaps one timed out on the client's clock, not for lack of an answer.
  static constexpr std::int64_t kStallNs = 150'000'000;
  std::vector<std::pair<std::int64_t, std::int64_t>> stalls() const {
    std::lock_guard lock(mu_);
    return stalls_;
  }

 private:
  struct Live {
    int fd;
    std::size_t index;
    bool connected;
    std::string buf;
    std::int64_t deadlineNs;
  };

  void finish(Live& l, Outcome o, int err = 0, std::string server = "") {
    ::close(l.fd);
    l.fd = -1;
    std::lock_guard lock(mu_);
    auto& r = results_[l.index];
    r.endNs = monoNs();
    r.outcome = o;
    r.err = err;
    r.connected = l.connected;
    r.server = std::move(server);
  }

  void sendRequest(Live& l) {
    const ssize_t n = ::send(l.fd, kCloseRequest.data(), kCloseRequest.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(kCloseRequest.size())) {
      finish(l, n < 0 ? classify(errno) : Outcome::kOther, n < 0 ? errno : 0);
    } else {
      l.connected = true;
    }
  }

  void startOne(std::vector<Live>& live) {
    const auto now = monoNs();
    std::size_t index;
    {
      std::lock_guard lock(mu_);
      index = results_.size();
      results_.push_back({now, 0, Outcome::kPending, 0, false, 0, ""});
    }
    Live l{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), index, false, "",
           now + deadlineNs_};
    if (l.fd < 0) {
      std::lock_guard lock(mu_);
      results_[index].outcome = Outcome::kOther;
      results_[index].err = errno;
      results_[index].endNs = now;
      return;
    }
    const sockaddr_in a = vipAddress();
    const int rc = ::connect(l.fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    const int err = errno;
    sockaddr_in local{};
    socklen_t len = sizeof local;
    if (::getsockname(l.fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      std::lock_guard lock(mu_);
      results_[index].localPort = ntohs(local.sin_port);
    }
    if (rc == 0) {
      sendRequest(l);
    } else if (err != EINPROGRESS) {
      finish(l, classify(err), err);
    }
    if (l.fd >= 0) live.push_back(std::move(l));
  }

  void onEvent(Live& l, short revents) {
    if (!l.connected) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(l.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        finish(l, classify(err), err);
      } else if (revents & POLLOUT) {
        sendRequest(l);
      }
      return;
    }
    char chunk[2048];
    const ssize_t n = ::recv(l.fd, chunk, sizeof chunk, 0);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) finish(l, classify(errno), errno);
      return;
    }
    if (n == 0) {
      finish(l, Outcome::kClosed);
      return;
    }
    l.buf.append(chunk, static_cast<std::size_t>(n));
    bool bad = false;
    if (auto body = takeResponse(l.buf, bad)) {
      finish(l, Outcome::kOk, 0, std::move(*body));
    } else if (bad) {
      finish(l, Outcome::kBad);
    }
  }

  void run() {
    std::vector<Live> live;
    std::int64_t next = monoNs();
    std::int64_t last = next;
    for (;;) {
      auto now = monoNs();
      if (now - last >= kStallNs) {
        std::lock_guard lock(mu_);
        stalls_.emplace_back(last, now);
      }
      last = now;
      const bool stopping = stop_;
      if (!stopping && now >= next) {
        startOne(live);
        next += intervalNs_;
        if (next < now) next = now + intervalNs_;  // fell behind: keep the pace, skip the backlog
      }
      for (auto& l : live) {
        if (l.fd >= 0 && now >= l.deadlineNs) finish(l, Outcome::kTimeout);
      }
      live.erase(std::remove_if(live.begin(), live.end(), [](const Live& l) { return l.fd < 0; }),
                 live.end());
      if (stopping && live.empty()) return;
      std::int64_t wake = stopping ? now + 50'000'000 : next;
      std::vector<pollfd> fds;
      for (const auto& l : live) {
        fds.push_back({l.fd, static_cast<short>(l.connected ? POLLIN : POLLOUT), 0});
        wake = std::min(wake, l.deadlineNs);
      }
      now = monoNs();
      const int timeout = wake > now ? static_cast<int>((wake - now + 999'999) / 1'000'000) : 0;
      const int n = ::poll(fds.data(), fds.size(), timeout);
      if (n <= 0) continue;
      for (std::size_t k = 0; k < fds.size(); ++k) {
        if (fds[k].revents != 0) onEvent(live[k], fds[k].revents);
      }
    }
  }

  const std::int64_t intervalNs_;
  const std::int64_t deadlineNs_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<ShortRequest> results_;
  std::vector<std::pair<std::int64_t, std::int64_t>> stalls_;
  std::string error_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// A long-lived keep-alive connection from the client to the VIP: one request every `period`, the
// answer expected on the same connection within `deadline` (generous: a request sent during a
// failover is retransmitted by TCP with back-off). The first failure (reset, close, timeout)
// ends it.

struct LongReport {
  std::uint16_t localPort = 0;
  std::string server;  // who answered first
  int responses = 0;
  int serverChanges = 0;                 // answers from another real server than the first
  std::vector<std::int64_t> answeredNs;  // when each answer arrived
  std::int64_t maxLatencyNs = 0;         // the slowest answer (the stall over a failover)
  std::int64_t maxLatencySentNs = 0;
  Outcome failure = Outcome::kPending;  // kPending: no failure
  int failureErr = 0;
  std::int64_t failureNs = 0;
  std::int64_t failedRequestSentNs = 0;

  bool failed() const { return failure != Outcome::kPending; }
  int answeredAfter(std::int64_t ns) const {
    return static_cast<int>(std::count_if(answeredNs.begin(), answeredNs.end(),
                                          [ns](std::int64_t t) { return t > ns; }));
  }
};

class LongConn {
 public:
  LongConn(const Topology& topo, Ms period = Ms(100), Ms deadline = Ms(15'000))
      : periodNs_(period.count() * 1'000'000), deadlineNs_(deadline.count() * 1'000'000) {
    fd_ = topo.inHost(kClient, [] {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      const sockaddr_in a = vipAddress();
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        const int err = errno;
        ::close(fd);
        throw std::runtime_error(std::string("connect to the VIP: ") + std::strerror(err));
      }
      return fd;
    });
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in local{};
    socklen_t len = sizeof local;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len);
    report_.localPort = ntohs(local.sin_port);
    // The first exchange before the thread starts: the connection works and has its server.
    if (!exchange()) {
      throw std::runtime_error(std::string("first request on a long-lived connection: ") +
                               name(report_.failure));
    }
    thread_ = std::thread([this] { run(); });
  }
  ~LongConn() {
    stop();
    if (fd_ >= 0) ::close(fd_);
  }
  // Sends no more requests; waits for the answer in flight (at most one deadline).
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  LongReport report() const {
    std::lock_guard lock(mu_);
    return report_;
  }
  std::uint16_t localPort() const { return report_.localPort; }
  bool failed() const {
    std::lock_guard lock(mu_);
    return report_.failed();
  }

 private:
  void fail(Outcome o, int err, std::int64_t sent) {
    std::lock_guard lock(mu_);
    report_.failure = o;
    report_.failureErr = err;
    report_.failureNs = monoNs();
    report_.failedRequestSentNs = sent;
  }

  // One request and its answer; false (recorded) on failure.
  bool exchange() {
    const auto sent = monoNs();
    const ssize_t n = ::send(fd_, kKeepAliveRequest.data(), kKeepAliveRequest.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(kKeepAliveRequest.size())) {
      fail(n < 0 ? classify(errno) : Outcome::kOther, n < 0 ? errno : 0, sent);
      return false;
    }
    const auto deadline = sent + deadlineNs_;
    char chunk[2048];
    for (;;) {
      bool bad = false;
      if (auto body = takeResponse(buf_, bad)) {
        const auto now = monoNs();
        std::lock_guard lock(mu_);
        auto& r = report_;
        if (r.server.empty()) r.server = *body;
        if (*body != r.server) ++r.serverChanges;
        ++r.responses;
        r.answeredNs.push_back(now);
        if (now - sent > r.maxLatencyNs) {
          r.maxLatencyNs = now - sent;
          r.maxLatencySentNs = sent;
        }
        return true;
      }
      if (bad) {
        fail(Outcome::kBad, 0, sent);
        return false;
      }
      const auto now = monoNs();
      if (now >= deadline) {
        fail(Outcome::kTimeout, 0, sent);
        return false;
      }
      pollfd p{fd_, POLLIN, 0};
      const int left = static_cast<int>((deadline - now + 999'999) / 1'000'000);
      if (::poll(&p, 1, left) <= 0) continue;
      const ssize_t got = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
      if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        fail(classify(errno), errno, sent);
        return false;
      }
      if (got == 0) {
        fail(Outcome::kClosed, 0, sent);
        return false;
      }
      buf_.append(chunk, static_cast<std::size_t>(got));
    }
  }

  void run() {
    auto next = monoNs() + periodNs_;
    while (!stop_) {
      const auto now = monoNs();
      if (now < next) {
        std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(next - now, 20'000'000L)));
        continue;
      }
      next = std::max(next + periodNs_, now);
      if (!exchange()) return;
    }
  }

  const std::int64_t periodNs_;
  const std::int64_t deadlineNs_;
  int fd_ = -1;
  std::string buf_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  LongReport report_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// What the short requests saw around a disruption at `eventNs` (a kill or a step-down).

// The short requests in three phases around a disruption (a kill or a step-down) at eventNs,
// with the takeover (the VIP on beta) at takeoverNs: the baseline (started more than a deadline
// before the event), the window (from then until kGraceNs after the takeover: the client may
// still be sending to the old holder until beta's gratuitous ARP arrives) and after.
constexpr std::int64_t kShortDeadlineNs = 1'000'000'000;
constexpr std::int64_t kGraceNs = 250'000'000;

struct Phase {
  int total = 0;
  int failed = 0;
  int failedInStall = 0;  // of the failed: their life overlapped a stall of the client
  int longestRun = 0;     // the most failures in a row (by start) outside stalls
  int run = 0;
  int failedOutsideStalls() const { return failed - failedInStall; }
};

struct ShortSummary {
  Phase baseline, window, after;
  std::map<std::string, int> windowKinds;
  // The outage: the longest run of failures in the window, from the start of its first request
  // to the start of the first successful one after it, relative to the event.
  int outageRequests = 0;
  double outageFromMs = 0, outageToMs = 0;
  std::map<std::string, int> serversAfter;
  double p50Ms = 0, p99Ms = 0, maxMs = 0;  // latency of the successful ones
  int stalls = 0;
  double longestStallMs = 0;
  std::string failures;  // every failed one: start relative to the event, stage, kind
  std::string timeline;  // per 500 ms from 2 s before the event: started/failed
};

inline ShortSummary summarize(const std::vector<ShortRequest>& all,
                              const std::vector<std::pair<std::int64_t, std::int64_t>>& stalls,
                              std::int64_t eventNs, std::int64_t takeoverNs) {
  ShortSummary s;
  s.stalls = static_cast<int>(stalls.size());
  for (const auto& [a, b] : stalls) s.longestStallMs = std::max(s.longestStallMs, ms(b - a));
  auto inStall = [&](const ShortRequest& r) {
    return std::any_of(stalls.begin(), stalls.end(),
                       [&](const auto& st) { return st.first < r.endNs && st.second > r.startNs; });
  };
  std::int64_t runStart = 0, outageStart = 0, outageLast = 0;
  std::vector<std::int64_t> latencies;
  std::map<long, std::pair<int, int>> buckets;  // 500 ms bucket -> started, failed
  for (const auto& r : all) {
    if (r.outcome == Outcome::kPending) continue;
    const bool ok = r.outcome == Outcome::kOk;
    const bool windowPhase =
        r.startNs >= eventNs - kShortDeadlineNs && r.startNs < takeoverNs + kGraceNs;
    Phase& ph = r.startNs < eventNs - kShortDeadlineNs ? s.baseline
                : windowPhase                          ? s.window
                                                       : s.after;
    ++ph.total;
    const long rel = static_cast<long>(ms(r.startNs - eventNs));
    if (rel >= -2000) {
      auto& b = buckets[(rel + 2000) / 500];
      ++b.first;
      if (!ok) ++b.second;
    }
    if (ok) {
      latencies.push_back(r.endNs - r.startNs);
      if (&ph == &s.after) ++s.serversAfter[r.server];
      ph.run = 0;
      continue;
    }
    ++ph.failed;
    const bool stalled = inStall(r);
    if (stalled) {
      ++ph.failedInStall;
    } else {
      if (ph.run++ == 0) runStart = r.startNs;
      ph.longestRun = std::max(ph.longestRun, ph.run);
      if (windowPhase && ph.run > s.outageRequests) {
        s.outageRequests = ph.run;
        outageStart = runStart;
        outageLast = r.startNs;
      }
    }
    char line[160];
    std::snprintf(line, sizeof line, " %+ld ms :%u %s %s%s%s;", rel, r.localPort,
                  r.connected ? "(connected)" : "(connecting)", name(r.outcome),
                  r.err ? (std::string(" ") + std::strerror(r.err)).c_str() : "",
                  stalled ? " [stall]" : "");
    s.failures += line;
    if (windowPhase) ++s.windowKinds[name(r.outcome)];
  }
  if (s.outageRequests > 0) {
    s.outageFromMs = ms(outageStart - eventNs);
    for (const auto& r : all) {
      if (r.outcome == Outcome::kOk && r.startNs > outageLast) {
        s.outageToMs = ms(r.startNs - eventNs);
        break;
      }
    }
  }
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    s.p50Ms = ms(latencies[latencies.size() / 2]);
    s.p99Ms = ms(latencies[latencies.size() * 99 / 100]);
    s.maxMs = ms(latencies.back());
  }
  for (const auto& [b, n] : buckets) {
    s.timeline += " " + std::to_string(b * 500 - 2000) + ":" + std::to_string(n.first) + "/" +
                  std::to_string(n.second);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// IPVS as ipvsadm shows it in a host.

inline bool hasMatch(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern));
}

inline const std::string kServiceLine = R"(TCP\s+198\.18\.0\.10:80\s+rr)";
inline std::string routeLine(const std::string& ip) {
  return R"(->\s+)" + std::regex_replace(ip, std::regex(R"(\.)"), R"(\.)") + R"(:80\s+Route)";
}

class IpvsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0) << "runs as root inside the test VM (tests/vm/run-in-vm.sh)";
    ASSERT_EQ(::access("/proc/net/ip_vs", F_OK), 0)
        << "this kernel has no IPVS: run the test in the VM, e.g. tests/vm/run-in-vm.sh -- "
           "build/bin/quorate_director_ipvs_vm_tests";
    ASSERT_EQ(::access(httpServerBin().c_str(), X_OK), 0) << "no " << httpServerBin();
  }
  void TearDown() override { tearDownCluster(); }
  // Stops every process and deletes the test bed (for a second bring-up in one test).
  void tearDownCluster() {
    cluster_.reset();
    topo_.reset();
    httpPid_.clear();
  }

  Topology& topo() { return *topo_; }
  DirectorCluster& cluster() { return *cluster_; }

  std::string ipvsadm(const std::string& host, const std::string& args) {
    const auto r = topo().run(host, "ipvsadm " + args, Ms(10'000));
    return r.out + r.err;
  }
  bool listsServiceWithBoth(const std::string& host) {
    const auto t = ipvsadm(host, "-Ln");
    return hasMatch(t, kServiceLine) && hasMatch(t, routeLine(topo().host(kRs1).ipv4)) &&
           hasMatch(t, routeLine(topo().host(kRs2).ipv4));
  }
  bool tableEmpty(const std::string& host) {
    const auto t = ipvsadm(host, "-Ln");
    return hasMatch(t, "IP Virtual Server") && !hasMatch(t, R"((TCP|UDP|SCTP|FWM)\s)");
  }
  std::string daemons(const std::string& host) { return ipvsadm(host, "-L --daemon"); }

  // The YAML of the virtual server (and the sync daemon) for both directors.
  static std::string ipvsYaml(bool sync, bool checks) {
    std::string y =
        "virtual_servers:\n"
        "  - name: web\n"
        "    instance: web\n"
        "    protocol: tcp\n"
        "    address: 198.18.0.10\n"
        "    port: 80\n"
        "    scheduler: rr\n"
        "    forwarding: dr\n";
    // Generous for TCG: a stalled VM must not fail a check by itself.
    if (checks) {
      y += "    checks: [{type: http, path: /, interval_ms: 500, timeout_ms: 3000, retries: 1,\n"
           "              retry_delay_ms: 200}]\n";
    }
    y += "    real_servers:\n"
         "      - address: 198.18.0.11\n"
         "      - address: 198.18.0.12\n"
         "ipvs:\n"
         "  standby: remove\n";
    if (sync) y += "  sync_daemon: {interface: eth0, sync_id: 10}\n";
    return y;
  }

  // Timers: longer than the daemons' defaults (1500/1700/1800/500 ms), let alone the test bed's
  // fast LAN timers (600/650/700/150): under TCG on a shared host the VM stalls now and then for
  // a second or more, and a holder with a 1.5 s lease lost it in such a stall.
  // QUORATE_VM_TIMERS="holder,acceptor,quarantine,renew" (ms) overrides.
  static ClusterOptions clusterOptions(bool sync, bool checks) {
    ClusterOptions o;
    o.holderLeaseMs = 3000;
    o.acceptorLeaseMs = 3200;
    o.quarantineMs = 3400;
    o.renewIntervalMs = 500;
    if (const char* t = std::getenv("QUORATE_VM_TIMERS")) {
      std::sscanf(t, "%d,%d,%d,%d", &o.holderLeaseMs, &o.acceptorLeaseMs, &o.quarantineMs,
                  &o.renewIntervalMs);
    }
    o.extraDirectorYaml = ipvsYaml(sync, checks);
    o.ctlTimeout = Ms(20'000);  // quoratectl, a large gRPC binary, can take seconds under TCG
    return o;
  }

  // The real servers: the VIP on lo, no ARP for it, the web server; checked directly.
  void startRealServers() {
    for (const auto& rs : {kRs1, kRs2}) {
      topo().check(rs,
                   "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 "
                   "net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 && "
                   "ip addr add " +
                       kVip + "/32 dev lo",
                   Ms(10'000));
      httpPid_[rs] = topo().spawn(rs, {httpServerBin(), rs, std::to_string(kPort)},
                                  cluster().dir() + "/" + rs + "-http.log");
    }
    for (const auto& rs : {kRs1, kRs2}) {
      std::optional<std::string> body;
      waitUntil(
          [&] {
            body = getOnce(topo(), topo().host(rs).ipv4, Ms(2000));
            return body.has_value();
          },
          Ms(15'000), Ms(100));
      ASSERT_EQ(body, rs) << rs << "'s web server does not answer on its own address";
    }
  }

  // Topology, real servers, daemons; alpha holds, has programmed IPVS and the VIP serves.
  void bringUp(bool sync, bool checks = false) { bringUpWith(clusterOptions(sync, checks)); }
  void bringUpWith(const ClusterOptions& options) {
    const bool sync = options.extraDirectorYaml.find("sync_daemon") != std::string::npos;
    const auto t0 = monoNs();
    std::string phases;
    auto phase = [&, last = t0](const char* what) mutable {
      const auto now = monoNs();
      phases += std::string(phases.empty() ? "" : ", ") + what + " " +
                std::to_string(static_cast<long>(ms(now - last))) + " ms";
      last = now;
    };
    topo_ = std::make_unique<Topology>();
    cluster_ = std::make_unique<DirectorCluster>(*topo_, options);
    phase("topology");
    ASSERT_NO_FATAL_FAILURE(startRealServers());
    phase("real servers");
    // DirectorCluster::startAll, with more patience: alpha first, beta once alpha holds.
    cluster().startArbiter();
    cluster().startDirector(kAlpha);
    ASSERT_TRUE(cluster().waitUntilHolds(kAlpha, Ms(30'000)))
        << "alpha did not acquire the lease alone with the arbiter";
    cluster().startDirector(kBeta);
    ASSERT_EQ(cluster().waitForHolder(Ms(30'000)), kAlpha);
    phase("daemons");
    ASSERT_TRUE(waitUntil([&] { return listsServiceWithBoth(kAlpha); }, Ms(15'000), Ms(100)))
        << "alpha holds but does not list the virtual server:\n"
        << ipvsadm(kAlpha, "-Ln");
    std::optional<std::string> body;
    ASSERT_TRUE(waitUntil(
        [&] {
          body = getOnce(topo(), kVip, Ms(2000));
          return body.has_value();
        },
        Ms(15'000), Ms(100)))
        << "the VIP does not serve";
    if (sync) {
      ASSERT_TRUE(waitUntil(
          [&] {
            return hasMatch(daemons(kAlpha), "master sync daemon") &&
                   hasMatch(daemons(kBeta), "backup sync daemon");
          },
          Ms(15'000), Ms(200)))
          << "alpha: " << daemons(kAlpha) << "beta: " << daemons(kBeta);
    }
    phase("IPVS and VIP serve");
    std::printf("[ipvs-e2e] set-up took %.0f ms (%s); timers %d/%d/%d/%d ms\n", ms(monoNs() - t0),
                phases.c_str(), cluster().options().holderLeaseMs,
                cluster().options().acceptorLeaseMs, cluster().options().quarantineMs,
                cluster().options().renewIntervalMs);
    std::fflush(stdout);
  }

  // Until beta's (backup) connection table has an entry for each long-lived connection.
  bool waitForSyncedConnections(const std::vector<std::unique_ptr<LongConn>>& conns, Ms timeout,
                                std::string& table) {
    return waitUntil(
        [&] {
          table = ipvsadm(kBeta, "-Lnc");
          for (const auto& c : conns) {
            const std::string src =
                topo().host(kClient).ipv4 + ":" + std::to_string(c->localPort());
            if (table.find(src) == std::string::npos) return false;
          }
          return true;
        },
        timeout, Ms(250));
  }

  // A cheap watch of the directors' VIP (an rtnetlink dump every 10 ms; no quoratectl
  // processes, which are heavy under TCG): when the takeover reaches the data plane, and that
  // the lease did not move before the test moved it.
  static std::unique_ptr<AddressWatcher> watchVip(const Topology& t) {
    AddressWatcherOptions o;
    o.period = Ms(10);
    o.checkFence = false;
    return std::make_unique<AddressWatcher>(t, std::vector<std::string>{kAlpha, kBeta}, o);
  }
  // When `host` first had the VIP at or after sinceNs (0: never).
  static std::int64_t vipSince(const AddressWatcher& w, const std::string& host,
                               std::int64_t sinceNs) {
    for (const auto& h : w.histories()) {
      if (h.host != host) continue;
      for (const auto& t : h.transitions) {
        if (t.address && t.ns >= sinceNs) return t.ns;
      }
    }
    return 0;
  }
  // Alpha has the VIP and beta never had it since the watch began: the lease stayed put.
  static ::testing::AssertionResult leaseStayedWithAlpha(const AddressWatcher& w) {
    const auto a = w.latest(kAlpha);
    if (!a || !a->address) return ::testing::AssertionFailure() << "alpha lost the VIP";
    if (vipSince(w, kBeta, 0) != 0) {
      return ::testing::AssertionFailure() << "beta had the VIP: the lease moved (a VM stall?)";
    }
    return ::testing::AssertionSuccess();
  }
  // Waits until beta has the VIP and says it holds; returns when the VIP appeared (0: never).
  std::int64_t waitForBetaTakeover(const AddressWatcher& w, std::int64_t sinceNs) {
    if (!w.waitFor(kBeta, true, Ms(30'000))) return 0;
    const auto at = vipSince(w, kBeta, sinceNs);
    if (!cluster().waitUntilHolds(kBeta, Ms(30'000))) return 0;
    return at;
  }

  void record(const std::string& key, double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", value);
    RecordProperty(key, buf);
  }

  // Prints and records the short stream's and the long-lived connections' numbers.
  void report(const std::string& what, const ShortSummary& s, const std::vector<LongReport>& longs,
              std::int64_t eventNs, std::int64_t takeoverNs) {
    int survivors = 0;
    double maxStall = 0;
    for (const auto& l : longs) {
      if (!l.failed() && l.serverChanges == 0) ++survivors;
      maxStall = std::max(maxStall, ms(l.maxLatencyNs));
    }
    std::string kinds;
    for (const auto& [k, n] : s.windowKinds) kinds += " " + k + "=" + std::to_string(n);
    std::printf(
        "[ipvs-e2e] %s: VIP on beta %.0f ms after the event.\n"
        "[ipvs-e2e]   short requests (new connection every 20 ms, 1 s deadline): baseline %d "
        "(%d failed, %d of them in client stalls, at most %d in a row); window (1 s before the "
        "event to 250 ms after the VIP moved) %d, %d failed (%s), the outage (the longest run "
        "of failures: %d) from %+.0f to %+.0f ms = %.0f ms; after %d (%d failed, %d of them in "
        "client stalls, at most %d in a row)\n",
        what.c_str(), ms(takeoverNs - eventNs), s.baseline.total, s.baseline.failed,
        s.baseline.failedInStall, s.baseline.longestRun, s.window.total, s.window.failed,
        kinds.empty() ? "none" : kinds.substr(1).c_str(), s.outageRequests, s.outageFromMs,
        s.outageToMs, s.outageToMs - s.outageFromMs, s.after.total, s.after.failed,
        s.after.failedInStall, s.after.longestRun);
    std::printf(
        "[ipvs-e2e]   long-lived (%d keep-alive connections, a request every 100 ms): %d "
        "survived, longest wait for an answer %.0f ms\n",
        kLongLived, survivors, maxStall);
    std::printf(
        "[ipvs-e2e]   latency of the successful short requests: p50 %.0f ms, p99 %.0f ms, "
        "max %.0f ms; client stalls >= 150 ms: %d, longest %.0f ms\n",
        s.p50Ms, s.p99Ms, s.maxMs, s.stalls, s.longestStallMs);
    std::printf("[ipvs-e2e]   short requests per 500 ms from the event (started/failed):%s\n",
                s.timeline.c_str());
    if (!s.failures.empty()) std::printf("[ipvs-e2e]   failed:%s\n", s.failures.c_str());
    for (std::size_t k = 0; k < longs.size(); ++k) {
      const auto& l = longs[k];
      std::string failure;
      if (l.failed()) {
        failure = std::string(", FAILED: ") + name(l.failure) +
                  (l.failureErr ? std::string(" (") + std::strerror(l.failureErr) + ")" : "") +
                  " at " + std::to_string(static_cast<long>(ms(l.failureNs - eventNs))) +
                  " ms, its request sent at " +
                  std::to_string(static_cast<long>(ms(l.failedRequestSentNs - eventNs))) + " ms";
      }
      std::printf(
          "[ipvs-e2e]   long-lived #%zu (port %u, %s): %d answers (%d after the VIP "
          "moved), %d from another server, longest wait %.0f ms (request sent %+.0f ms "
          "from the event)%s\n",
          k, l.localPort, l.server.c_str(), l.responses, l.answeredAfter(takeoverNs),
          l.serverChanges, ms(l.maxLatencyNs), ms(l.maxLatencySentNs - eventNs), failure.c_str());
    }
    std::fflush(stdout);
    record("vip_on_beta_ms", ms(takeoverNs - eventNs));
    record("short_window_total", s.window.total);
    record("short_window_failed", s.window.failed);
    record("short_outage_ms", s.outageToMs - s.outageFromMs);
    record("short_outage_requests", s.outageRequests);
    record("short_service_back_ms", s.outageToMs);
    record("short_baseline_failed", s.baseline.failed);
    record("short_after_failed", s.after.failed);
    record("short_after_failed_outside_stalls", s.after.failedOutsideStalls());
    record("client_stalls", s.stalls);
    record("long_lived_survivors", survivors);
    record("long_lived_longest_wait_ms", maxStall);
  }

  // The short stream's numbers that must hold whatever the event: no failure before it and none
  // after the takeover (only the window around the event may lose requests), and both real
  // servers answer after the takeover. Until issue 12 this tolerated isolated losses: the old
  // fence dropped everything to the VIP for 1-3 ms at each renewal on Debian 12's kernel; the
  // fence is now held to zero lost packets by fence_load_vm_test.cc.
  //
  // The one exception: a request whose life overlapped a stall of the client's own loop
  // (>= 150 ms; qemu TCG on a loaded host) may time out on the client's clock. Measured with
  // fence: none too (fence_load_vm_test.cc, load average 7: 1 of 1982 short requests in a
  // 1380 ms stall, and its packets were all forwarded by the holder).
  static void expectServedOutsideTheWindow(ShortSummary& s) {
    EXPECT_EQ(s.baseline.failedOutsideStalls(), 0) << "failures before the event:" << s.failures;
    EXPECT_EQ(s.after.failedOutsideStalls(), 0) << "failures after the takeover:" << s.failures;
    EXPECT_GT(s.after.total, 50);
    EXPECT_GT(s.serversAfter[kRs1], 0);
    EXPECT_GT(s.serversAfter[kRs2], 0);
  }

  std::vector<std::unique_ptr<LongConn>> openLongLived() {
    std::vector<std::unique_ptr<LongConn>> v;
    for (int k = 0; k < kLongLived; ++k) v.push_back(std::make_unique<LongConn>(topo()));
    return v;
  }
  static std::vector<LongReport> stopAll(ShortStream& stream,
                                         std::vector<std::unique_ptr<LongConn>>& conns) {
    stream.stop();
    std::vector<LongReport> r;
    for (auto& c : conns) c->stop();
    for (auto& c : conns) r.push_back(c->report());
    return r;
  }

  std::unique_ptr<Topology> topo_;
  std::unique_ptr<DirectorCluster> cluster_;
  std::map<std::string, pid_t> httpPid_;  // each real server's web server
};
}  // namespace quorate::netns::vmtest
