// The network probes (keepalived's TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK, DNS_CHECK): one
// attempt each, asynchronous on the io_context, with one deadline that closes the socket.
//
// Every attempt is a fresh object shared by its handlers. The probe only points at it: destroying
// the probe marks the attempt abandoned and closes its socket, and the handlers still queued
// then see the mark and return without calling anyone.
//
// A TCP probe keeps its socket from one attempt to the next (SpareSocket): an attempt that ends
// with no operation pending disconnects it instead of closing it (connect to AF_UNSPEC, which
// resets the connection as a close with SO_LINGER 0 does), and the next attempt connects it
// again. That spares, per check, the socket's creation, options, epoll registration and close:
// five of eleven system calls, and the kernel's work behind them (docs/bench-checks.md).
//
// A plain HTTP check with requests_per_connection N > 1 keeps more: an answered connection the
// server left open (HTTP/1.1 keep-alive, a body of known length) stays connected for the next
// attempt, up to N replies. A kept connection the server has closed meanwhile (its idle timeout)
// is seen by a peek before the request goes out, or fails before any byte of a reply; either way
// the attempt connects afresh, once, within its deadline.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "server/check/digest.h"
#include "server/check/http_fetch.h"
#include "server/check/probes_internal.h"

namespace quorate::server::check {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using boost::system::error_code;

constexpr std::size_t kMaxBody = 16 * 1024 * 1024;
constexpr std::size_t kMaxHeader = 64 * 1024;
constexpr std::size_t kMaxSmtpLine = 4096;
constexpr std::size_t kMaxDnsReply = 4096;  // no EDNS in the query: replies are <= 512 bytes

asio::ip::address toAsio(const net::IpAddress& address) {
  if (address.isV4()) {
    asio::ip::address_v4::bytes_type bytes;
    std::copy_n(address.bytes.begin(), bytes.size(), bytes.begin());
    return asio::ip::address_v4(bytes);
  }
  asio::ip::address_v6::bytes_type bytes;
  std::copy_n(address.bytes.begin(), bytes.size(), bytes.begin());
  return asio::ip::address_v6(bytes);
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// A socket error as a short lowercase reason.
std::string errorReason(const error_code& ec) {
  namespace e = asio::error;
  if (ec == e::connection_refused) return "connection refused";
  if (ec == e::connection_reset || ec == e::broken_pipe) return "connection reset";
  if (ec == e::host_unreachable) return "no route to host";
  if (ec == e::network_unreachable) return "network unreachable";
  if (ec == e::connection_aborted) return "connection aborted";
  if (ec == e::timed_out) return "timed out";
  if (ec == e::eof) return "connection closed";
  return lowercase(ec.message());
}

// A TLS handshake error: OpenSSL's reason, and for a refused certificate the verifier's.
std::string tlsReason(const error_code& ec, SSL* ssl) {
  if (ec == ssl::error::stream_truncated || ec == asio::error::eof) return "connection closed";
  if (ec.category() != asio::error::get_ssl_category()) return errorReason(ec);
  const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  std::string text = reason != nullptr ? reason : "error " + std::to_string(ec.value());
  if (ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    const long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK)
      text += std::string(" (") + X509_verify_cert_error_string(result) + ")";
  }
  return text;
}

// Opens `socket` for the target's family and binds it to the target's source address, if any.
// Returns "" or why it failed.
template <class Socket, class Protocol>
std::string openSocket(Socket& socket, const Target& target) {
  const asio::ip::address address = toAsio(target.address);
  error_code ec;
  socket.open(address.is_v4() ? Protocol::v4() : Protocol::v6(), ec);
  if (ec) return "cannot open a socket: " + errorReason(ec);
  if constexpr (std::is_same_v<Protocol, tcp>) {
    // As keepalived does: closing resets the connection, so no FIN handshake and no TIME_WAIT
    // entry per check (10,000 checks a second would keep 600,000 of them).
    socket.set_option(asio::socket_base::linger(true, 0), ec);
    // Connect (Attempt::connect) calls connect(2) itself, which must not block.
    socket.non_blocking(true, ec);
    if (ec) return "cannot make a socket non-blocking: " + errorReason(ec);
  }
  if (target.bindTo) {
    socket.bind(typename Protocol::endpoint(toAsio(*target.bindTo), 0), ec);
    if (ec) return "cannot bind to " + target.bindTo->toString() + ": " + errorReason(ec);
  }
  return {};
}

Outcome failed(Outcome*, std::string reason) { return Outcome{false, std::move(reason), {}}; }
HttpReply failed(HttpReply*, std::string reason) {
  HttpReply reply;
  reply.error = std::move(reason);
  return reply;
}

// The TCP socket a probe keeps between its attempts (see the top of this file): disconnected,
// or still connected after `replies` HTTP replies; closed with the last of the probe and its
// attempts.
struct SpareSocket {
  std::optional<tcp::socket> socket;
  int replies = 0;  // > 0: connected, that many replies read on this connection
};

// What the handlers of one attempt share: the deadline, the caller's callback, and whether the
// attempt is over (finished, or abandoned by its probe).
template <class Result>
class Attempt : public std::enable_shared_from_this<Attempt<Result>> {
 public:
  using Done = std::function<void(Result)>;
  // `spare`: a TCP attempt's probe's (takeSocket, endSocket); null for UDP.
  Attempt(asio::io_context& io, std::shared_ptr<SpareSocket> spare)
      : timer_(io), spare_(std::move(spare)) {}
  virtual ~Attempt() = default;
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;

  // The probe is gone or starts another attempt: nobody is called back any more.
  void abandon() {
    finished_ = true;
    done_ = nullptr;
    timer_.cancel();
    closeSocket(false);
  }

 protected:
  // Starts the deadline of the whole attempt.
  void arm(Done done, std::chrono::milliseconds timeout) {
    done_ = std::move(done);
    timer_.expires_after(timeout);
    timer_.async_wait([self = this->shared_from_this()](const error_code& ec) {
      // An operation is pending: the socket is closed, not kept.
      if (!ec && !self->finished_) {
        self->finish(failed(static_cast<Result*>(nullptr), self->waiting_), false);
      }
    });
  }
  // What a timeout now reports ("timeout while connecting", "timeout waiting for the reply").
  void waiting(const char* reason) { waiting_ = reason; }
  bool over() const { return finished_; }

  // `keepSocket`: no operation is pending on the socket (the attempt ends in a handler), so a
  // TCP socket may be kept for the probe's next attempt.
  void finish(Result result, bool keepSocket = true) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    closeSocket(keepSocket);
    Done done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));  // may destroy the probe, or start its next attempt
  }
  void fail(std::string reason) {
    finish(failed(static_cast<Result*>(nullptr), std::move(reason)));
  }
  // The socket for a TCP attempt: the probe's spare one (disconnected, or connected: see
  // takenReplies) or a new one (closed; connect() opens it).
  tcp::socket takeSocket(asio::io_context& io) {
    if (spare_ && spare_->socket) {
      tcp::socket socket = std::move(*spare_->socket);
      spare_->socket.reset();
      takenReplies_ = std::exchange(spare_->replies, 0);
      return socket;
    }
    return tcp::socket(io);
  }
  // > 0: takeSocket gave a connection still up, which has carried that many replies.
  int takenReplies() const { return takenReplies_; }
  // Keeps `socket` connected for the probe's next attempt, which takes it with takenReplies()
  // `replies` (HTTP keep-alive); closes it when the probe is gone.
  void keepConnected(tcp::socket& socket, int replies) {
    if (spare_ && socket.is_open()) {
      spare_->socket.emplace(std::move(socket));
      spare_->replies = replies;
      return;
    }
    error_code ignored;
    socket.close(ignored);
  }
  // Resets `socket`'s connection and leaves it open for connecting again (closed if that fails).
  static void disconnect(tcp::socket& socket) {
    sockaddr unspecified{};
    unspecified.sa_family = AF_UNSPEC;
    if (::connect(socket.native_handle(), &unspecified, sizeof unspecified) != 0) {
      error_code ignored;
      socket.close(ignored);
    }
  }
  // The end of a TCP attempt's socket: disconnected and kept for the probe's next attempt when
  // `keep` allows it, else (or if the disconnect fails) closed. Either resets the connection.
  void endSocket(tcp::socket& socket, bool keep) {
    error_code ignored;
    if (keep && spare_ && socket.is_open()) {
      socket.cancel(ignored);
      disconnect(socket);
      if (socket.is_open()) spare_->socket.emplace(std::move(socket));
      return;
    }
    socket.close(ignored);
  }

  // Opens `socket` for `target` (openSocket) unless it is a kept one, and starts connecting it:
  // "" or why it could not.
  std::string startConnect(tcp::socket& socket, const Target& target) {
    if (!socket.is_open()) {
      if (std::string error = openSocket<tcp::socket, tcp>(socket, target); !error.empty()) {
        error_code ignored;
        socket.close(ignored);  // not kept: the next attempt must bind it again
        return error;
      }
    }
    const tcp::endpoint endpoint(toAsio(target.address), target.port);
    if (::connect(socket.native_handle(), endpoint.data(), endpoint.size()) != 0 &&
        errno != EINPROGRESS) {
      return errorReason(error_code(errno, asio::error::get_system_category()));
    }
    return {};
  }
  // startConnect(), then `connected` runs once the socket is connected, unless the attempt is
  // over by then. A failure to start fails the attempt from the io_context, a failed connect
  // with the socket's error. One wait for writability and SO_ERROR: Asio's async_connect adds a
  // poll(2) per connection.
  template <class Connected>
  void connect(tcp::socket& socket, const Target& target, Connected connected) {
    if (std::string error = startConnect(socket, target); !error.empty()) {
      return failSoon(std::move(error));
    }
    // Connected at once (never for TCP on Linux, but allowed) or in progress: either way the
    // socket becomes writable, and SO_ERROR tells how the connect went.
    socket.async_wait(
        tcp::socket::wait_write, [self = this->shared_from_this(), &socket,
                                  connected = std::move(connected)](error_code ec) mutable {
          if (self->finished_) return;
          if (!ec) {
            int error = 0;
            socklen_t size = sizeof error;
            if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) {
              error = errno;
            }
            if (error != 0) ec = error_code(error, asio::error::get_system_category());
          }
          if (ec) return self->fail(errorReason(ec));
          connected();
        });
  }
  // A failure found inside start(): reported from the io_context, never from start() itself.
  void failSoon(std::string reason) {
    asio::post(timer_.get_executor(),
               [self = this->shared_from_this(), reason = std::move(reason)]() mutable {
                 if (!self->finished_) self->fail(std::move(reason));
               });
  }
  // Ends the attempt's socket: endSocket() for TCP (`keep` as there), a close for UDP.
  virtual void closeSocket(bool keep) = 0;

 private:
  asio::steady_timer timer_;
  std::shared_ptr<SpareSocket> spare_;
  Done done_;
  bool finished_ = false;
  const char* waiting_ = "timeout while connecting";
  int takenReplies_ = 0;
};

// Runs attempts of one kind for a probe (or a fetch): one at a time, each a fresh object. An
// attempt lives as long as its handlers hold it: between two attempts a probe holds only its
// configuration and its spare socket (not the last attempt's buffers, parser or TLS state).
template <class Interface, class AttemptType>
class Runner final : public Interface {
 public:
  using Config = typename AttemptType::Config;
  Runner(ProbeContext& ctx, std::shared_ptr<const Config> config)
      : ctx_(ctx), config_(std::move(config)) {}
  ~Runner() override {
    if (auto attempt = current_.lock()) attempt->abandon();
  }
  void start(typename Interface::Done done) override {
    if (auto attempt = current_.lock()) attempt->abandon();
    auto attempt = std::make_shared<AttemptType>(ctx_, config_, spare_);
    current_ = attempt;
    attempt->run(std::move(done));  // its deadline's handler holds it from here
  }

 private:
  ProbeContext& ctx_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<SpareSocket> spare_ = std::make_shared<SpareSocket>();
  std::weak_ptr<AttemptType> current_;
};

// ---- tcp: connect, then close.

struct TcpConfig {
  Target target;
  std::chrono::milliseconds timeout;
};

class TcpAttempt final : public Attempt<Outcome> {
 public:
  using Config = TcpConfig;
  TcpAttempt(ProbeContext& ctx, std::shared_ptr<const Config> config,
             std::shared_ptr<SpareSocket> spare)
      : Attempt(ctx.io(), std::move(spare)),
        config_(std::move(config)),
        socket_(takeSocket(ctx.io())) {}

  void run(Done done) {
    arm(std::move(done), config_->timeout);
    connect(socket_, config_->target,
            [self = std::static_pointer_cast<TcpAttempt>(shared_from_this())] {
              self->finish(Outcome{true, "connected", {}});  // resets the connection
            });
  }

 private:
  void closeSocket(bool keep) override { endSocket(socket_, keep); }

  std::shared_ptr<const Config> config_;
  tcp::socket socket_;
};

// ---- http(s): one GET, the whole reply read by Beast's parser. With Connection: close unless
// the check keeps its connection (requestsPerConnection > 1).

struct HttpConfig {
  Target target;
  std::chrono::milliseconds timeout;
  std::string request;  // the whole request, serialised once
  int requestsPerConnection = 1;
  bool tls = false;
  bool verify = false;
  std::string caFile;
  std::string sni;         // empty: none sent
  std::string verifyName;  // verify: the name (or IP address) the certificate must be for
};

std::string hostHeader(const HttpSpec& spec, const Target& target) {
  if (!spec.virtualHost.empty()) return spec.virtualHost;
  std::string host =
      target.address.isV6() ? "[" + target.address.toString() + "]" : target.address.toString();
  if (target.port != (spec.tls ? 443 : 80)) host += ":" + std::to_string(target.port);
  return host;
}

// The host part of a Host header value: "www.example.com:8080" -> "www.example.com",
// "[2001:db8::1]:443" -> "2001:db8::1".
std::string hostOnly(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const std::size_t end = host.find(']');
    return std::string(host.substr(1, end == std::string_view::npos ? end : end - 1));
  }
  if (host.find(':') != host.rfind(':')) return std::string(host);  // a bare IPv6 address
  return std::string(host.substr(0, host.find(':')));
}

std::shared_ptr<const HttpConfig> makeHttpConfig(const HttpSpec& spec, const Target& target,
                                                 std::chrono::milliseconds timeout) {
  auto config = std::make_shared<HttpConfig>();
  config->target = target;
  config->timeout = timeout;
  http::request<http::empty_body> request{http::verb::get, spec.path.empty() ? "/" : spec.path, 11};
  request.set(http::field::host, hostHeader(spec, target));
  request.set(http::field::user_agent, "quorate");
  // HTTP/1.1 keeps a connection open unless told to close it.
  if (spec.requestsPerConnection <= 1 || spec.tls) request.set(http::field::connection, "close");
  std::ostringstream text;
  text << request;
  config->request = text.str();
  config->requestsPerConnection = spec.tls ? 1 : std::max(1, spec.requestsPerConnection);
  config->tls = spec.tls;
  config->verify = spec.verify;
  config->caFile = spec.caFile;
  config->sni = spec.sni;
  if (spec.verify) {
    config->verifyName = !spec.sni.empty() ? spec.sni : hostOnly(spec.virtualHost);
    if (config->verifyName.empty()) config->verifyName = target.address.toString();
  }
  return config;
}

template <bool kTls>
class HttpAttempt final : public Attempt<HttpReply> {
 public:
  using Config = HttpConfig;
  using Stream = std::conditional_t<kTls, ssl::stream<tcp::socket>, tcp::socket>;

  HttpAttempt(ProbeContext& ctx, std::shared_ptr<const Config> config,
              std::shared_ptr<SpareSocket> spare)
      : Attempt(ctx.io(), std::move(spare)),
        config_(std::move(config)),
        stream_(makeStream(ctx, *config_, contextError_)) {
    newParser();
  }

  void run(Done done) {
    arm(std::move(done), config_->timeout);
    if (!contextError_.empty()) return failSoon(std::move(contextError_));
    if constexpr (kTls) {
      if (std::string error = prepareTls(); !error.empty()) return failSoon(std::move(error));
      connect(socket(), config_->target, [self = self()] { self->onConnect(); });
    } else if (!reusing_) {
      connectAndSend();
    } else if (closedByPeer(socket())) {
      connectAfresh();  // closed by the server while it was idle
    } else {
      waiting("timeout waiting for the reply");
      send();  // on the kept connection
    }
  }

 private:
  // Without a usable TLS context (an unreadable caFile) `error` is set and run() fails; the
  // stream still needs some context to exist.
  Stream makeStream(ProbeContext& ctx, const Config& config, std::string& error) {
    if constexpr (kTls) {
      ssl::context* context = tlsClientContext(ctx, config.verify, config.caFile, &error);
      if (context == nullptr) {
        static thread_local ssl::context fallback(ssl::context::tls_client);
        return Stream(takeSocket(ctx.io()), fallback);
      }
      return Stream(takeSocket(ctx.io()), *context);
    } else {
      return takeSocket(ctx.io());
    }
  }

  std::shared_ptr<HttpAttempt> self() {
    return std::static_pointer_cast<HttpAttempt>(shared_from_this());
  }
  void newParser() {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    parser_->header_limit(kMaxHeader);
  }

  // Plain HTTP: the request goes out as soon as connect(2) returns: its write completes once the
  // connection is up, or fails with the connect's error; no wait for writability first.
  void connectAndSend() {
    if (std::string error = startConnect(socket(), config_->target); !error.empty()) {
      return failSoon(std::move(error));
    }
    send();
  }

  // Whether the server closed (or reset) the kept connection while it was idle, or sent what
  // nobody asked for: one non-blocking peek, cheaper than a request written into the void.
  static bool closedByPeer(tcp::socket& socket) {
    char byte = 0;
    const ssize_t got = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return got >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
  }

  // Leaves the kept connection (reset) for a new one, and asks on that.
  void connectAfresh() {
    reusing_ = false;
    disconnect(socket());
    buffer_.clear();
    newParser();
    waiting("timeout while connecting");
    connectAndSend();
  }

  // A failure on a kept connection before any byte of a reply: the server closed it while it was
  // idle (or is gone). Once per attempt, connect afresh and ask again; returns whether it did.
  bool retryFresh(const error_code& ec) {
    if constexpr (kTls) {
      return false;
    } else {
      if (!reusing_ || parser_->got_some() || ec == asio::error::operation_aborted) return false;
      connectAfresh();
      return true;
    }
  }
  tcp::socket& socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  std::string prepareTls() {
    SSL* handle = stream_.native_handle();
    if (!config_->sni.empty() && SSL_set_tlsext_host_name(handle, config_->sni.c_str()) != 1) {
      return "TLS: bad SNI name " + config_->sni;
    }
    if (config_->verify) {
      const bool isIp = net::IpAddress::parse(config_->verifyName).has_value();
      const int set =
          isIp ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), config_->verifyName.c_str())
               : SSL_set1_host(handle, config_->verifyName.c_str());
      if (set != 1) return "TLS: cannot verify the name " + config_->verifyName;
    }
    return {};
  }

  void onConnect() {
    waiting("timeout during the TLS handshake");
    stream_.async_handshake(ssl::stream_base::client, [self = self()](const error_code& e) {
      if (self->over()) return;
      if (e) return self->fail("TLS handshake: " + tlsReason(e, self->stream_.native_handle()));
      self->waiting("timeout waiting for the reply");
      self->send();
    });
  }

  // Plain HTTP: until the request is written the timeout says "while connecting" (a request
  // this small waits for nothing else).
  void send() {
    asio::async_write(stream_, asio::buffer(config_->request),
                      [self = self()](const error_code& ec, std::size_t) {
                        if (self->over()) return;
                        if (ec && self->retryFresh(ec)) return;
                        if (ec) return self->fail(errorReason(ec));
                        self->waiting("timeout waiting for the reply");
                        self->receive();
                      });
  }

  // The header first: Beast 1.74 forgets a Content-Length over the body limit when it parses
  // the header and body in one go (eager), and would then read the whole body.
  void receive() {
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = self()](const error_code& ec, std::size_t) {
                              if (self->over()) return;
                              if (ec && self->retryFresh(ec)) return;
                              if (ec) return self->fail(readReason(ec, self->parser_->got_some()));
                              const auto length = self->parser_->content_length();
                              if (length && *length > kMaxBody) return self->fail("body too large");
                              self->receiveBody();
                            });
  }

  void receiveBody() {
    http::async_read(stream_, buffer_, *parser_, [self = self()](error_code ec, std::size_t) {
      if (self->over()) return;
      auto& parser = *self->parser_;
      if (ec == ssl::error::stream_truncated) {
        // A TLS server that closes without close_notify: fine if the reply was complete.
        error_code eofError;
        parser.put_eof(eofError);
        if (!eofError && parser.is_done()) ec = {};
      }
      if (ec) return self->fail(readReason(ec, parser.got_some()));
      // The connection may carry the next check: the server keeps it (HTTP/1.1, no Connection:
      // close, a body of known length), sent nothing more, and has replies to spare.
      const int replies = self->repliesBefore() + 1;
      if (replies < self->config_->requestsPerConnection && parser.keep_alive() &&
          self->buffer_.size() == 0) {
        self->keptReplies_ = replies;
      }
      HttpReply reply;
      reply.ok = true;
      reply.status = static_cast<int>(parser.get().result_int());
      reply.body = std::move(parser.get().body());
      self->finish(std::move(reply));
    });
  }

  static std::string readReason(const error_code& ec, bool gotSome) {
    if (ec == http::error::end_of_stream || (ec == asio::error::eof && !gotSome) ||
        (ec == ssl::error::stream_truncated && !gotSome)) {
      return "connection closed without a reply";
    }
    if (ec == http::error::body_limit) return "body too large";
    if (ec.category() == make_error_code(http::error::partial_message).category() ||
        ec == ssl::error::stream_truncated) {
      return "bad HTTP reply: " + ec.message();
    }
    return errorReason(ec);
  }

  // Replies the connection carried before this attempt's (0: a new connection).
  int repliesBefore() const { return reusing_ ? takenReplies() : 0; }

  // No TLS shutdown: the request said Connection: close.
  void closeSocket(bool keep) override {
    if (keep && keptReplies_ > 0) return keepConnected(socket(), keptReplies_);
    endSocket(socket(), keep);
  }

  std::shared_ptr<const Config> config_;
  std::string contextError_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  // On a kept connection (until retryFresh). After stream_, whose construction took the socket.
  bool reusing_ = takenReplies() > 0;
  int keptReplies_ = 0;  // > 0: keep the connection, with this many replies
};

// The fetch behind the http probe and genhash: picks the plain or the TLS attempt.
class HttpFetcher final : public HttpFetch {
 public:
  HttpFetcher(ProbeContext& ctx, std::shared_ptr<const HttpConfig> config) {
    if (config->tls) {
      runner_ = std::make_unique<Runner<HttpFetch, HttpAttempt<true>>>(ctx, std::move(config));
    } else {
      runner_ = std::make_unique<Runner<HttpFetch, HttpAttempt<false>>>(ctx, std::move(config));
    }
  }
  void start(Done done) override { runner_->start(std::move(done)); }

 private:
  std::unique_ptr<HttpFetch> runner_;
};

class HttpProbe final : public Probe {
 public:
  HttpProbe(const HttpSpec& spec, const Target& target, std::chrono::milliseconds timeout,
            ProbeContext& ctx)
      : fetch_(ctx, makeHttpConfig(spec, target, timeout)), statusCodes_(spec.statusCodes) {
    if (spec.digest) digest_ = lowercase(*spec.digest);
  }

  // Destroying fetch_ abandons the attempt, so the lambda below never runs without `this`.
  void start(Done done) override {
    fetch_.start([this, done = std::move(done)](HttpReply reply) { done(judge(reply)); });
  }

 private:
  Outcome judge(const HttpReply& reply) const {
    if (!reply.ok) return Outcome{false, reply.error, {}};
    const std::string status = "status " + std::to_string(reply.status);
    const bool statusOk =
        std::any_of(statusCodes_.begin(), statusCodes_.end(), [&](const StatusRange& range) {
          return reply.status >= range.low && reply.status <= range.high;
        });
    if (!statusOk) return Outcome{false, status, {}};
    if (digest_) {
      const std::optional<std::string> got = md5Hex(reply.body);
      if (!got) return Outcome{false, std::string("digest: ") + kMd5Unavailable, {}};
      if (*got != *digest_) return Outcome{false, "digest mismatch: got " + *got, {}};
    }
    return Outcome{true, status, {}};
  }

  HttpFetcher fetch_;
  std::vector<StatusRange> statusCodes_;
  std::optional<std::string> digest_;
};

// ---- smtp: the 220 banner, HELO answered 250, QUIT.

struct SmtpConfig {
  Target target;
  std::chrono::milliseconds timeout;
  std::string helo;  // "HELO name\r\n"
};

class SmtpAttempt final : public Attempt<Outcome> {
 public:
  using Config = SmtpConfig;
  SmtpAttempt(ProbeContext& ctx, std::shared_ptr<const Config> config,
              std::shared_ptr<SpareSocket> spare)
      : Attempt(ctx.io(), std::move(spare)),
        config_(std::move(config)),
        socket_(takeSocket(ctx.io())) {}

  void run(Done done) {
    arm(std::move(done), config_->timeout);
    connect(socket_, config_->target, [self = self()] {
      self->waiting("timeout waiting for the banner");
      self->readReply(&SmtpAttempt::onBanner, "the banner");
    });
  }

 private:
  using OnReply = void (SmtpAttempt::*)(int code);

  std::shared_ptr<SmtpAttempt> self() {
    return std::static_pointer_cast<SmtpAttempt>(shared_from_this());
  }

  // Reads one reply, all its lines ("220-first", "220 last"), and hands its code to `next`.
  void readReply(OnReply next, const char* what) {
    asio::async_read_until(
        socket_, asio::dynamic_buffer(input_, kMaxSmtpLine), '\n',
        [self = self(), next, what](const error_code& ec, std::size_t size) {
          if (self->over()) return;
          if (ec == asio::error::eof) {
            return self->fail(std::string("connection closed before ") + what);
          }
          if (ec == asio::error::not_found) return self->fail("SMTP reply line too long");
          if (ec) return self->fail(errorReason(ec));
          std::string_view line(self->input_.data(), size - 1);
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          const bool valid = line.size() >= 3 &&
                             std::all_of(line.begin(), line.begin() + 3,
                                         [](char c) { return c >= '0' && c <= '9'; }) &&
                             (line.size() == 3 || line[3] == ' ' || line[3] == '-');
          if (!valid) return self->fail(std::string("bad SMTP reply to ") + what);
          const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
          const bool more = line.size() > 3 && line[3] == '-';
          self->input_.erase(0, size);
          if (more) return self->readReply(next, what);
          ((*self).*next)(code);
        });
  }

  void onBanner(int code) {
    if (code != 220) return fail("banner " + std::to_string(code));
    waiting("timeout waiting for the HELO reply");
    asio::async_write(socket_, asio::buffer(config_->helo),
                      [self = self()](const error_code& ec, std::size_t) {
                        if (self->over()) return;
                        if (ec) return self->fail(errorReason(ec));
                        self->readReply(&SmtpAttempt::onHelo, "the HELO reply");
                      });
  }

  void onHelo(int code) {
    if (code != 250) return fail("HELO answered " + std::to_string(code));
    static constexpr std::string_view kQuit = "QUIT\r\n";
    // The server is healthy whatever becomes of the QUIT; its 221 is not waited for.
    asio::async_write(socket_, asio::buffer(kQuit.data(), kQuit.size()),
                      [self = self()](const error_code&, std::size_t) {
                        self->finish(Outcome{true, "banner 220, HELO 250", {}});
                      });
  }

  void closeSocket(bool keep) override { endSocket(socket_, keep); }

  std::shared_ptr<const Config> config_;
  tcp::socket socket_;
  std::string input_;
};

// ---- dns: one query over UDP, the reply with our id judged.

struct DnsConfig {
  Target target;
  std::chrono::milliseconds timeout;
  std::vector<std::uint8_t> query;  // id 0, filled in per attempt
  std::string nameError;            // the name cannot be encoded: every attempt fails so
  std::uint16_t type = 0;
};

// RFC 1035 4.1.2: the name as labels, "." (or "") the root.
std::string encodeName(std::string_view name, std::vector<std::uint8_t>& out) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::size_t encoded = 1;
  while (!name.empty()) {
    const std::size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty()) return "bad name: empty label";
    if (label.size() > 63) return "bad name: label longer than 63 bytes";
    encoded += 1 + label.size();
    if (encoded > 255) return "bad name: longer than 255 bytes";
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  out.push_back(0);
  return {};
}

std::shared_ptr<const DnsConfig> makeDnsConfig(const DnsSpec& spec, const Target& target,
                                               std::chrono::milliseconds timeout) {
  auto config = std::make_shared<DnsConfig>();
  config->target = target;
  config->timeout = timeout;
  config->type = spec.type;
  // Header: id, flags RD, QDCOUNT 1, AN/NS/AR 0.
  config->query = {0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  config->nameError = encodeName(spec.name, config->query);
  config->query.push_back(static_cast<std::uint8_t>(spec.type >> 8));
  config->query.push_back(static_cast<std::uint8_t>(spec.type & 0xff));
  config->query.push_back(0);
  config->query.push_back(1);  // class IN
  return config;
}

std::string rcodeName(int rcode) {
  switch (rcode) {
    case 1:
      return "FORMERR";
    case 2:
      return "SERVFAIL";
    case 3:
      return "NXDOMAIN";
    case 4:
      return "NOTIMP";
    case 5:
      return "REFUSED";
    default:
      return std::to_string(rcode);
  }
}

// Judges a reply whose id is ours. Every read is bounds-checked: a short or lying reply is
// "malformed reply".
Outcome judgeDnsReply(const std::uint8_t* data, std::size_t size, std::uint16_t type) {
  const Outcome malformed{false, "malformed reply", {}};
  if (size < 12) return malformed;
  auto u16 = [data](std::size_t at) {
    return static_cast<std::uint16_t>((data[at] << 8) | data[at + 1]);
  };
  const std::uint16_t flags = u16(2);
  if ((flags & 0x8000) == 0) return malformed;  // not a reply
  if (const int rcode = flags & 0xf; rcode != 0) {
    return Outcome{false, "rcode " + rcodeName(rcode), {}};
  }
  const int questions = u16(4);
  const int answers = u16(6);
  std::size_t at = 12;
  // Steps over a name (labels ending in the root label or a compression pointer).
  auto skipName = [&]() {
    while (at < size) {
      const std::uint8_t length = data[at];
      if (length == 0) {
        at += 1;
        return true;
      }
      if ((length & 0xc0) == 0xc0) {
        at += 2;
        return at <= size;
      }
      if ((length & 0xc0) != 0) return false;  // obsolete label types
      at += 1 + length;
    }
    return false;
  };
  for (int i = 0; i < questions; ++i) {
    if (!skipName() || at + 4 > size) return malformed;
    at += 4;
  }
  int matching = 0;
  for (int i = 0; i < answers; ++i) {
    if (!skipName() || at + 10 > size) return malformed;
    const std::uint16_t answerType = u16(at);
    const std::size_t dataLength = u16(at + 8);
    at += 10 + dataLength;
    if (at > size) return malformed;
    if (answerType == type || type == 255) ++matching;
  }
  if (matching == 0) return Outcome{false, "no answer of type " + std::to_string(type), {}};
  return Outcome{true, std::to_string(matching) + (matching == 1 ? " answer" : " answers"), {}};
}

std::uint16_t randomId() {
  static thread_local std::mt19937 generator{std::random_device{}()};
  return static_cast<std::uint16_t>(generator());
}

class DnsAttempt final : public Attempt<Outcome> {
 public:
  using Config = DnsConfig;
  DnsAttempt(ProbeContext& ctx, std::shared_ptr<const Config> config,
             std::shared_ptr<SpareSocket> /*unused: UDP*/)
      : Attempt(ctx.io(), nullptr), config_(std::move(config)), socket_(ctx.io()) {}

  void run(Done done) {
    arm(std::move(done), config_->timeout);
    if (!config_->nameError.empty()) return failSoon(config_->nameError);
    if (std::string error = openSocket<udp::socket, udp>(socket_, config_->target);
        !error.empty()) {
      return failSoon(std::move(error));
    }
    // Connected: the kernel drops datagrams from anyone else, and a closed port's ICMP error
    // fails the receive at once ("connection refused").
    error_code ec;
    socket_.connect(udp::endpoint(toAsio(config_->target.address), config_->target.port), ec);
    if (ec) return failSoon(errorReason(ec));
    query_ = config_->query;
    id_ = randomId();
    query_[0] = static_cast<std::uint8_t>(id_ >> 8);
    query_[1] = static_cast<std::uint8_t>(id_ & 0xff);
    waiting("timeout waiting for the reply");
    socket_.async_send(asio::buffer(query_), [self = self()](const error_code& e, std::size_t) {
      if (self->over()) return;
      if (e) return self->fail(errorReason(e));
      self->receive();
    });
  }

 private:
  std::shared_ptr<DnsAttempt> self() {
    return std::static_pointer_cast<DnsAttempt>(shared_from_this());
  }

  void receive() {
    socket_.async_receive(asio::buffer(reply_),
                          [self = self()](const error_code& ec, std::size_t size) {
                            if (self->over()) return;
                            if (ec) return self->fail(errorReason(ec));
                            const std::uint8_t* data = self->reply_.data();
                            if (size < 2 || ((data[0] << 8) | data[1]) != self->id_) {
                              return self->receive();  // not ours: keep waiting
                            }
                            self->finish(judgeDnsReply(data, size, self->config_->type));
                          });
  }

  void closeSocket(bool) override {
    error_code ignored;
    socket_.close(ignored);
  }

  std::shared_ptr<const Config> config_;
  udp::socket socket_;
  std::vector<std::uint8_t> query_;
  std::uint16_t id_ = 0;
  std::array<std::uint8_t, kMaxDnsReply> reply_;
};

}  // namespace

std::unique_ptr<HttpFetch> makeHttpFetch(const HttpSpec& spec, const Target& target,
                                         std::chrono::milliseconds timeout, ProbeContext& ctx) {
  return std::make_unique<HttpFetcher>(ctx, makeHttpConfig(spec, target, timeout));
}

std::unique_ptr<Probe> makeNetProbe(const CheckSpec& spec, const Target& target,
                                    ProbeContext& ctx) {
  struct Make {
    const CheckSpec& spec;
    const Target& target;
    ProbeContext& ctx;

    std::unique_ptr<Probe> operator()(const TcpSpec&) const {
      return std::make_unique<Runner<Probe, TcpAttempt>>(
          ctx, std::make_shared<const TcpConfig>(TcpConfig{target, spec.timeout}));
    }
    std::unique_ptr<Probe> operator()(const HttpSpec& http) const {
      return std::make_unique<HttpProbe>(http, target, spec.timeout, ctx);
    }
    std::unique_ptr<Probe> operator()(const SmtpSpec& smtp) const {
      return std::make_unique<Runner<Probe, SmtpAttempt>>(
          ctx, std::make_shared<const SmtpConfig>(
                   SmtpConfig{target, spec.timeout, "HELO " + smtp.helo + "\r\n"}));
    }
    std::unique_ptr<Probe> operator()(const DnsSpec& dns) const {
      return std::make_unique<Runner<Probe, DnsAttempt>>(ctx,
                                                         makeDnsConfig(dns, target, spec.timeout));
    }
    std::unique_ptr<Probe> operator()(const ScriptSpec&) const {
      // makeProbe() sends scripts elsewhere; a script here is a caller's bug.
      std::abort();
    }
  };
  return std::visit(Make{spec, target, ctx}, spec.kind);
}

}  // namespace quorate::server::check
