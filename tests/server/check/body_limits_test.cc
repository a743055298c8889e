// HTTP(S) checks against servers that send 64 MiB bodies on loopback: the digest still matches
// one computed here, and the process's peak memory grows by a small fraction of the body.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/check/http_fetch.h"
#include "server/check/probe.h"
#include "server/script_runner.h"
#include "tests/server/check/test_servers.h"

namespace quorate::server::check {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// 64 MiB and a bit: the last piece fills only part of the probe's 16 KiB chunk.
constexpr std::uint64_t kBodyBytes = (64ull << 20) + 1001;
constexpr std::size_t kBlock = 64 << 10;
// What a check may add to the process's peak memory while it reads a 64 MiB body: its buffers,
// the server's block, the allocator's slack. Keeping the body would add 64 MiB or more.
constexpr long kMaxGrowthKib = 16 << 10;

// Under ASan freed blocks wait in its quarantine (256 MiB by default) and every block has red
// zones: peak RSS then measures the sanitizer, not the streaming. The bodies are still fetched
// and hashed; only the growth bound is not checked.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRssMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kRssMeaningful = false;
#else
constexpr bool kRssMeaningful = true;
#endif
#else
constexpr bool kRssMeaningful = true;
#endif

// Block `index` of the body: bytes that differ from block to block, so that a digest of only
// some of them, or of them out of order, does not match.
std::string block(std::uint64_t index, std::size_t size) {
  std::string out(size, '\0');
  std::uint32_t x = static_cast<std::uint32_t>(index) * 2654435761u + 1;
  for (char& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// The MD5 of the whole body, with OpenSSL's EVP calls made here (not the probe's digest code).
std::string expectedMd5(std::uint64_t bytes) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestInit_ex(context, EVP_md5(), nullptr), 1);
  for (std::uint64_t sent = 0, i = 0; sent < bytes; sent += kBlock, ++i) {
    const std::string b =
        block(i, static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, bytes - sent)));
    EVP_DigestUpdate(context, b.data(), b.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context, md, &length);
  EVP_MD_CTX_free(context);
  char hex[2 * EVP_MAX_MD_SIZE + 1] = {};
  for (unsigned int i = 0; i < length; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return hex;
}

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM").
long statusKib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// Starts measuring the peak from now: Linux resets VmHWM to the current RSS on "5".
bool resetPeak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// Serves one big body per connection, a block at a time, with Content-Length or chunked.
struct BigBodyServer {
  BigBodyServer(asio::io_context& io, bool chunkedBody, ssl::context* tlsContext = nullptr)
      : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        chunked(chunkedBody),
        tls(tlsContext) {
    asio::co_spawn(io, acceptLoop(), asio::detached);
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  awaitable<void> acceptLoop() {
    for (;;) {
      tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
      asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
    }
  }
  awaitable<void> session(tcp::socket socket) {
    try {
      if (tls != nullptr) {
        ssl::stream<tcp::socket> stream(std::move(socket), *tls);
        co_await stream.async_handshake(ssl::stream_base::server, use_awaitable);
        co_await serve(stream);
      } else {
        co_await serve(socket);
      }
    } catch (const std::exception&) {
      // The client went away.
    }
  }
  template <class Stream>
  awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    http::request<http::empty_body> request;
    co_await http::async_read(stream, buffer, request, use_awaitable);
    std::string head = "HTTP/1.1 200 OK\r\nConnection: close\r\n";
    head += chunked ? "Transfer-Encoding: chunked\r\n\r\n"
                    : "Content-Length: " + std::to_string(kBodyBytes) + "\r\n\r\n";
    co_await asio::async_write(stream, asio::buffer(head), use_awaitable);
    for (std::uint64_t sent = 0, i = 0; sent < kBodyBytes; sent += kBlock, ++i) {
      std::string piece =
          block(i, static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, kBodyBytes - sent)));
      if (chunked) piece = hex(piece.size()) + "\r\n" + piece + "\r\n";
      co_await asio::async_write(stream, asio::buffer(piece), use_awaitable);
    }
    if (chunked) co_await asio::async_write(stream, asio::buffer("0\r\n\r\n", 5), use_awaitable);
  }
  static std::string hex(std::size_t n) {
    char text[32];
    std::snprintf(text, sizeof text, "%zx", n);
    return text;
  }

  tcp::acceptor acceptor;
  bool chunked;
  ssl::context* tls;
};

class BigBodyTest : public ::testing::Test {
 protected:
  // Fetches from `port` as the probe does; the reply, and the growth of the peak RSS in KiB.
  std::pair<HttpReply, long> fetch(std::uint16_t port, bool md5, bool tls = false) {
    HttpSpec spec;
    spec.tls = tls;
    std::unique_ptr<HttpFetch> fetch =
        makeHttpFetch(spec, Target{*net::IpAddress::parse("127.0.0.1"), port, {}}, 60s, ctx, md5);
    std::optional<HttpReply> reply;
    const long before = statusKib("VmRSS");
    EXPECT_TRUE(resetPeak()) << "cannot reset the peak RSS (/proc/self/clear_refs)";
    fetch->start([&](HttpReply r) { reply = std::move(r); });
    const auto giveUp = std::chrono::steady_clock::now() + 120s;
    while (!reply && std::chrono::steady_clock::now() < giveUp) io.run_one_for(100ms);
    const long growth = statusKib("VmHWM") - before;
    EXPECT_TRUE(reply.has_value()) << "no reply within two minutes";
    return {reply.value_or(HttpReply{}), growth};
  }
  // The probe's verdict with `digest`.
  Outcome probe(std::uint16_t port, std::string digest) {
    CheckSpec spec;
    HttpSpec http;
    http.digest = std::move(digest);
    spec.kind = http;
    spec.timeout = 60s;
    std::unique_ptr<Probe> p =
        makeProbe(spec, Target{*net::IpAddress::parse("127.0.0.1"), port, {}}, ctx);
    std::optional<Outcome> outcome;
    p->start([&](Outcome o) { outcome = std::move(o); });
    const auto giveUp = std::chrono::steady_clock::now() + 120s;
    while (!outcome && std::chrono::steady_clock::now() < giveUp) io.run_one_for(100ms);
    return outcome.value_or(Outcome{false, "no outcome", {}});
  }

  asio::io_context io;
  ScriptRunner scripts{io};
  ProbeContext ctx{io, scripts};
};

TEST_F(BigBodyTest, ContentLengthBodyIsHashedAsItArrives) {
  BigBodyServer server(io, false);
  const auto [reply, growth] = fetch(server.port(), true);
  ASSERT_TRUE(reply.ok) << reply.error;
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.bodyBytes, kBodyBytes);
  EXPECT_EQ(reply.md5, expectedMd5(kBodyBytes));
  if (kRssMeaningful) {
    EXPECT_LT(growth, kMaxGrowthKib) << "peak RSS grew by " << growth << " KiB for a 64 MiB body";
  }
  std::printf("content-length, 64 MiB, md5: peak RSS +%ld KiB\n", growth);
}

TEST_F(BigBodyTest, ChunkedBodyIsHashedAsItArrives) {
  BigBodyServer server(io, true);
  const auto [reply, growth] = fetch(server.port(), true);
  ASSERT_TRUE(reply.ok) << reply.error;
  EXPECT_EQ(reply.bodyBytes, kBodyBytes);
  EXPECT_EQ(reply.md5, expectedMd5(kBodyBytes));
  if (kRssMeaningful) {
    EXPECT_LT(growth, kMaxGrowthKib) << "peak RSS grew by " << growth << " KiB for a 64 MiB body";
  }
  std::printf("chunked, 64 MiB, md5: peak RSS +%ld KiB\n", growth);
}

TEST_F(BigBodyTest, WithoutADigestTheBodyIsReadAndDropped) {
  BigBodyServer server(io, true);
  const auto [reply, growth] = fetch(server.port(), false);
  ASSERT_TRUE(reply.ok) << reply.error;
  EXPECT_EQ(reply.bodyBytes, kBodyBytes);
  EXPECT_EQ(reply.md5, std::nullopt);
  if (kRssMeaningful) {
    EXPECT_LT(growth, kMaxGrowthKib) << "peak RSS grew by " << growth << " KiB for a 64 MiB body";
  }
  std::printf("chunked, 64 MiB, no digest: peak RSS +%ld KiB\n", growth);
}

TEST_F(BigBodyTest, TlsBodyIsHashedAsItArrives) {
  test_servers::TestCertificates certificates;
  if (!certificates.made) GTEST_SKIP() << "openssl could not make a certificate";
  ssl::context tls(ssl::context::tls_server);
  certificates.serve(tls);
  BigBodyServer server(io, false, &tls);
  const auto [reply, growth] = fetch(server.port(), true, true);
  ASSERT_TRUE(reply.ok) << reply.error;
  EXPECT_EQ(reply.bodyBytes, kBodyBytes);
  EXPECT_EQ(reply.md5, expectedMd5(kBodyBytes));
  if (kRssMeaningful) {
    EXPECT_LT(growth, kMaxGrowthKib) << "peak RSS grew by " << growth << " KiB for a 64 MiB body";
  }
  std::printf("TLS, content-length, 64 MiB, md5: peak RSS +%ld KiB\n", growth);
}

// The probe compares the streamed digest: the right one passes, another fails naming what it got.
TEST_F(BigBodyTest, TheProbeJudgesTheStreamedDigest) {
  BigBodyServer server(io, true);
  const std::string md5 = expectedMd5(kBodyBytes);
  Outcome outcome = probe(server.port(), md5);
  EXPECT_TRUE(outcome.ok) << outcome.reason;
  outcome = probe(server.port(), std::string(32, '0'));
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "digest mismatch: got " + md5);
}

}  // namespace
}  // namespace quorate::server::check
