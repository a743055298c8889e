// One thread runs the acceptor and every connection (Beast, asynchronous, one deadline per
// read and write); the collector runs there too, one scrape at a time.
#include "common/metrics/http_endpoint.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <optional>
#include <thread>

#include "common/metrics/exposition.h"

namespace quorate::metrics {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// "127.0.0.1:9362", "[::1]:9362": an address literal and a port (0: any free one).
Result<tcp::endpoint> parseListen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::fail(EINVAL, "metrics listen " + listen + ": expected ip:port or [ipv6]:port");
  }
  std::string host = listen.substr(0, colon);
  const std::string portText = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = -1;
  if (!portText.empty() && portText.size() <= 5 &&
      portText.find_first_not_of("0123456789") == std::string::npos) {
    port = std::stoi(portText);
  }
  if (port < 0 || port > 65535) {
    return Status::fail(EINVAL, "metrics listen " + listen + ": bad port \"" + portText + "\"");
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    return Status::fail(EINVAL, "metrics listen " + listen + ": \"" + host +
                                    "\" is not an IP address (names are not resolved)");
  }
  return tcp::endpoint(address, static_cast<std::uint16_t>(port));
}

}  // namespace

class HttpEndpoint::Impl {
 public:
  Impl(Collect collect, Options options) : collect_(std::move(collect)), options_(options) {}

  Status listen(const tcp::endpoint& at, const std::string& text) {
    boost::system::error_code ec;
    acceptor_.open(at.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(at, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::fail(ec.value(), "metrics: cannot listen on " + text);
    port_ = acceptor_.local_endpoint().port();
    return Status::ok();
  }

  void run() {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }

  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      io_.stop();
    });
    thread_.join();
  }

  int port() const { return port_; }
  Counters counters() const {
    return {scrapes_.load(), refused_.load(), failed_.load(), rejected_.load(), evicted_.load()};
  }

 private:
  class Session;

  void accept();
  // At the cap: closes the session that has waited longest for a request; false if every
  // session is busy answering one.
  bool evictOldestWaiting();

  // Sessions register themselves: constructed and destroyed on the endpoint's thread only.
  std::list<Session*> sessions_;
  std::atomic<std::uint64_t> scrapes_{0}, refused_{0}, failed_{0}, rejected_{0}, evicted_{0};
  Collect collect_;
  Options options_;
  int port_ = 0;
  asio::io_context io_;  // after what sessions touch: its handlers (and sessions) die first
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
};

class HttpEndpoint::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& impl, tcp::socket socket)
      : impl_(impl), stream_(std::move(socket)), buffer_(impl.options_.maxRequestBytes) {
    self_ = impl_.sessions_.insert(impl_.sessions_.end(), this);
  }
  ~Session() { impl_.sessions_.erase(self_); }

  void start() { read(); }

  // Waiting for a request since (nullopt: answering one).
  const std::optional<std::chrono::steady_clock::time_point>& waitingSince() const {
    return waitingSince_;
  }
  bool closed() const { return closed_; }
  // Closes the socket: the pending read completes with an error and the session goes.
  void evict() {
    waitingSince_.reset();
    close();
  }

 private:
  void read() {
    waitingSince_ = std::chrono::steady_clock::now();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(impl_.options_.maxRequestBytes));
    stream_.expires_after(impl_.options_.readTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onRead(ec); });
  }

  void onRead(beast::error_code ec) {
    waitingSince_.reset();
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return respond(http::status::request_header_fields_too_large, "request too large\n", false);
    }
    if (ec == http::error::unexpected_body || ec == http::error::body_limit) {
      return respond(http::status::payload_too_large, "a request body is not accepted\n", false);
    }
    if (ec) return close();  // end of stream, timeout, garbage: nothing worth an answer
    const auto& req = parser_->get();
    const bool keepAlive = req.keep_alive();
    if (req.method() != http::verb::get) {
      return respond(http::status::method_not_allowed, "only GET\n", keepAlive);
    }
    const auto target = req.target();
    if (target != "/metrics" && target.substr(0, 9) != "/metrics?") {
      return respond(http::status::not_found, "not found: try /metrics\n", keepAlive);
    }
    Result<std::string> body = Status::fail(0, "no collector");
    try {
      body = impl_.collect_();
    } catch (const std::exception& e) {
      body = Status::fail(0, std::string("metrics: ") + e.what());
    }
    if (!body) {
      impl_.failed_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("metrics scrape failed: {}", body.status().message());
      return respond(http::status::service_unavailable, body.status().message() + "\n", keepAlive);
    }
    impl_.scrapes_.fetch_add(1, std::memory_order_relaxed);
    respond(http::status::ok, std::move(body).value(), keepAlive, kContentType);
  }

  void respond(http::status status, std::string body, bool keepAlive,
               std::string_view type = "text/plain; charset=utf-8") {
    if (status != http::status::ok && status != http::status::service_unavailable) {
      impl_.refused_.fetch_add(1, std::memory_order_relaxed);
    }
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "quorate");
    res->set(http::field::content_type, beast::string_view(type.data(), type.size()));
    if (status == http::status::method_not_allowed) res->set(http::field::allow, "GET");
    res->keep_alive(keepAlive);
    res->body() = std::move(body);
    res->prepare_payload();
    stream_.expires_after(impl_.options_.readTimeout);
    http::async_write(
        stream_, *res,
        [self = shared_from_this(), res, keepAlive](beast::error_code ec, std::size_t) {
          if (ec || !keepAlive) return self->close();
          self->read();
        });
  }

  void close() {
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  Impl& impl_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<std::chrono::steady_clock::time_point> waitingSince_;
  bool closed_ = false;
  std::list<Session*>::iterator self_;
};

bool HttpEndpoint::Impl::evictOldestWaiting() {
  Session* oldest = nullptr;
  for (Session* s : sessions_) {
    if (s->waitingSince() && (!oldest || *s->waitingSince() < *oldest->waitingSince())) {
      oldest = s;
    }
  }
  if (!oldest) return false;
  // Its count drops when its read handler runs; the new session is admitted now, so the cap
  // can be passed by the evicted ones still unwinding, never by live ones.
  oldest->evict();
  evicted_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void HttpEndpoint::Impl::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      std::size_t live = 0;
      for (Session* s : sessions_) live += s->closed() ? 0 : 1;
      if (live >= options_.maxConnections && !evictOldestWaiting()) {
        // Every connection is busy answering: this one is closed at once.
        rejected_.fetch_add(1, std::memory_order_relaxed);
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(*this, std::move(socket))->start();
      }
    }
    accept();
  });
}

HttpEndpoint::HttpEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpEndpoint::~HttpEndpoint() { stop(); }

Result<std::unique_ptr<HttpEndpoint>> HttpEndpoint::start(const std::string& listen,
                                                          Collect collect, Options options) {
  auto at = parseListen(listen);
  if (!at) return at.status();
  auto impl = std::make_unique<Impl>(std::move(collect), options);
  if (const Status st = impl->listen(*at, listen); !st) return st;
  impl->run();
  return std::unique_ptr<HttpEndpoint>(new HttpEndpoint(std::move(impl)));
}

void HttpEndpoint::stop() {
  if (impl_) impl_->stop();
}

int HttpEndpoint::port() const { return impl_->port(); }

HttpEndpoint::Counters HttpEndpoint::counters() const { return impl_->counters(); }

}  // namespace quorate::metrics
