// Test servers for the check tests, on loopback with Asio coroutines: an HTTP(S) server that
// behaves as told and records what it got, and the certificates for its TLS side (made by the
// openssl CLI at run time).
#pragma once

#include <openssl/ssl.h>
#include <stdlib.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace quorate::server::check::test_servers {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Waits on the server side for as long as any test could run.
inline awaitable<void> hold() {
  asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
  co_await timer.async_wait(use_awaitable);
}

// An HTTP(S) server on loopback that behaves as told and records what it got.
struct HttpServer {
  enum class Mode {
    kAnswer,  // status + body, after `delay`
    kSilent,  // reads the request, never answers
    kMute,    // accepts, never reads (a TLS handshake never completes)
    kClose,   // reads the request, closes
    kReset,   // accepts, closes with SO_LINGER 0 (RST)
    kRaw,     // reads the request, writes `raw`, then closes if `closeAfterRaw` or holds on
  };

  explicit HttpServer(asio::io_context& io, const char* address = "127.0.0.1",
                      ssl::context* tlsContext = nullptr)
      : acceptor(io, tcp::endpoint(asio::ip::make_address(address), 0)), tls(tlsContext) {
    asio::co_spawn(io, acceptLoop(), asio::detached);
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  tcp::acceptor acceptor;
  ssl::context* tls;
  Mode mode = Mode::kAnswer;
  unsigned status = 200;
  std::string body = "hello\n";
  std::chrono::milliseconds delay{0};
  std::string raw;
  bool closeAfterRaw = false;
  // kAnswer: answer without Connection: close and serve the connection's next request, until
  // the client goes or `closeAfter` replies (0: no limit) were given; then close without a word
  // (an idle timeout).
  bool keepAlive = false;
  int closeAfter = 0;
  bool closeOnTheNextRequest = false;  // after `closeAfter` replies: read one more, then close

  int accepted = 0;
  int finished = 0;  // sessions over, their sockets closed
  std::vector<tcp::endpoint> peers;
  std::vector<http::request<http::string_body>> requests;
  std::string sni;  // of the last TLS handshake; "(none)" when the client sent none

 private:
  awaitable<void> acceptLoop() {
    for (;;) {
      // The peer from the accept itself: a client that resets at once has none later.
      tcp::endpoint peer;
      tcp::socket socket = co_await acceptor.async_accept(peer, use_awaitable);
      peers.push_back(peer);
      asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
    }
  }

  awaitable<void> session(tcp::socket socket) {
    try {
      ++accepted;
      if (mode == Mode::kReset) {
        socket.set_option(tcp::socket::linger(true, 0));
        socket.close();
        co_return;
      }
      if (mode == Mode::kMute) co_await hold();
      if (tls != nullptr) {
        ssl::stream<tcp::socket> stream(std::move(socket), *tls);
        co_await stream.async_handshake(ssl::stream_base::server, use_awaitable);
        const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
        sni = name != nullptr ? name : "(none)";
        co_await serve(stream);
      } else {
        co_await serve(socket);
      }
    } catch (const std::exception&) {
      // The client went away, or refused our certificate: nothing to serve.
    }
    ++finished;
  }

  template <class Stream>
  awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (int replies = 1;; ++replies) {
      co_await serveOne(stream, buffer);
      if (!keepAlive || mode != Mode::kAnswer) co_return;
      if (replies == closeAfter) {
        if (closeOnTheNextRequest) {
          http::request<http::string_body> request;
          co_await http::async_read(stream, buffer, request, use_awaitable);
          requests.push_back(request);
        }
        co_return;
      }
    }
  }

  template <class Stream>
  awaitable<void> serveOne(Stream& stream, beast::flat_buffer& buffer) {
    http::request<http::string_body> request;
    co_await http::async_read(stream, buffer, request, use_awaitable);
    requests.push_back(request);
    switch (mode) {
      case Mode::kSilent:
        co_await hold();
        co_return;
      case Mode::kClose:
        co_return;
      case Mode::kRaw:
        co_await asio::async_write(stream, asio::buffer(raw), use_awaitable);
        if (!closeAfterRaw) co_await hold();
        co_return;
      default:
        break;
    }
    if (delay.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, delay);
      co_await timer.async_wait(use_awaitable);
    }
    http::response<http::string_body> response;
    response.version(11);
    response.result(status);
    if (!keepAlive) response.set(http::field::connection, "close");
    response.body() = body;
    response.prepare_payload();
    co_await http::async_write(stream, response, use_awaitable);
  }
};

// A self-signed certificate for rs.test (cert.pem, key.pem) and another CA's (other.pem, which
// does not vouch for it), in a temporary directory removed with this object.
struct TestCertificates {
  TestCertificates() {
    const std::string log = " 2>>" + dir + "/openssl.log";
    const std::string server =
        "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=rs.test "
        "-addext subjectAltName=DNS:rs.test -days 1 -keyout " +
        dir + "/key.pem -out " + dir + "/cert.pem" + log;
    const std::string other =
        "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=other.test -days 1 -keyout " + dir +
        "/other-key.pem -out " + dir + "/other.pem" + log;
    made = std::system(server.c_str()) == 0 && std::system(other.c_str()) == 0;
  }
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  std::string cert() const { return dir + "/cert.pem"; }
  std::string key() const { return dir + "/key.pem"; }
  std::string other() const { return dir + "/other.pem"; }
  // The server side's TLS context with cert() and key().
  void serve(ssl::context& context) const {
    context.use_certificate_chain_file(cert());
    context.use_private_key_file(key(), ssl::context::pem);
  }

  testutil::TempDir tmp{"quorate-certs"};
  std::string dir = tmp.path();
  bool made = false;
};

}  // namespace quorate::server::check::test_servers
