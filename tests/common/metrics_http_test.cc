// The /metrics endpoint over real loopback sockets: answers, refusals (method, path, size), the
// connection cap (100 idle clients cannot lock a scraper out; busy ones can fill it), the read
// deadline, and a bind error that names the address.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics/http_endpoint.h"

namespace quorate::metrics {
namespace {

using namespace std::chrono_literals;

int connectTo(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until the peer closes or `limit` passes; "" if nothing came.
std::string readAll(int fd, std::chrono::milliseconds limit) {
  std::string out;
  const auto until = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 0))) <= 0) break;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Whether the server closed `fd` (EOF or reset) within `limit`, having sent nothing.
bool closedByServer(int fd, std::chrono::milliseconds limit) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
  char c;
  return ::read(fd, &c, 1) <= 0;
}

std::string request(int port, const std::string& text) {
  const int fd = connectTo(port);
  if (fd < 0) return "";
  if (::write(fd, text.data(), text.size()) < 0) {
    ::close(fd);
    return "";
  }
  std::string out = readAll(fd, 5s);
  ::close(fd);
  return out;
}

std::string get(int port, const std::string& path = "/metrics") {
  return request(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

class MetricsHttp : public ::testing::Test {
 protected:
  void start(HttpEndpoint::Options o = {}) {
    auto e = HttpEndpoint::start(
        "127.0.0.1:0",
        [this]() -> Result<std::string> {
          ++calls_;
          if (fail_) return Status::fail(0, "the loop did not answer");
          if (bigBody_) return std::string(4 << 20, '#') + "\nup 1\n";
          return std::string("up 1\n");
        },
        o);
    ASSERT_TRUE(e) << e.status().message();
    endpoint_ = std::move(e).value();
    port_ = endpoint_->port();
    ASSERT_GT(port_, 0);
  }
  std::unique_ptr<HttpEndpoint> endpoint_;
  int port_ = 0;
  std::atomic<int> calls_{0};
  std::atomic<bool> fail_{false};
  std::atomic<bool> bigBody_{false};  // 4 MiB: a client that does not read keeps its write busy
};

TEST_F(MetricsHttp, GetMetricsAnswersWithTheTextFormat) {
  start();
  const std::string r = get(port_);
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r;
  EXPECT_EQ(r.substr(r.size() - 5), "up 1\n");
  EXPECT_EQ(calls_, 1);
  EXPECT_EQ(endpoint_->counters().scrapes, 1u);
}

TEST_F(MetricsHttp, KeepAliveServesTwoScrapesOnOneConnection) {
  start();
  const int fd = connectTo(port_);
  ASSERT_GE(fd, 0);
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string both;
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    both += readAll(fd, 300ms);  // the connection stays open: read what came
  }
  ::close(fd);
  EXPECT_EQ(calls_, 2);
  EXPECT_NE(both.find("HTTP/1.1 200"), both.rfind("HTTP/1.1 200")) << both;
}

TEST_F(MetricsHttp, OtherMethodsAre405AndOtherPaths404) {
  start();
  const std::string post =
      request(port_, "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u) << post;
  EXPECT_NE(post.find("Allow: GET"), std::string::npos) << post;
  const std::string head =
      request(port_, "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 405", 0), 0u) << head;
  EXPECT_EQ(get(port_, "/").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(get(port_, "/metricsx").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(get(port_, "/metrics?name[]=x").rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(calls_, 1);  // refusals never reach the collector
}

TEST_F(MetricsHttp, OversizeRequestsAndBodiesAreRefused) {
  start();
  const std::string big = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(20000, 'a') +
                          "\r\nConnection: close\r\n\r\n";
  const std::string r = request(port_, big);
  EXPECT_EQ(r.rfind("HTTP/1.1 431", 0), 0u) << r.substr(0, 200);
  const std::string body = request(
      port_,
      "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  EXPECT_EQ(body.rfind("HTTP/1.1 413", 0), 0u) << body;
  EXPECT_EQ(calls_, 0);
  EXPECT_EQ(get(port_).rfind("HTTP/1.1 200", 0), 0u);  // and it still serves
}

TEST_F(MetricsHttp, CollectorFailureIs503NamingWhy) {
  start();
  fail_ = true;
  const std::string r = get(port_);
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
  EXPECT_NE(r.find("the loop did not answer"), std::string::npos) << r;
  EXPECT_EQ(endpoint_->counters().failed, 1u);
}

TEST_F(MetricsHttp, HundredIdleConnectionsCannotLockAScraperOut) {
  HttpEndpoint::Options o;
  o.maxConnections = 16;
  o.readTimeout = 30s;  // longer than the test: only the cap can free anything
  start(o);
  std::vector<int> idle;
  for (int i = 0; i < 100; ++i) {
    const int fd = connectTo(port_);
    ASSERT_GE(fd, 0) << i;
    idle.push_back(fd);
    // One at a time, so "the oldest" is well defined: the endpoint has taken this one in
    // before the next arrives (a scrape round trip on a fresh connection orders them).
    if (i % 10 == 9) {
      ASSERT_EQ(get(port_).rfind("HTTP/1.1 200", 0), 0u) << i;
    }
  }
  // Each newcomer took the place of the connection that had waited longest: at most the last
  // 16 are still held, and every scrape above got in while they were.
  int closed = 0;
  for (std::size_t i = 0; i < idle.size(); ++i) {
    const bool c = closedByServer(idle[i], 20ms);
    closed += c ? 1 : 0;
    if (i >= idle.size() - 5) {
      EXPECT_FALSE(c) << "a newest idle connection was closed: " << i;
    }
  }
  EXPECT_GE(closed, 84);
  EXPECT_EQ(endpoint_->counters().rejected, 0u);
  EXPECT_GE(endpoint_->counters().evicted, 84u);
  EXPECT_EQ(get(port_).rfind("HTTP/1.1 200", 0), 0u);  // and a scrape now still gets in
  for (int fd : idle) ::close(fd);
}

TEST_F(MetricsHttp, WhenEveryConnectionIsBusyANewOneIsClosedAtOnce) {
  HttpEndpoint::Options o;
  o.maxConnections = 4;
  o.readTimeout = 30s;
  start(o);
  bigBody_ = true;
  // Four clients ask and never read: each session is stuck writing 4 MiB, none is waiting.
  std::vector<int> busy;
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 4; ++i) {
    const int fd = connectTo(port_);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    busy.push_back(fd);
  }
  for (int i = 0; i < 200 && calls_ < 4; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(calls_, 4);
  const int late = connectTo(port_);
  ASSERT_GE(late, 0);
  EXPECT_TRUE(closedByServer(late, 5s));
  ::close(late);
  EXPECT_EQ(endpoint_->counters().rejected, 1u);
  EXPECT_EQ(endpoint_->counters().evicted, 0u);
  for (int fd : busy) ::close(fd);
}

TEST_F(MetricsHttp, SilentClientIsDroppedAtTheReadDeadline) {
  HttpEndpoint::Options o;
  o.readTimeout = 200ms;
  start(o);
  const int fd = connectTo(port_);
  ASSERT_GE(fd, 0);
  const std::string partial = "GET /metrics HTTP/1.1\r\n";  // and then nothing
  ASSERT_EQ(::write(fd, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
  EXPECT_TRUE(closedByServer(fd, 10s));
  ::close(fd);
  EXPECT_EQ(calls_, 0);
}

TEST(MetricsHttpListen, BindErrorNamesTheAddress) {
  auto first = HttpEndpoint::start("127.0.0.1:0", [] { return Result<std::string>(""); });
  ASSERT_TRUE(first);
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = HttpEndpoint::start(taken, [] { return Result<std::string>(""); });
  ASSERT_FALSE(second);
  EXPECT_NE(second.status().message().find(taken), std::string::npos) << second.status().message();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos)
      << second.status().message();
  auto name = HttpEndpoint::start("localhost:9362", [] { return Result<std::string>(""); });
  ASSERT_FALSE(name);
  EXPECT_NE(name.status().message().find("not an IP address"), std::string::npos);
}

}  // namespace
}  // namespace quorate::metrics
