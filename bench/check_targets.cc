// quorate-check-targets: the real servers of the health-check benchmark (issue 5;
// bench/run_check_bench.sh). Listens on N distinct loopback addresses, one port,
// and answers each connection once:
//
//   --mode http  reads the request up to "\r\n\r\n", answers "HTTP/1.1 200 OK" with
//                Content-Length and "Connection: close", closes (TCP_DEFER_ACCEPT on the
//                listeners: a connection is accepted only once its request has arrived, so
//                the usual one is accept, read, write, close, with no epoll registration).
//   --mode tcp   accepts and closes.
//   --keep-alive (http) answers without "Connection: close" and serves the connection's next
//                request too, until the client closes it (quorate's requests_per_connection).
//
// Addresses start at --base (127.1.0.1) and count up, skipping host bytes .0 and .255; all must
// lie in 127.0.0.0/8, which the loopback interface accepts without configuration, or in
// 198.18.0.0/15, which needs a local route (`ip route add local 198.19.0.0/16 dev lo`).
//
// --threads T epoll threads (default 1), each with its share of the listeners. Prints "ready N"
// when all listen; on SIGUSR1 "served S accepted A errors E cpu_ms C user_ms U sys_ms S" (so
// that a script can read the count at any time: bench/run_check_bench.sh counts the checks
// with it); on SIGTERM or SIGINT the same line, then exits 0. "served" counts answered requests
// (http) or accepted connections (tcp); CPU is the process's own (getrusage). Raises
// RLIMIT_NOFILE to N + 65,536 (root may raise the hard limit too).
//
// Measured on the 2-core development machine: 10,000 connections/s (HTTP, one request each)
// cost it 28-33% of one core, nearly all of it in the kernel's TCP.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_addresses.h"

namespace quorate::bench {
namespace {

struct Options {
  int count = 10000;
  int port = 8080;
  std::string base = "127.1.0.1";
  std::string mode = "http";
  std::string body = "OK\n";
  int threads = 1;
  bool keepAlive = false;
};

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void raiseFileLimit(rlim_t want) {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) fail("getrlimit");
  if (r.rlim_cur >= want) return;
  rlimit n = r;
  n.rlim_cur = want;
  if (n.rlim_max < want) n.rlim_max = want;  // root (CAP_SYS_RESOURCE) may raise the hard limit
  if (setrlimit(RLIMIT_NOFILE, &n) == 0) return;
  n.rlim_cur = n.rlim_max = r.rlim_max;  // otherwise as far as the hard limit goes
  if (setrlimit(RLIMIT_NOFILE, &n) != 0) fail("setrlimit(RLIMIT_NOFILE)");
}

// One thread's loop: its listeners, its connections, its counters.
class Worker {
 public:
  Worker(bool http, bool keepAlive, const std::string& response)
      : http_(http), keepAlive_(keepAlive), response_(response) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) fail("epoll_create1");
    stop_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_ < 0) fail("eventfd");
    add(stop_, EPOLLIN);
  }
  ~Worker() {
    close(stop_);
    close(epoll_);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void listen(std::uint32_t ip, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (http_) {
      int seconds = 5;  // a connection that sends nothing within this is accepted anyway
      setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds);
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    sa.sin_addr.s_addr = htonl(ip);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &sa.sin_addr, text, sizeof text);
      fail(std::string("bind ") + text + ":" + std::to_string(port));
    }
    if (::listen(fd, SOMAXCONN) != 0) fail("listen");
    mark(fd, kListener);
    add(fd, EPOLLIN);
  }

  void start() {
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    std::uint64_t one = 1;
    if (write(stop_, &one, sizeof one) < 0) {
      // the loop is ending anyway
    }
    if (thread_.joinable()) thread_.join();
  }

  std::uint64_t served() const { return served_.load(std::memory_order_relaxed); }
  std::uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  std::uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

 private:
  // Per descriptor: a listener, free, or a connection with how much of "\r\n\r\n" it has seen.
  static constexpr std::int8_t kFree = 0;
  static constexpr std::int8_t kListener = -1;
  static constexpr std::int8_t kConnection = 1;  // + bytes of the terminator matched (0..3)

  void add(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) fail("epoll_ctl");
  }
  void mark(int fd, std::int8_t state) {
    auto at = static_cast<std::size_t>(fd);
    if (at >= state_.size()) state_.resize(at * 2 + 64, kFree);
    state_[at] = state;
  }
  static void bump(std::atomic<std::uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // one writer
  }

  void loop() {
    epoll_event events[256];
    for (;;) {
      int n = epoll_wait(epoll_, events, 256, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == stop_) return;
        if (state_[static_cast<std::size_t>(fd)] == kListener) {
          acceptAll(fd);
        } else {
          readRequest(fd, false);
        }
      }
    }
  }

  void acceptAll(int listener) {
    for (;;) {
      int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        if (errno == ECONNABORTED) continue;
        bump(errors_);  // EMFILE and the like: the connection waits in the backlog
        return;
      }
      bump(accepted_);
      if (!http_) {
        close(fd);
        bump(served_);
        continue;
      }
      mark(fd, kConnection);
      readRequest(fd, true);
    }
  }

  // Reads what is there; answers each request once its end has been seen.
  void readRequest(int fd, bool fresh) {
    auto& state = state_[static_cast<std::size_t>(fd)];
    char buf[4096];
    for (;;) {
      ssize_t got = read(fd, buf, sizeof buf);
      if (got > 0) {
        int matched = state - kConnection;
        static constexpr char kEnd[] = "\r\n\r\n";
        for (ssize_t k = 0; k < got; ++k) {
          if (buf[k] == kEnd[matched]) {
            ++matched;
          } else {
            matched = buf[k] == '\r' ? 1 : 0;
          }
          if (matched < 4) continue;
          ssize_t put = write(fd, response_.data(), response_.size());
          if (put == static_cast<ssize_t>(response_.size())) {
            bump(served_);
          } else {
            bump(errors_);  // a small answer always fits an idle socket's buffer
          }
          if (!keepAlive_) {
            finish(fd);
            return;
          }
          matched = 0;  // the connection's next request
        }
        state = static_cast<std::int8_t>(kConnection + matched);
        if (got < static_cast<ssize_t>(sizeof buf)) break;
        continue;
      }
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (got < 0 && errno == EINTR) continue;
      // A kept connection ends with the client's reset between two requests: no error.
      const bool between = keepAlive_ && state == kConnection;
      if (got < 0 && !(between && errno == ECONNRESET)) bump(errors_);
      finish(fd);  // the peer closed (or failed), before its request ended or between two
      return;
    }
    if (fresh) add(fd, EPOLLIN);  // the rest of the request is still to come
  }

  // close() drops a registered descriptor from the epoll set too.
  void finish(int fd) {
    state_[static_cast<std::size_t>(fd)] = kFree;
    close(fd);
  }

  bool http_;
  bool keepAlive_;
  std::string response_;
  int epoll_ = -1;
  int stop_ = -1;
  std::vector<std::int8_t> state_;
  std::thread thread_;
  alignas(64) std::atomic<std::uint64_t> served_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> errors_{0};
};

// This process's CPU so far, user and system, in ms.
std::pair<double, double> cpuMs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
  };
  return {ms(u.ru_utime), ms(u.ru_stime)};
}

int run(const Options& o) {
  bool http = o.mode == "http";
  auto ips = benchAddresses(o.base, o.count);
  raiseFileLimit(static_cast<rlim_t>(o.count) + 65536);

  std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                         std::to_string(o.body.size()) + "\r\n" +
                         (o.keepAlive ? "" : "Connection: close\r\n") + "\r\n" + o.body;
  // Signals go to sigwaitinfo() here, never to the workers (blocked before they start).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t)
    workers.push_back(std::make_unique<Worker>(http, o.keepAlive, response));
  for (std::size_t i = 0; i < ips.size(); ++i) workers[i % workers.size()]->listen(ips[i], o.port);
  for (auto& w : workers) w->start();

  auto report = [&](const char* what) {
    std::uint64_t served = 0, accepted = 0, errors = 0;
    for (auto& w : workers) {
      served += w->served();
      accepted += w->accepted();
      errors += w->errors();
    }
    auto [user, sys] = cpuMs();
    std::printf("%s %llu accepted %llu errors %llu cpu_ms %.0f user_ms %.0f sys_ms %.0f\n", what,
                static_cast<unsigned long long>(served), static_cast<unsigned long long>(accepted),
                static_cast<unsigned long long>(errors), user + sys, user, sys);
    std::fflush(stdout);
  };
  std::printf("ready %zu\n", ips.size());
  std::fflush(stdout);
  for (;;) {
    siginfo_t info{};
    int sig = sigwaitinfo(&signals, &info);
    if (sig == SIGUSR1) {
      report("served");
    } else if (sig == SIGTERM || sig == SIGINT) {
      break;
    }
  }
  for (auto& w : workers) w->stop();
  report("served");
  return 0;
}

}  // namespace
}  // namespace quorate::bench

int main(int argc, char** argv) {
  quorate::bench::Options o;
  CLI::App app{
      "quorate-check-targets: real servers for the health-check benchmark, one answer per "
      "connection on N loopback addresses (bench/run_check_bench.sh)"};
  app.add_option("--count", o.count, "addresses to listen on")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--port", o.port, "TCP port on each")->check(CLI::Range(1, 65535))->required();
  app.add_option("--base", o.base,
                 "first address (127.0.0.0/8 or 198.18.0.0/15); .0 and .255 are skipped")
      ->capture_default_str();
  app.add_option("--mode", o.mode, "http: answer 200 after the request; tcp: accept and close")
      ->check(CLI::IsMember({"http", "tcp"}))
      ->capture_default_str();
  app.add_option("--body", o.body, "HTTP body")->capture_default_str();
  app.add_flag("--keep-alive", o.keepAlive,
               "http: keep each connection for its next request (no Connection: close)");
  app.add_option("--threads", o.threads, "epoll threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return quorate::bench::run(o);
  } catch (const std::exception& e) {
    std::cerr << "quorate-check-targets: FAILED: " << e.what() << "\n";
    return 1;
  }
}
