// quoratectl genhash against an HTTP server on loopback: URL parsing, the library call, the
// command line and the real binary.
#include "client/genhash.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/commands.h"

namespace quorate::client {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr char kHelloMd5[] = "b1946ac92492d2347c6235b4d2611184";  // md5("hello\n")

// Answers every GET with 200 and "hello\n", on its own thread; records the Host headers.
class HelloServer {
 public:
  HelloServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, acceptLoop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HelloServer() {
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<std::string> hosts() {
    std::lock_guard lock(mutex_);
    return hosts_;
  }

 private:
  asio::awaitable<void> acceptLoop() {
    for (;;) {
      tcp::socket socket = co_await acceptor_.async_accept(asio::use_awaitable);
      try {
        boost::beast::flat_buffer buffer;
        http::request<http::string_body> request;
        co_await http::async_read(socket, buffer, request, asio::use_awaitable);
        {
          std::lock_guard lock(mutex_);
          hosts_.emplace_back(request[http::field::host]);
        }
        http::response<http::string_body> response{http::status::ok, 11};
        response.body() = request.target() == "/missing" ? "not here\n" : "hello\n";
        if (request.target() == "/missing") response.result(http::status::not_found);
        response.prepare_payload();
        co_await http::async_write(socket, response, asio::use_awaitable);
      } catch (const std::exception&) {
      }
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = acceptor_.local_endpoint().port();
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> hosts_;
};

struct Genhashed {
  int exit = -1;
  std::string out;
  std::string err;
};

Genhashed genhash(const std::string& url, bool json = false, const std::string& virtualHost = "") {
  GenhashOptions options;
  options.url = url;
  options.json = json;
  options.virtualHost = virtualHost;
  std::ostringstream out;
  std::ostringstream err;
  Genhashed run;
  run.exit = runGenhash(options, std::chrono::seconds(20), out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

TEST(GenhashTest, ParsesUrls) {
  std::string error;
  std::optional<Url> url = parseUrl("http://127.0.0.1:8080/health?x=1#top", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_FALSE(url->tls);
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->path, "/health?x=1");

  url = parseUrl("HTTPS://[2001:db8::1]", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "2001:db8::1");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->path, "/");

  url = parseUrl("http://www.example.test?q", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "www.example.test");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->path, "/?q");

  for (const char* bad : {"ftp://h/", "127.0.0.1/", "http://", "http://h:0/", "http://h:99999/",
                          "http://user@h/", "http://::1/", "http://h/a b", "http://[::1/"}) {
    error.clear();
    EXPECT_FALSE(parseUrl(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(GenhashTest, PrintsTheDigest) {
  HelloServer server;
  const Genhashed run = genhash(server.url());
  EXPECT_EQ(run.exit, kExitOk) << run.err;
  EXPECT_EQ(run.out, "URL = " + server.url() +
                         "\nHTTP status = 200\nBody length = 6\nMD5SUM = " + kHelloMd5 + "\n");
  EXPECT_EQ(server.hosts(),
            (std::vector<std::string>{"127.0.0.1:" + std::to_string(server.port())}));
}

TEST(GenhashTest, JsonAndVirtualHost) {
  HelloServer server;
  const Genhashed run = genhash(server.url("/missing"), true, "www.example.test");
  EXPECT_EQ(run.exit, kExitOk) << run.err;
  const nlohmann::json json = nlohmann::json::parse(run.out);
  EXPECT_EQ(json["status"], 404);
  EXPECT_EQ(json["md5"], "80951c48c5fba4c5460bb386fa07a736");  // md5("not here\n")
  EXPECT_EQ(json["bytes"], 9);
  EXPECT_EQ(json["address"], "127.0.0.1");
  EXPECT_EQ(server.hosts(), (std::vector<std::string>{"www.example.test"}));
}

TEST(GenhashTest, HostNamesAreResolvedAndSentAsTheHost) {
  HelloServer server;
  const Genhashed run = genhash("http://localhost:" + std::to_string(server.port()) + "/");
  if (run.exit != kExitOk && run.err.find("cannot resolve") != std::string::npos) {
    GTEST_SKIP() << "localhost does not resolve here: " << run.err;
  }
  // localhost may resolve to ::1 first, where nobody listens: then the fetch is refused.
  if (run.exit == kExitOk) {
    EXPECT_NE(run.out.find(std::string("MD5SUM = ") + kHelloMd5), std::string::npos);
    EXPECT_EQ(server.hosts(),
              (std::vector<std::string>{"localhost:" + std::to_string(server.port())}));
  } else {
    EXPECT_NE(run.err.find("connection refused"), std::string::npos) << run.err;
  }
}

TEST(GenhashTest, FetchFailureNamesTheReason) {
  asio::io_context io;
  tcp::socket closed(io);  // bound, never listening: refuses
  closed.open(tcp::v4());
  closed.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string url =
      "http://127.0.0.1:" + std::to_string(closed.local_endpoint().port()) + "/";
  const Genhashed run = genhash(url);
  EXPECT_EQ(run.exit, kExitFailure);
  EXPECT_EQ(run.err, "quoratectl genhash: " + url + ": connection refused\n");
  EXPECT_EQ(run.out, "");
}

TEST(GenhashTest, BadUrlIsAUsageError) {
  const Genhashed run = genhash("ftp://127.0.0.1/");
  EXPECT_EQ(run.exit, kExitUsage);
  EXPECT_EQ(run.err,
            "quoratectl genhash: --url ftp://127.0.0.1/: the URL must start with http:// or "
            "https://\n");
}

TEST(GenhashTest, CommandLine) {
  std::vector<const char*> args = {"quoratectl", "genhash",      "--url",   "https://10.0.0.1/",
                                   "--verify",   "--sni",        "rs.test", "--virtualhost",
                                   "www.test",   "--timeout-ms", "500",     "--json"};
  CLI::App app;
  CliOptions options;
  configureCli(app, options);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_FALSE(parseCli(app, static_cast<int>(args.size()), args.data(), out, err)) << err.str();
  EXPECT_EQ(options.command, Command::kGenhash);
  EXPECT_EQ(options.genhash.url, "https://10.0.0.1/");
  EXPECT_TRUE(options.genhash.verify);
  EXPECT_EQ(options.genhash.sni, "rs.test");
  EXPECT_EQ(options.genhash.virtualHost, "www.test");
  EXPECT_EQ(options.timeoutMs, 500);
  EXPECT_TRUE(options.json);

  for (std::vector<const char*> bad : {std::vector<const char*>{"quoratectl", "genhash"},
                                       {"quoratectl", "genhash", "--url", "gopher://x/"}}) {
    CLI::App badApp;
    CliOptions badOptions;
    configureCli(badApp, badOptions);
    std::ostringstream badErr;
    EXPECT_EQ(parseCli(badApp, static_cast<int>(bad.size()), bad.data(), out, badErr), kExitUsage);
  }
}

// The real binary: output and exit status.
TEST(GenhashTest, Binary) {
  HelloServer server;
  const std::string command =
      std::string(QUORATECTL_PATH) + " genhash --url " + server.url() + " --timeout-ms 20000 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char chunk[256];
  while (std::size_t n = fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find(std::string("MD5SUM = ") + kHelloMd5 + "\n"), std::string::npos) << output;

  const std::string bad = std::string(QUORATECTL_PATH) + " genhash --url nope 2>&1";
  pipe = popen(bad.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  output.clear();
  while (std::size_t n = fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  const int badStatus = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(badStatus)) << output;
  EXPECT_EQ(WEXITSTATUS(badStatus), kExitUsage) << output;
  EXPECT_NE(output.find("http:// or https://"), std::string::npos) << output;
}

}  // namespace
}  // namespace quorate::client
