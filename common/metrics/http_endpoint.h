// The /metrics HTTP endpoint: Boost.Beast on its own thread and io_context. GET /metrics only
// (404 for another path, 405 for another method), requests bounded in size, connections capped
// and timed out, so that a slow or hostile client cannot hold it. Unauthenticated: it listens
// only where it is configured to (loopback in every example).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace quorate::metrics {

class HttpEndpoint {
 public:
  struct Options {
    // At the cap, a new connection takes the place of the one that has waited longest for a
    // request (idle kept-alive or silent); only when every connection is busy answering is the
    // new one closed at once. So idle clients cannot lock a scraper out.
    std::size_t maxConnections = 16;
    // A request (its headers) must arrive within this; an idle kept-alive connection is closed
    // after it too.
    std::chrono::milliseconds readTimeout{5000};
    std::size_t maxRequestBytes = 8192;  // request line and headers; a body is refused (413)
  };
  struct Counters {
    std::uint64_t scrapes = 0;   // 200s
    std::uint64_t refused = 0;   // 4xx answered
    std::uint64_t failed = 0;    // 503s: the collector failed
    std::uint64_t rejected = 0;  // new connections closed at once: the cap was busy answering
    std::uint64_t evicted = 0;   // waiting connections closed to make room for a new one
  };
  // The body of a 200, or a Status whose message is the 503's body.
  using Collect = std::function<Result<std::string>()>;

  // Binds `listen` ("ip:port", "[ipv6]:port"; port 0 picks one) and serves on its own thread.
  // A failure names the address and why. `collect` runs on the endpoint's thread, one scrape
  // at a time.
  static Result<std::unique_ptr<HttpEndpoint>> start(const std::string& listen, Collect collect,
                                                     Options options);
  static Result<std::unique_ptr<HttpEndpoint>> start(const std::string& listen, Collect collect) {
    return start(listen, std::move(collect), Options{});
  }
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // Closes the listener and every connection and joins the thread. Idempotent.
  void stop();
  int port() const;
  // Any thread (a copy made on the endpoint's thread).
  Counters counters() const;

  class Impl;

 private:
  explicit HttpEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace quorate::metrics
