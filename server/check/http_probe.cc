// The http and https probes (keepalived's HTTP_GET, SSL_GET) and the fetch under them: one GET,
// the whole reply read by Beast's parser, the status and the body's digest judged.
//
// The body is never kept: Beast's parser writes it into one small chunk at a time, which goes
// through the MD5 (a check with a digest) or is dropped, so an attempt holds the read buffer and
// one chunk whatever the length of the body (docs/security.md, "Limits"). How long a body may
// be is then bounded only by the attempt's deadline, as keepalived reads it.
//
// A plain HTTP check with requests_per_connection N > 1 keeps more than the socket: an answered
// connection the server left open (HTTP/1.1 keep-alive, a body of known length) stays connected
// for the next attempt, up to N replies. A kept connection the server has closed meanwhile (its
// idle timeout) is seen by a peek before the request goes out, or fails before any byte of a
// reply; either way the attempt connects afresh, once, within its deadline.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string_view>
#include <type_traits>
#include <vector>

#include "server/check/attempt.h"
#include "server/check/digest.h"
#include "server/check/http_fetch.h"
#include "server/check/probes_internal.h"

namespace quorate::server::check {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

constexpr std::size_t kMaxHeader = 64 * 1024;
// What an attempt reads the body into before hashing or dropping it.
constexpr std::size_t kBodyChunk = 16 * 1024;
// The read buffer: a whole header, and what Beast reads past it in one go (at most 64 KiB per
// read). A chunk-size line or trailer that does not fit fails the reply ("buffer overflow").
constexpr std::size_t kMaxBuffered = kMaxHeader + 64 * 1024;

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

// With Connection: close unless the check keeps its connection (requestsPerConnection > 1).
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
  bool md5 = false;        // hash the body (HttpReply::md5); otherwise it is dropped
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
                                                 std::chrono::milliseconds timeout, bool md5) {
  auto config = std::make_shared<HttpConfig>();
  config->md5 = md5;
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
  // A new reply: parser, digest and count start afresh.
  void newParser() {
    parser_.emplace();
    // The body is streamed, so its length costs no memory. Not boost::none: Beast 1.74 then
    // compares a Content-Length with the empty optional and finds every one over the limit.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_->header_limit(kMaxHeader);
    md5_.reset();
    if (config_->md5) md5_.emplace();
    bodyBytes_ = 0;
  }

  // Plain HTTP: the request goes out as soon as connect(2) returns: its write completes once the
  // connection is up, or fails with the connect's error; no wait for writability first.
  void connectAndSend() {
    if (std::string error = beginConnect(socket(), config_->target); !error.empty()) {
      return failSoon(std::move(error));
    }
    send();
  }

  // Leaves the kept connection (reset) for a new one, and asks on that.
  void connectAfresh() {
    reusing_ = false;
    if (!disconnect(socket())) {
      error_code ignored;
      socket().close(ignored);  // beginConnect() opens a new one
    }
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

  // The header first, then the body into chunk_ (receiveBody).
  void receive() {
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = self()](const error_code& ec, std::size_t) {
                              if (self->over()) return;
                              if (ec && self->retryFresh(ec)) return;
                              if (ec) return self->fail(readReason(ec, self->parser_->got_some()));
                              self->receiveBody();
                            });
  }

  // One chunk of the body at a time: Beast stops with need_buffer when the chunk is full.
  void receiveBody() {
    auto& body = parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    http::async_read(stream_, buffer_, *parser_, [self = self()](error_code ec, std::size_t) {
      if (self->over()) return;
      auto& parser = *self->parser_;
      if (ec == http::error::need_buffer) ec = {};
      if (ec == ssl::error::stream_truncated) {
        // A TLS server that closes without close_notify: fine if the reply was complete.
        error_code eofError;
        parser.put_eof(eofError);
        if (!eofError && parser.is_done()) ec = {};
      }
      const std::size_t filled = self->chunk_.size() - parser.get().body().size;
      self->bodyBytes_ += filled;
      if (self->md5_) self->md5_->update(std::string_view(self->chunk_.data(), filled));
      if (ec) return self->fail(readReason(ec, parser.got_some()));
      if (!parser.is_done()) return self->receiveBody();
      self->replied();
    });
  }

  void replied() {
    auto& parser = *parser_;
    // The connection may carry the next check: the server keeps it (HTTP/1.1, no Connection:
    // close, a body of known length), sent nothing more, and has replies to spare.
    const int replies = repliesBefore() + 1;
    if (replies < config_->requestsPerConnection && parser.keep_alive() && buffer_.size() == 0) {
      keptReplies_ = replies;
    }
    HttpReply reply;
    reply.ok = true;
    reply.status = static_cast<int>(parser.get().result_int());
    reply.bodyBytes = bodyBytes_;
    if (md5_) reply.md5 = md5_->hex();
    finish(std::move(reply));
  }

  static std::string readReason(const error_code& ec, bool gotSome) {
    if (ec == http::error::end_of_stream || (ec == asio::error::eof && !gotSome) ||
        (ec == ssl::error::stream_truncated && !gotSome)) {
      return "connection closed without a reply";
    }
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
  beast::flat_buffer buffer_{kMaxBuffered};
  std::optional<http::response_parser<http::buffer_body>> parser_;
  std::array<char, kBodyChunk> chunk_;
  std::optional<Md5> md5_;  // config_->md5: the body so far
  std::uint64_t bodyBytes_ = 0;
  // On a kept connection (until retryFresh). After stream_, whose construction took the socket.
  bool reusing_ = takenReplies() > 0;
  int keptReplies_ = 0;  // > 0: keep the connection, with this many replies
};

// The fetch behind the http probe and genhash: picks the plain or the TLS attempt.
class HttpFetcher final : public HttpFetch {
 public:
  HttpFetcher(ProbeContext& ctx, std::shared_ptr<const HttpConfig> config) {
    if (config->tls) {
      runner_ =
          std::make_unique<AttemptRunner<HttpFetch, HttpAttempt<true>>>(ctx, std::move(config));
    } else {
      runner_ =
          std::make_unique<AttemptRunner<HttpFetch, HttpAttempt<false>>>(ctx, std::move(config));
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
      : fetch_(ctx, makeHttpConfig(spec, target, timeout, spec.digest.has_value())),
        statusCodes_(spec.statusCodes) {
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
      const std::optional<std::string>& got = reply.md5;
      if (!got) return Outcome{false, std::string("digest: ") + kMd5Unavailable, {}};
      if (*got != *digest_) return Outcome{false, "digest mismatch: got " + *got, {}};
    }
    return Outcome{true, status, {}};
  }

  HttpFetcher fetch_;
  std::vector<StatusRange> statusCodes_;
  std::optional<std::string> digest_;
};

}  // namespace

std::unique_ptr<HttpFetch> makeHttpFetch(const HttpSpec& spec, const Target& target,
                                         std::chrono::milliseconds timeout, ProbeContext& ctx,
                                         bool md5) {
  return std::make_unique<HttpFetcher>(ctx, makeHttpConfig(spec, target, timeout, md5));
}

std::unique_ptr<Probe> makeHttpProbe(const HttpSpec& spec, const Target& target,
                                     std::chrono::milliseconds timeout, ProbeContext& ctx) {
  return std::make_unique<HttpProbe>(spec, target, timeout, ctx);
}

}  // namespace quorate::server::check
