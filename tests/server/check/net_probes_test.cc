// The network probes (tcp, http, https, smtp, dns) against real servers on loopback, written
// here with Asio on the probes' own io_context: each test asserts the outcome and its reason.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read_until.hpp>
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
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "server/check/digest.h"
#include "server/check/probe.h"
#include "server/check/probes_internal.h"
#include "server/script_runner.h"
#include "tests/server/check/test_servers.h"

namespace quorate::server::check {
namespace {

using test_servers::hold;
using test_servers::HttpServer;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kGenerous = 20s;  // never reached by a passing attempt
constexpr std::chrono::milliseconds kShort = 300ms;   // the timeout cases
constexpr char kHelloMd5[] = "b1946ac92492d2347c6235b4d2611184";  // md5("hello\n")

net::IpAddress ip(const char* text) { return *net::IpAddress::parse(text); }

// The file descriptors this process has open.
int openFds() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count - 1;  // the directory being listed
}

CheckSpec specOf(Kind kind, std::chrono::milliseconds timeout = kGenerous) {
  CheckSpec spec;
  spec.kind = std::move(kind);
  spec.timeout = timeout;
  return spec;
}

// A loopback port that refuses connections: bound, never listening.
struct ClosedPort {
  explicit ClosedPort(asio::io_context& io, const char* address = "127.0.0.1") : socket(io) {
    socket.open(asio::ip::make_address(address).is_v4() ? tcp::v4() : tcp::v6());
    socket.bind(tcp::endpoint(asio::ip::make_address(address), 0));
  }
  std::uint16_t port() const { return socket.local_endpoint().port(); }
  tcp::socket socket;
};

class ProbeTest : public ::testing::Test {
 protected:
  // Runs one attempt; checks that `done` ran once, and not from inside start().
  Outcome runProbe(Probe& probe) {
    int calls = 0;
    Outcome outcome;
    probe.start([&](Outcome result) {
      ++calls;
      outcome = std::move(result);
    });
    EXPECT_EQ(calls, 0) << "done ran from inside start()";
    runUntil([&] { return calls > 0; });
    io.restart();
    io.poll();
    EXPECT_EQ(calls, 1);
    return outcome;
  }
  Outcome run(const CheckSpec& spec, const char* address, std::uint16_t port,
              std::optional<net::IpAddress> bindTo = std::nullopt) {
    std::unique_ptr<Probe> probe = makeProbe(spec, Target{ip(address), port, bindTo}, ctx);
    return runProbe(*probe);
  }
  // Runs the io_context until `done()` (at most a minute: a hang fails, it does not block).
  void runUntil(const std::function<bool()>& done) {
    const auto giveUp = std::chrono::steady_clock::now() + 60s;
    while (!done() && std::chrono::steady_clock::now() < giveUp) {
      if (io.stopped()) io.restart();
      io.run_one_for(50ms);
    }
    ASSERT_TRUE(done()) << "gave up waiting";
  }
  void runFor(std::chrono::milliseconds duration) {
    io.restart();
    io.run_for(duration);
  }

  asio::io_context io;
  ScriptRunner scripts{io};
  ProbeContext ctx{io, scripts};
};

// ---- tcp

TEST_F(ProbeTest, TcpConnects) {
  HttpServer server(io);
  const Outcome outcome = run(specOf(TcpSpec{}), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.reason, "connected");
  runUntil([&] { return server.accepted == 1; });
}

TEST_F(ProbeTest, TcpConnectsOverIpv6) {
  HttpServer server(io, "::1");
  const Outcome outcome = run(specOf(TcpSpec{}), "::1", server.port());
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.reason, "connected");
}

TEST_F(ProbeTest, TcpRefused) {
  ClosedPort closed(io);
  const Outcome outcome = run(specOf(TcpSpec{}), "127.0.0.1", closed.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "connection refused");
}

TEST_F(ProbeTest, TcpTimesOutWhileConnecting) {
  // A listener with backlog 0 and one connection queued: the kernel drops further SYNs.
  tcp::acceptor full(io);
  full.open(tcp::v4());
  full.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  full.listen(0);
  tcp::socket filler(io);
  bool filled = false;
  filler.async_connect(full.local_endpoint(),
                       [&](const boost::system::error_code&) { filled = true; });
  runUntil([&] { return filled; });
  const Outcome outcome = run(specOf(TcpSpec{}, kShort), "127.0.0.1", full.local_endpoint().port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "timeout while connecting");
}

TEST_F(ProbeTest, TcpBindsToTheSourceAddress) {
  HttpServer server(io);
  const Outcome outcome = run(specOf(TcpSpec{}), "127.0.0.1", server.port(), ip("127.0.0.2"));
  EXPECT_TRUE(outcome.ok) << outcome.reason;
  runUntil([&] { return server.accepted == 1; });
  EXPECT_EQ(server.peers.at(0).address().to_string(), "127.0.0.2");
}

TEST_F(ProbeTest, TheKeptSocketStaysBoundToTheSourceAddress) {
  HttpServer server(io);
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(TcpSpec{}), Target{ip("127.0.0.1"), server.port(), ip("127.0.0.2")}, ctx);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(runProbe(*probe).ok);
  runUntil([&] { return server.accepted == 3; });
  for (const tcp::endpoint& peer : server.peers) EXPECT_EQ(peer.address().to_string(), "127.0.0.2");
}

// A probe keeps one socket between its attempts (disconnected, not closed: see attempt.h),
// connects it afresh each time, and closes it when the probe goes.
TEST_F(ProbeTest, KeepsOneSocketAcrossAttemptsAndClosesItWithTheProbe) {
  HttpServer server(io);
  int attempts = 0;
  for (const CheckSpec& spec : {specOf(TcpSpec{}), specOf(HttpSpec{})}) {
    const int before = openFds();
    std::unique_ptr<Probe> probe = makeProbe(spec, Target{ip("127.0.0.1"), server.port(), {}}, ctx);
    for (int i = 0; i < 5; ++i, ++attempts) {
      EXPECT_TRUE(runProbe(*probe).ok);
      runUntil([&] { return server.finished == attempts + 1; });
      EXPECT_EQ(openFds(), before + 1) << "after attempt " << i;
    }
    probe.reset();
    EXPECT_EQ(openFds(), before);
  }
  EXPECT_EQ(server.accepted, 10);  // a connection of its own for each attempt
}

// The kept socket through a refusal: a refused connect leaves it reusable.
TEST_F(ProbeTest, TheKeptSocketConnectsAgainAfterARefusal) {
  auto listen = [&](tcp::acceptor& acceptor, std::uint16_t port) {
    acceptor.open(tcp::v4());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    acceptor.listen(16);  // connections wait in the queue, never accepted: no descriptors
  };
  tcp::acceptor listener(io);
  listen(listener, 0);
  const std::uint16_t port = listener.local_endpoint().port();
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(TcpSpec{}), Target{ip("127.0.0.1"), port, {}}, ctx);
  const int before = openFds();
  EXPECT_EQ(runProbe(*probe).reason, "connected");
  listener.close();
  EXPECT_EQ(runProbe(*probe).reason, "connection refused");
  EXPECT_EQ(openFds(), before);  // the socket was kept (and the listener closed)
  listen(listener, port);
  EXPECT_EQ(runProbe(*probe).reason, "connected");
  EXPECT_EQ(openFds(), before + 1);
}

// After a timeout (an operation pending) the socket is closed, and the next attempt opens one.
TEST_F(ProbeTest, AfterATimeoutTheNextAttemptOpensANewSocket) {
  HttpServer server(io);
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(HttpSpec{}, 1s), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  EXPECT_EQ(runProbe(*probe).reason, "status 200");
  server.mode = HttpServer::Mode::kSilent;
  EXPECT_EQ(runProbe(*probe).reason, "timeout waiting for the reply");
  server.mode = HttpServer::Mode::kAnswer;
  server.status = 503;
  EXPECT_EQ(runProbe(*probe).reason, "status 503");
  server.status = 200;
  EXPECT_EQ(runProbe(*probe).reason, "status 200");
  EXPECT_EQ(server.accepted, 4);
}

TEST_F(ProbeTest, BindToAnAddressNotOursFails) {
  HttpServer server(io);
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(TcpSpec{}), Target{ip("127.0.0.1"), server.port(), ip("198.18.0.1")}, ctx);
  // Every attempt fails: a socket that could not be bound is closed, never kept for the next
  // attempt to connect it unbound.
  for (int i = 0; i < 2; ++i) {
    const Outcome outcome = runProbe(*probe);
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.reason, "cannot bind to 198.18.0.1: cannot assign requested address");
  }
  EXPECT_EQ(server.accepted, 0);
}

// ---- http

TEST_F(ProbeTest, HttpStatus200PassesAndSendsTheRequest) {
  HttpServer server(io);
  const Outcome outcome = run(specOf(HttpSpec{}), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.reason, "status 200");
  ASSERT_EQ(server.requests.size(), 1u);
  const auto& request = server.requests[0];
  EXPECT_EQ(request.method(), http::verb::get);
  EXPECT_EQ(request.target(), "/");
  EXPECT_EQ(request.version(), 11);
  EXPECT_EQ(request[http::field::host], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(request[http::field::user_agent], "quorate");
  EXPECT_EQ(request[http::field::connection], "close");
}

TEST_F(ProbeTest, HttpStatus500Fails) {
  HttpServer server(io);
  server.status = 500;
  const Outcome outcome = run(specOf(HttpSpec{}), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "status 500");
}

TEST_F(ProbeTest, HttpStatusRanges) {
  HttpServer server(io);
  server.status = 302;
  Outcome outcome = run(specOf(HttpSpec{}), "127.0.0.1", server.port());  // default 200-299
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "status 302");

  HttpSpec spec;
  spec.statusCodes = {{200, 200}, {301, 302}};
  outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.reason, "status 302");

  server.status = 200;
  spec.statusCodes = {{300, 399}};
  outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "status 200");
}

TEST_F(ProbeTest, HttpDigest) {
  HttpServer server(io);  // body "hello\n"
  HttpSpec spec;
  spec.digest = kHelloMd5;
  Outcome outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.reason, "status 200");

  server.body = "hello world\n";
  outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "digest mismatch: got 6f5902ac237024bdd0c176cb93063dc4");
}

TEST_F(ProbeTest, HttpBodyUntilTheConnectionCloses) {
  HttpServer server(io);
  server.mode = HttpServer::Mode::kRaw;
  server.raw = "HTTP/1.0 200 OK\r\n\r\nhello\n";
  server.closeAfterRaw = true;
  HttpSpec spec;
  spec.digest = kHelloMd5;
  const Outcome outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok) << outcome.reason;
  EXPECT_EQ(outcome.reason, "status 200");
}

TEST_F(ProbeTest, HttpVirtualHostAndPath) {
  HttpServer server(io);
  HttpSpec spec;
  spec.virtualHost = "www.example.test";
  spec.path = "/health?full=1";
  const Outcome outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok);
  ASSERT_EQ(server.requests.size(), 1u);
  EXPECT_EQ(server.requests[0][http::field::host], "www.example.test");
  EXPECT_EQ(server.requests[0].target(), "/health?full=1");
}

TEST_F(ProbeTest, HttpOverIpv6PutsTheHostInBrackets) {
  HttpServer server(io, "::1");
  const Outcome outcome = run(specOf(HttpSpec{}), "::1", server.port());
  EXPECT_TRUE(outcome.ok) << outcome.reason;
  ASSERT_EQ(server.requests.size(), 1u);
  EXPECT_EQ(server.requests[0][http::field::host], "[::1]:" + std::to_string(server.port()));
}

TEST_F(ProbeTest, HttpSlowReplyTimesOut) {
  HttpServer server(io);
  server.delay = 5s;
  const Outcome outcome = run(specOf(HttpSpec{}, kShort), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "timeout waiting for the reply");
}

TEST_F(ProbeTest, HttpNoReplyTimesOut) {
  HttpServer server(io);
  server.mode = HttpServer::Mode::kSilent;
  const Outcome outcome = run(specOf(HttpSpec{}, kShort), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "timeout waiting for the reply");
}

TEST_F(ProbeTest, HttpReset) {
  HttpServer server(io);
  server.mode = HttpServer::Mode::kReset;
  const Outcome outcome = run(specOf(HttpSpec{}), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "connection reset");
}

TEST_F(ProbeTest, HttpClosedWithoutAReply) {
  HttpServer server(io);
  server.mode = HttpServer::Mode::kClose;
  const Outcome outcome = run(specOf(HttpSpec{}), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "connection closed without a reply");
}

TEST_F(ProbeTest, HttpRefused) {
  ClosedPort closed(io);
  const Outcome outcome = run(specOf(HttpSpec{}), "127.0.0.1", closed.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "connection refused");
}

// The body has no limit of its own (it is streamed: body_limits_test.cc); the header does.
TEST_F(ProbeTest, HttpHeaderTooLarge) {
  HttpServer server(io);
  server.mode = HttpServer::Mode::kRaw;
  server.raw = "HTTP/1.1 200 OK\r\nX-Padding: " + std::string(70 * 1024, 'x') + "\r\n\r\n";
  const Outcome outcome = run(specOf(HttpSpec{}), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "bad HTTP reply: header limit exceeded");
}

TEST_F(ProbeTest, HttpGarbageReply) {
  HttpServer server(io);
  server.mode = HttpServer::Mode::kRaw;
  server.raw = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
  const Outcome outcome = run(specOf(HttpSpec{}), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "bad HTTP reply: bad version");
}

TEST_F(ProbeTest, HttpTruncatedBody) {
  HttpServer server(io);
  server.mode = HttpServer::Mode::kRaw;
  server.raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello\n";
  server.closeAfterRaw = true;
  const Outcome outcome = run(specOf(HttpSpec{}), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "bad HTTP reply: partial message");
}

TEST_F(ProbeTest, EachAttemptIsAFreshConnection) {
  HttpServer server(io);
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(HttpSpec{}), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  EXPECT_EQ(runProbe(*probe).reason, "status 200");
  server.status = 503;
  EXPECT_EQ(runProbe(*probe).reason, "status 503");
  EXPECT_EQ(server.accepted, 2);
}

// ---- http with requests_per_connection

HttpSpec keepingSpec(int requestsPerConnection) {
  HttpSpec spec;
  spec.requestsPerConnection = requestsPerConnection;
  return spec;
}

TEST_F(ProbeTest, AKeptConnectionCarriesUpToNChecks) {
  HttpServer server(io);
  server.keepAlive = true;
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(keepingSpec(3)), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(runProbe(*probe).reason, "status 200") << "attempt " << i;
    EXPECT_EQ(server.accepted, i / 3 + 1) << "after attempt " << i;  // 3 + 3 + 1 checks
  }
  ASSERT_EQ(server.requests.size(), 7u);
  for (const auto& request : server.requests) {
    EXPECT_EQ(request.version(), 11);
    EXPECT_EQ(request.count(http::field::connection), 0u);  // HTTP/1.1: keep it
  }
  probe.reset();
  runUntil([&] { return server.finished == 3; });  // the probe's reset ended the last one
}

TEST_F(ProbeTest, AKeptConnectionFailsLikeANewOne) {
  HttpServer server(io);
  server.keepAlive = true;
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(keepingSpec(10), kShort), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  EXPECT_EQ(runProbe(*probe).reason, "status 200");
  server.status = 503;
  EXPECT_EQ(runProbe(*probe).reason, "status 503");  // a whole reply: the connection stays
  server.status = 200;
  EXPECT_EQ(runProbe(*probe).reason, "status 200");
  EXPECT_EQ(server.accepted, 1);
  server.mode = HttpServer::Mode::kSilent;  // reads the request on the kept connection, no reply
  EXPECT_EQ(runProbe(*probe).reason, "timeout waiting for the reply");
  server.mode = HttpServer::Mode::kAnswer;
  EXPECT_EQ(runProbe(*probe).reason, "status 200");
  EXPECT_EQ(server.accepted, 2);  // the timed-out connection was not kept
}

TEST_F(ProbeTest, AKeptConnectionTheServerClosedIsReplacedWithinTheAttempt) {
  HttpServer server(io);
  server.keepAlive = true;
  server.closeAfter = 1;  // closes each connection after its reply, as an idle timeout would
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(keepingSpec(100)), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  for (int i = 0; i < 4; ++i) {
    runUntil([&] { return server.finished == i; });  // the server has closed the kept one
    EXPECT_EQ(runProbe(*probe).reason, "status 200") << "attempt " << i;
  }
  EXPECT_EQ(server.accepted, 4);
  EXPECT_EQ(server.requests.size(), 4u);
}

// The server closes the kept connection as the request arrives (an idle timeout that struck just
// then): the attempt asks again on a new connection and passes.
TEST_F(ProbeTest, AKeptConnectionClosedAsTheRequestArrivesIsRetriedOnANewOne) {
  HttpServer server(io);
  server.keepAlive = true;
  server.closeAfter = 1;
  server.closeOnTheNextRequest = true;
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(keepingSpec(100)), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  EXPECT_EQ(runProbe(*probe).reason, "status 200");
  EXPECT_EQ(runProbe(*probe).reason, "status 200");
  EXPECT_EQ(server.accepted, 2);
  ASSERT_EQ(server.requests.size(), 3u);  // the second one twice: unanswered, then on the new one
}

// The retry on a new connection is the verdict: a server that is gone is not masked.
TEST_F(ProbeTest, AKeptConnectionToAServerThatIsGoneFails) {
  HttpServer server(io);
  server.keepAlive = true;
  server.closeAfter = 1;
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(keepingSpec(100)), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  EXPECT_EQ(runProbe(*probe).reason, "status 200");
  runUntil([&] { return server.finished == 1; });
  server.acceptor.close();  // the server is gone: its connection closed, new ones refused
  const Outcome outcome = runProbe(*probe);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "connection refused");
  EXPECT_EQ(server.requests.size(), 1u);
}

TEST_F(ProbeTest, AConnectionTheServerWillCloseIsNotKept) {
  // Says Connection: close but leaves the connection open, reading nothing more: a request sent
  // on it again would never be answered.
  HttpServer server(io);
  server.mode = HttpServer::Mode::kRaw;
  server.raw = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n";
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(keepingSpec(10), kShort), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(runProbe(*probe).reason, "status 200");
  EXPECT_EQ(server.accepted, 3);
  // A body that ends with the connection: nothing left to keep either.
  HttpServer raw(io);
  raw.mode = HttpServer::Mode::kRaw;
  raw.raw = "HTTP/1.1 200 OK\r\n\r\nhello\n";
  raw.closeAfterRaw = true;
  std::unique_ptr<Probe> rawProbe =
      makeProbe(specOf(keepingSpec(10)), Target{ip("127.0.0.1"), raw.port(), {}}, ctx);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(runProbe(*rawProbe).reason, "status 200");
  EXPECT_EQ(raw.accepted, 2);
}

// ---- https

class TlsProbeTest : public ProbeTest {
 protected:
  static void SetUpTestSuite() { certs_ = std::make_unique<test_servers::TestCertificates>(); }
  static void TearDownTestSuite() { certs_.reset(); }
  void SetUp() override {
    ASSERT_TRUE(certs_->made) << "openssl req failed, see " << certs_->dir << "/openssl.log";
    certs_->serve(serverTls_);
  }
  static std::string cert() { return certs_->cert(); }
  static HttpSpec https() {
    HttpSpec spec;
    spec.tls = true;
    return spec;
  }

  ssl::context serverTls_{ssl::context::tls_server};
  static inline std::unique_ptr<test_servers::TestCertificates> certs_;
};

TEST_F(TlsProbeTest, SelfSignedPassesWithoutVerify) {
  HttpServer server(io, "127.0.0.1", &serverTls_);
  HttpSpec spec = https();
  spec.digest = kHelloMd5;
  const Outcome outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok) << outcome.reason;
  EXPECT_EQ(outcome.reason, "status 200");
  EXPECT_EQ(server.sni, "(none)");
  ASSERT_EQ(server.requests.size(), 1u);
  EXPECT_EQ(server.requests[0][http::field::host], "127.0.0.1:" + std::to_string(server.port()));
}

// Each attempt is a new TLS session on the probe's kept socket, connected afresh.
TEST_F(TlsProbeTest, EveryAttemptOnTheKeptSocketHandshakesAfresh) {
  HttpServer server(io, "127.0.0.1", &serverTls_);
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(https()), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  const int before = openFds();
  for (int i = 0; i < 3; ++i) {
    const Outcome outcome = runProbe(*probe);
    EXPECT_EQ(outcome.reason, "status 200");
    runUntil([&] { return server.finished == i + 1; });
    EXPECT_EQ(openFds(), before + 1) << "after attempt " << i;
  }
  EXPECT_EQ(server.requests.size(), 3u);
}

TEST_F(TlsProbeTest, VerifyAgainstTheCaFileWithSni) {
  HttpServer server(io, "127.0.0.1", &serverTls_);
  HttpSpec spec = https();
  spec.verify = true;
  spec.caFile = cert();
  spec.sni = "rs.test";
  const Outcome outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok) << outcome.reason;
  EXPECT_EQ(outcome.reason, "status 200");
  EXPECT_EQ(server.sni, "rs.test");
}

TEST_F(TlsProbeTest, VerifyTheVirtualHostWhenNoSni) {
  HttpServer server(io, "127.0.0.1", &serverTls_);
  HttpSpec spec = https();
  spec.verify = true;
  spec.caFile = cert();
  spec.virtualHost = "rs.test:8443";
  const Outcome outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok) << outcome.reason;
  EXPECT_EQ(server.sni, "(none)");
}

TEST_F(TlsProbeTest, VerifyWithTheWrongNameFails) {
  HttpServer server(io, "127.0.0.1", &serverTls_);
  HttpSpec spec = https();
  spec.verify = true;
  spec.caFile = cert();
  spec.sni = "other.test";
  const Outcome outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "TLS handshake: certificate verify failed (hostname mismatch)");
  runUntil([&] { return server.accepted == 1; });
  EXPECT_TRUE(server.requests.empty());
}

TEST_F(TlsProbeTest, VerifyWithoutTheCaFileRejectsSelfSigned) {
  HttpServer server(io, "127.0.0.1", &serverTls_);
  HttpSpec spec = https();
  spec.verify = true;
  spec.sni = "rs.test";
  const Outcome outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "TLS handshake: certificate verify failed (self-signed certificate)");
}

TEST_F(TlsProbeTest, UnreadableCaFile) {
  HttpServer server(io, "127.0.0.1", &serverTls_);
  HttpSpec spec = https();
  spec.verify = true;
  spec.caFile = certs_->dir + "/missing.pem";
  const Outcome outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason.rfind("TLS: cannot load CA file " + spec.caFile + ": ", 0), 0u)
      << outcome.reason;
  EXPECT_EQ(server.accepted, 0);
}

// The CA file is read once per TLS context; forgetting the contexts (HealthChecks::apply, on
// every reload) makes the next attempt read it again.
TEST_F(TlsProbeTest, ARotatedCaFileIsReadAfterTheContextsAreForgotten) {
  HttpServer server(io, "127.0.0.1", &serverTls_);
  const std::string caFile = certs_->dir + "/rotated.pem";
  std::filesystem::copy_file(certs_->other(), caFile,
                             std::filesystem::copy_options::overwrite_existing);
  HttpSpec spec = https();
  spec.verify = true;
  spec.sni = "rs.test";
  spec.caFile = caFile;
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(spec), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  EXPECT_EQ(runProbe(*probe).reason.rfind("TLS handshake: certificate verify failed", 0), 0u);
  std::filesystem::copy_file(cert(), caFile, std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(runProbe(*probe).reason.rfind("TLS handshake: certificate verify failed", 0), 0u)
      << "the context made before holds the old bundle";
  ctx.forgetTlsContexts();
  EXPECT_EQ(runProbe(*probe).reason, "status 200");
}

TEST_F(TlsProbeTest, HandshakeTimesOut) {
  HttpServer server(io, "127.0.0.1", &serverTls_);
  server.mode = HttpServer::Mode::kMute;
  const Outcome outcome = run(specOf(https(), kShort), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "timeout during the TLS handshake");
}

TEST_F(TlsProbeTest, OneContextPerVerifyAndCaFile) {
  std::string error;
  ssl::context* plain = tlsClientContext(ctx, false, "", &error);
  EXPECT_NE(plain, nullptr);
  EXPECT_EQ(tlsClientContext(ctx, false, cert(), &error), plain);  // caFile unused
  ssl::context* verifying = tlsClientContext(ctx, true, cert(), &error);
  EXPECT_NE(verifying, nullptr);
  EXPECT_NE(verifying, plain);
  EXPECT_EQ(tlsClientContext(ctx, true, cert(), &error), verifying);
  EXPECT_EQ(tlsClientContext(ctx, true, certs_->dir + "/missing.pem", &error), nullptr);
  EXPECT_FALSE(error.empty());
}

// ---- smtp

struct SmtpServer {
  explicit SmtpServer(asio::io_context& io)
      : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io, acceptLoop(), asio::detached);
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  tcp::acceptor acceptor;
  std::string banner = "220 mail.test ESMTP\r\n";  // empty: never sent
  std::string heloReply = "250 mail.test\r\n";     // empty: never sent
  std::vector<std::string> lines;                  // what the client sent

 private:
  awaitable<void> acceptLoop() {
    for (;;) {
      tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
      asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
    }
  }
  awaitable<void> readLine(tcp::socket& socket, std::string& input) {
    const std::size_t size =
        co_await asio::async_read_until(socket, asio::dynamic_buffer(input), "\r\n", use_awaitable);
    lines.push_back(input.substr(0, size - 2));
    input.erase(0, size);
  }
  awaitable<void> session(tcp::socket socket) {
    try {
      if (banner.empty()) co_await hold();
      co_await asio::async_write(socket, asio::buffer(banner), use_awaitable);
      std::string input;
      co_await readLine(socket, input);  // HELO
      if (heloReply.empty()) co_await hold();
      co_await asio::async_write(socket, asio::buffer(heloReply), use_awaitable);
      co_await readLine(socket, input);  // QUIT
    } catch (const std::exception&) {
    }
  }
};

CheckSpec smtpSpec(std::chrono::milliseconds timeout = kGenerous) {
  SmtpSpec smtp;
  smtp.helo = "lb1.test";
  return specOf(smtp, timeout);
}

TEST_F(ProbeTest, SmtpBannerAndHelo) {
  SmtpServer server(io);
  const Outcome outcome = run(smtpSpec(), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.reason, "banner 220, HELO 250");
  runUntil([&] { return server.lines.size() == 2; });
  EXPECT_EQ(server.lines, (std::vector<std::string>{"HELO lb1.test", "QUIT"}));
}

TEST_F(ProbeTest, SmtpMultiLineBanner) {
  SmtpServer server(io);
  server.banner = "220-mail.test ESMTP\r\n220-no spam\r\n220 ready\r\n";
  server.heloReply = "250-mail.test\r\n250 PIPELINING\r\n";
  const Outcome outcome = run(smtpSpec(), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.reason, "banner 220, HELO 250");
}

TEST_F(ProbeTest, SmtpRefusingBanner) {
  SmtpServer server(io);
  server.banner = "554 go away\r\n";
  const Outcome outcome = run(smtpSpec(), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "banner 554");
}

TEST_F(ProbeTest, SmtpHeloRefused) {
  SmtpServer server(io);
  server.heloReply = "501 syntax\r\n";
  const Outcome outcome = run(smtpSpec(), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "HELO answered 501");
}

TEST_F(ProbeTest, SmtpBadReply) {
  SmtpServer server(io);
  server.banner = "hello there\r\n";
  const Outcome outcome = run(smtpSpec(), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "bad SMTP reply to the banner");
}

TEST_F(ProbeTest, SmtpNoBannerTimesOut) {
  SmtpServer server(io);
  server.banner.clear();
  const Outcome outcome = run(smtpSpec(kShort), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "timeout waiting for the banner");
}

TEST_F(ProbeTest, SmtpNoHeloReplyTimesOut) {
  SmtpServer server(io);
  server.heloReply.clear();
  const Outcome outcome = run(smtpSpec(kShort), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "timeout waiting for the HELO reply");
}

TEST_F(ProbeTest, SmtpClosedBeforeTheBanner) {
  HttpServer server(io);
  server.mode = HttpServer::Mode::kReset;  // closes at once (with a RST)
  const Outcome outcome = run(smtpSpec(), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "connection reset");
}

// ---- dns

struct DnsServer {
  enum class Mode {
    kAnswer,
    kNxdomain,
    kNoAnswer,
    kOtherType,
    kMalformed,
    kSilent,
    kWrongIdFirst,
    kRandom
  };
  explicit DnsServer(asio::io_context& io)
      : socket(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io, loop(), asio::detached);
  }
  std::uint16_t port() const { return socket.local_endpoint().port(); }

  udp::socket socket;
  Mode mode = Mode::kAnswer;
  std::vector<std::vector<std::uint8_t>> queries;
  std::mt19937 random{12345};

 private:
  using Bytes = std::vector<std::uint8_t>;

  awaitable<void> loop() {
    std::array<std::uint8_t, 1500> buffer;
    udp::endpoint from;
    for (;;) {
      const std::size_t size =
          co_await socket.async_receive_from(asio::buffer(buffer), from, use_awaitable);
      queries.emplace_back(buffer.begin(), buffer.begin() + size);
      if (size < 12) continue;
      for (const Bytes& reply : replies(queries.back())) {
        co_await socket.async_send_to(asio::buffer(reply), from, use_awaitable);
      }
    }
  }

  // A reply to `query`: its id and question, then `answers`.
  static Bytes reply(const Bytes& query, int rcode, int answerCount, const Bytes& answers) {
    Bytes out = {query[0], query[1], 0x81, static_cast<std::uint8_t>(0x80 | rcode),
                 0,        1,        0,    static_cast<std::uint8_t>(answerCount),
                 0,        0,        0,    0};
    out.insert(out.end(), query.begin() + 12, query.end());
    out.insert(out.end(), answers.begin(), answers.end());
    return out;
  }

  std::vector<Bytes> replies(const Bytes& query) {
    // Name: a pointer to the question's; TTL 60.
    const Bytes a = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
    const Bytes cname = {0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 0x0c};
    switch (mode) {
      case Mode::kAnswer: {
        Bytes both = cname;
        both.insert(both.end(), a.begin(), a.end());
        return {reply(query, 0, 2, both)};
      }
      case Mode::kNxdomain:
        return {reply(query, 3, 0, {})};
      case Mode::kNoAnswer:
        return {reply(query, 0, 0, {})};
      case Mode::kOtherType:
        return {reply(query, 0, 1, cname)};
      case Mode::kMalformed: {
        Bytes truncated = reply(query, 0, 1, a);
        truncated.resize(truncated.size() - 3);  // the answer's data cut short
        return {truncated};
      }
      case Mode::kSilent:
        return {};
      case Mode::kWrongIdFirst: {
        Bytes wrong = reply(query, 0, 1, a);
        wrong[1] ^= 1;
        return {wrong, reply(query, 3, 0, {})};
      }
      case Mode::kRandom: {
        Bytes garbage(std::uniform_int_distribution<std::size_t>(2, 80)(random));
        for (std::uint8_t& byte : garbage) byte = static_cast<std::uint8_t>(random());
        garbage[0] = query[0];
        garbage[1] = query[1];
        if (garbage.size() > 2) garbage[2] |= 0x80;
        if (garbage.size() > 3) garbage[3] &= 0xf0;
        return {garbage};
      }
    }
    return {};
  }
};

CheckSpec dnsSpec(std::string name, std::uint16_t type,
                  std::chrono::milliseconds timeout = kGenerous) {
  DnsSpec dns;
  dns.name = std::move(name);
  dns.type = type;
  return specOf(dns, timeout);
}

TEST_F(ProbeTest, DnsAnswerPassesAndTheQueryIsRight) {
  DnsServer server(io);
  const Outcome outcome = run(dnsSpec("www.example.test", 1), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.reason, "1 answer");  // the CNAME does not count
  ASSERT_EQ(server.queries.size(), 1u);
  const std::vector<std::uint8_t>& query = server.queries[0];
  const std::vector<std::uint8_t> rest(query.begin() + 2, query.end());
  const std::vector<std::uint8_t> expected = {
      0x01, 0x00, 0,   1,   0,   0,   0,   0,   0,   0,  // RD, one question
      3,    'w',  'w', 'w', 7,   'e', 'x', 'a', 'm', 'p', 'l',
      'e',  4,    't', 'e', 's', 't', 0,   0,   1,   0,   1};  // type A, class IN
  EXPECT_EQ(rest, expected);
}

TEST_F(ProbeTest, DnsRootAndAny) {
  DnsServer server(io);
  Outcome outcome = run(dnsSpec(".", 255), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.reason, "2 answers");  // ANY: every record counts
  ASSERT_EQ(server.queries.size(), 1u);
  EXPECT_EQ(server.queries[0].size(), 12u + 5u);  // the root name is one zero byte
  EXPECT_EQ(server.queries[0][12], 0);
}

TEST_F(ProbeTest, DnsNxdomain) {
  DnsServer server(io);
  server.mode = DnsServer::Mode::kNxdomain;
  const Outcome outcome = run(dnsSpec("nope.test", 1), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "rcode NXDOMAIN");
}

TEST_F(ProbeTest, DnsNoAnswer) {
  DnsServer server(io);
  server.mode = DnsServer::Mode::kNoAnswer;
  Outcome outcome = run(dnsSpec(".", 6), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "no answer of type 6");
  server.mode = DnsServer::Mode::kOtherType;
  outcome = run(dnsSpec("www.example.test", 1), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "no answer of type 1");
}

TEST_F(ProbeTest, DnsMalformedReply) {
  DnsServer server(io);
  server.mode = DnsServer::Mode::kMalformed;
  const Outcome outcome = run(dnsSpec("www.example.test", 1), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "malformed reply");
}

TEST_F(ProbeTest, DnsReplyWithAnotherIdIsIgnored) {
  DnsServer server(io);
  server.mode = DnsServer::Mode::kWrongIdFirst;  // a good answer with the wrong id, then NXDOMAIN
  const Outcome outcome = run(dnsSpec("www.example.test", 1), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "rcode NXDOMAIN");
}

TEST_F(ProbeTest, DnsNoReplyTimesOut) {
  DnsServer server(io);
  server.mode = DnsServer::Mode::kSilent;
  const Outcome outcome = run(dnsSpec("www.example.test", 1, kShort), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "timeout waiting for the reply");
}

TEST_F(ProbeTest, DnsBadNamesFailWithoutAQuery) {
  DnsServer server(io);
  Outcome outcome = run(dnsSpec(std::string(64, 'a') + ".test", 1), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "bad name: label longer than 63 bytes");
  std::string longName;
  for (int i = 0; i < 5; ++i) longName += std::string(60, 'a') + ".";
  outcome = run(dnsSpec(longName, 1), "127.0.0.1", server.port());
  EXPECT_EQ(outcome.reason, "bad name: longer than 255 bytes");
  outcome = run(dnsSpec("a..test", 1), "127.0.0.1", server.port());
  EXPECT_EQ(outcome.reason, "bad name: empty label");
  EXPECT_TRUE(server.queries.empty());
}

TEST_F(ProbeTest, DnsRandomRepliesNeverCrash) {
  DnsServer server(io);
  server.mode = DnsServer::Mode::kRandom;  // seeded: the same replies every run
  std::unique_ptr<Probe> probe =
      makeProbe(dnsSpec("www.example.test", 1), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  int malformed = 0;
  for (int i = 0; i < 300; ++i) {
    const Outcome outcome = runProbe(*probe);
    EXPECT_FALSE(outcome.reason.empty());
    if (outcome.reason == "malformed reply") ++malformed;
  }
  EXPECT_GT(malformed, 100);
}

// ---- lifetime: a destroyed probe never calls back

TEST_F(ProbeTest, DestroyedMidAttemptNeverCallsBack) {
  HttpServer server(io);
  server.mode = HttpServer::Mode::kSilent;
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(HttpSpec{}, 200ms), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  int calls = 0;
  probe->start([&](Outcome) { ++calls; });
  runUntil([&] { return server.requests.size() == 1; });
  probe.reset();
  runFor(600ms);  // well past the deadline
  EXPECT_EQ(calls, 0);
}

TEST_F(ProbeTest, DestroyedRightAfterStartNeverCallsBack) {
  HttpServer server(io, "127.0.0.1", nullptr);
  DnsServer dns(io);
  dns.mode = DnsServer::Mode::kSilent;
  int calls = 0;
  std::vector<CheckSpec> specs = {specOf(TcpSpec{}), specOf(HttpSpec{}), smtpSpec(),
                                  dnsSpec(".", 6)};
  for (const CheckSpec& spec : specs) {
    const std::uint16_t port =
        std::holds_alternative<DnsSpec>(spec.kind) ? dns.port() : server.port();
    makeProbe(spec, Target{ip("127.0.0.1"), port, {}}, ctx)->start([&](Outcome) { ++calls; });
    // A failure found inside start() is posted: it must not arrive either.
    makeProbe(spec, Target{ip("127.0.0.1"), port, ip("198.18.0.1")}, ctx)->start([&](Outcome) {
      ++calls;
    });
  }
  runFor(300ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(ProbeTest, DestroyedDuringTheTlsHandshake) {
  HttpServer server(io);
  server.mode = HttpServer::Mode::kMute;
  HttpSpec spec;
  spec.tls = true;
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(spec, 200ms), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  int calls = 0;
  probe->start([&](Outcome) { ++calls; });
  runUntil([&] { return server.accepted == 1; });
  probe.reset();
  runFor(400ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(ProbeTest, DoneMayDestroyTheProbeOrStartTheNextAttempt) {
  HttpServer server(io);
  std::unique_ptr<Probe> probe =
      makeProbe(specOf(HttpSpec{}), Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  std::vector<std::string> reasons;
  probe->start([&](Outcome first) {
    reasons.push_back(first.reason);
    server.status = 500;
    probe->start([&](Outcome second) {
      reasons.push_back(second.reason);
      probe.reset();  // destroyed from inside its own callback
    });
  });
  runUntil([&] { return reasons.size() == 2; });
  EXPECT_EQ(reasons, (std::vector<std::string>{"status 200", "status 500"}));
  EXPECT_EQ(probe, nullptr);
}

TEST(DigestTest, Md5Hex) {
  EXPECT_EQ(md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5Hex("hello\n"), kHelloMd5);
  EXPECT_EQ(md5Hex(std::string(1, '\0')), "93b885adfe0da089cdf634904fd59f71");
}

// As in FIPS mode: only FIPS implementations may be fetched, and OpenSSL has no FIPS MD5. The
// digest is then unavailable (no abort), and a digest check fails saying why.
class NoMd5Test : public ProbeTest {
 protected:
  void SetUp() override { ASSERT_EQ(EVP_set_default_properties(nullptr, "fips=yes"), 1); }
  void TearDown() override { EVP_set_default_properties(nullptr, ""); }
};

TEST_F(NoMd5Test, DigestUnavailableFailsTheCheckWithTheReason) {
  EXPECT_EQ(md5Hex("hello\n"), std::nullopt);
  HttpServer server(io);
  HttpSpec spec;
  spec.digest = kHelloMd5;
  const Outcome outcome = run(specOf(spec), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, std::string("digest: ") + kMd5Unavailable);
}

}  // namespace
}  // namespace quorate::server::check
