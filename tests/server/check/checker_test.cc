// The checker against real listeners on loopback: verdicts flip within the configured rounds
// and recover; alpha and rise; several checks per real server; dynamic weights from a script;
// notify programs; a reload that keeps the state of unchanged checks, and one that reads a
// rotated CA file.
#include "server/check/checker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/common/config_test_util.h"
#include "tests/server/check/test_servers.h"

namespace quorate::server::check {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

net::IpAddress ip(const char* s) { return *net::IpAddress::parse(s); }

// A TCP listener on 127.0.0.1 that accepts and closes; close() makes its port refuse.
class Listener {
 public:
  explicit Listener(asio::io_context& io, std::uint16_t port = 0)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)) {
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void close() { acceptor_.close(); }

 private:
  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
      if (ec) return;
      s.close();
      accept();
    });
  }
  tcp::acceptor acceptor_;
};

// A port on 127.0.0.1 where nothing listens (it was just free).
std::uint16_t closedPort(asio::io_context& io) {
  Listener l(io);
  const auto p = l.port();
  l.close();
  return p;
}

CheckSpec tcpCheck(int retries = 0, int rise = 1, int fall = 1) {
  CheckSpec c;
  c.kind = TcpSpec{};
  c.timeout = 2000ms;
  c.interval = 30ms;
  c.retryDelay = 10ms;
  c.warmup = 10ms;
  c.retries = retries;
  c.rise = rise;
  c.fall = fall;
  return c;
}

// A real server of the virtual server "web" on 127.0.0.1:`port`, each check aimed at it.
CheckedServer realServer(std::uint16_t port, const std::vector<CheckSpec>& checks,
                         bool alpha = false) {
  CheckedServer rs;
  rs.key = {"web", ip("127.0.0.1"), port};
  rs.alpha = alpha;
  for (const auto& spec : checks) rs.checks.push_back(checkTarget(spec, rs.key.address, port));
  return rs;
}

std::vector<CheckedServer> oneVirtualServer(std::vector<CheckedServer> rss) { return rss; }

// Reads the file at `path` into `text` and returns how many lines it has (0 if missing).
long linesIn(const std::string& path, std::string& text) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  return std::count(text.begin(), text.end(), '\n');
}

class CheckerTest : public ::testing::Test {
 protected:
  CheckerTest()
      : scripts_(io_),
        checks_(
            io_, scripts_, [this](const Verdict& v) { verdicts_.push_back(v); }, 7) {}

  // Runs the io_context until `done` holds (checked after each handler) or 10 s pass.
  bool runUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_one_for(50ms);
    }
    return true;
  }
  // The last verdict given for the real server on `port`.
  std::optional<Verdict> last(std::uint16_t port) const {
    for (auto it = verdicts_.rbegin(); it != verdicts_.rend(); ++it) {
      if (it->server.port == port) return *it;
    }
    return std::nullopt;
  }
  bool alive(std::uint16_t port) const {
    const auto v = last(port);
    return v && v->alive;
  }
  bool dead(std::uint16_t port) const {
    const auto v = last(port);
    return v && !v->alive;
  }

  asio::io_context io_;
  ScriptRunner scripts_;
  std::vector<Verdict> verdicts_;
  HealthChecks checks_;
};

TEST_F(CheckerTest, ARefusingServerGoesDownAndComesBackWhenItListens) {
  Listener up(io_);
  const std::uint16_t downPort = closedPort(io_);
  const auto initial = checks_.apply(
      oneVirtualServer({realServer(up.port(), {tcpCheck()}), realServer(downPort, {tcpCheck()})}));
  ASSERT_EQ(initial.size(), 2U);
  EXPECT_TRUE(initial[0].alive);  // not alpha: both start alive
  EXPECT_TRUE(initial[1].alive);
  EXPECT_EQ(checks_.checkCount(), 2U);

  ASSERT_TRUE(runUntil([&] { return dead(downPort); }));
  EXPECT_EQ(last(downPort)->reason, "tcp check: connection refused");
  EXPECT_EQ(last(downPort)->server.virtualServer, "web");
  EXPECT_FALSE(last(up.port()).has_value());  // no change, no verdict

  Listener back(io_, downPort);
  ASSERT_TRUE(runUntil([&] { return alive(downPort); }));
  EXPECT_EQ(last(downPort)->reason, "tcp check: connected");
  EXPECT_FALSE(last(up.port()).has_value());
}

TEST_F(CheckerTest, RetriesAndFallDelayTheVerdict) {
  const std::uint16_t port = closedPort(io_);
  checks_.apply(oneVirtualServer({realServer(port, {tcpCheck(/*retries=*/2, 1, /*fall=*/2)})}));
  ASSERT_TRUE(runUntil([&] { return dead(port); }));
  // Two failed rounds (fall 2) of three attempts each: while up, retries confirm a failure.
  EXPECT_EQ(checks_.attempts(), 6U);
}

TEST_F(CheckerTest, AlphaStartsDownAndRiseCountsRounds) {
  Listener l(io_);
  const auto initial =
      checks_.apply(oneVirtualServer({realServer(l.port(), {tcpCheck(0, /*rise=*/3)}, true)}));
  ASSERT_EQ(initial.size(), 1U);
  EXPECT_FALSE(initial[0].alive);
  EXPECT_EQ(initial[0].reason, "tcp check: not checked yet");
  ASSERT_TRUE(runUntil([&] { return alive(l.port()); }));
  EXPECT_EQ(checks_.attempts(), 3U);
}

TEST_F(CheckerTest, EveryCheckMustPass) {
  Listener l(io_);
  const std::uint16_t closed = closedPort(io_);
  CheckSpec other = tcpCheck();
  other.port = closed;  // connect_port: a second check elsewhere
  checks_.apply(oneVirtualServer({realServer(l.port(), {tcpCheck(), other})}));
  ASSERT_TRUE(runUntil([&] { return dead(l.port()); }));
  EXPECT_EQ(last(l.port())->reason, "tcp check: connection refused");
  Listener back(io_, closed);
  ASSERT_TRUE(runUntil([&] { return alive(l.port()); }));
}

TEST_F(CheckerTest, ReloadKeepsTheStateOfUnchangedChecks) {
  const std::uint16_t port = closedPort(io_);
  Listener other(io_);
  auto config = oneVirtualServer(
      {realServer(port, {tcpCheck()}), realServer(other.port(), {tcpCheck()}, /*alpha=*/true)});
  checks_.apply(config);
  ASSERT_TRUE(runUntil([&] { return dead(port) && alive(other.port()); }));

  // The same config again (as a SIGHUP that changed something else): states kept.
  auto again = checks_.apply(config);
  ASSERT_EQ(again.size(), 2U);
  EXPECT_FALSE(again[0].alive);
  EXPECT_TRUE(again[1].alive);  // alpha, but up already: not reset to down

  // A changed check starts afresh: up (not alpha), until it fails again.
  config[0].checks[0].spec.timeout = 1500ms;
  auto changed = checks_.apply(config);
  EXPECT_TRUE(changed[0].alive);
  EXPECT_TRUE(changed[1].alive);
  // A removed real server's checks stop.
  config.pop_back();
  EXPECT_EQ(checks_.apply(config).size(), 1U);
  EXPECT_EQ(checks_.checkCount(), 1U);
}

// A reload (SIGHUP: apply() with the same file) reads an https check's CA file again: rotate the
// bundle, reload, and the check passes; without the reload it goes on with the old bundle.
TEST_F(CheckerTest, AReloadReadsARotatedCaFile) {
  const test_servers::TestCertificates certs;
  ASSERT_TRUE(certs.made) << "openssl req failed, see " << certs.dir << "/openssl.log";
  asio::ssl::context serverTls(asio::ssl::context::tls_server);
  certs.serve(serverTls);
  test_servers::HttpServer server(io_, "127.0.0.1", &serverTls);
  const std::string bundle = certs.dir + "/bundle.pem";
  std::filesystem::copy_file(certs.other(), bundle);  // does not vouch for the server
  HttpSpec https;
  https.tls = true;
  https.verify = true;
  https.sni = "rs.test";
  https.caFile = bundle;
  CheckSpec check = tcpCheck();
  check.kind = https;
  const auto config = oneVirtualServer({realServer(server.port(), {check})});
  checks_.apply(config);
  ASSERT_TRUE(runUntil([&] { return dead(server.port()); }));
  EXPECT_THAT(last(server.port())->reason, HasSubstr("certificate verify failed"));

  std::filesystem::copy_file(certs.cert(), bundle,
                             std::filesystem::copy_options::overwrite_existing);
  const auto before = checks_.attempts();
  ASSERT_TRUE(runUntil([&] { return checks_.attempts() >= before + 5; }));
  EXPECT_TRUE(dead(server.port())) << "read again without a reload";

  const auto kept = checks_.apply(config);
  ASSERT_EQ(kept.size(), 1U);
  EXPECT_FALSE(kept[0].alive);  // the check was kept, with its state
  ASSERT_TRUE(runUntil([&] { return alive(server.port()); }));
  EXPECT_EQ(last(server.port())->reason, "https check: status 200");
}

TEST_F(CheckerTest, ATransitionCausedByAReloadRunsNotifyToo) {
  testutil::TempDir dir;
  const std::string notify =
      dir.script("notify.sh", "echo \"$QUORATE_STATE $QUORATE_REASON\" >> " + dir.file("log"));
  const std::uint16_t port = closedPort(io_);
  auto rs = realServer(port, {tcpCheck()});
  rs.notifyUp = {notify};
  rs.notifyDown = {notify};
  auto config = oneVirtualServer({rs});
  checks_.apply(config);
  ASSERT_TRUE(runUntil([&] { return dead(port); }));
  // The failing check is replaced by one that has not run yet (up): the reload moves it up.
  config[0].checks[0].spec.interval = 60'000ms;
  config[0].checks[0].spec.warmup = 60'000ms;
  const auto after = checks_.apply(config);
  ASSERT_EQ(after.size(), 1U);
  EXPECT_TRUE(after[0].alive);
  std::string log;
  ASSERT_TRUE(runUntil([&] { return linesIn(dir.file("log"), log) >= 2; }));
  EXPECT_EQ(log, "down tcp check: connection refused\nup tcp check: not checked yet\n");
}

TEST_F(CheckerTest, DynamicScriptWeightAndNotifyPrograms) {
  testutil::TempDir dir;
  const std::string exitCode = dir.file("code");
  std::ofstream(exitCode) << "7\n";
  const std::string script = dir.script("check.sh", "exit $(cat " + exitCode + ")");
  const std::string notify = dir.script(
      "notify.sh",
      "echo \"$QUORATE_STATE $QUORATE_REAL_SERVER $1 $QUORATE_REASON\" >> " + dir.file("log"));

  CheckSpec c = tcpCheck();
  c.kind = ScriptSpec{{script}, "", /*dynamic=*/true};
  auto rs = realServer(8080, {c});
  rs.notifyUp = {notify, "up-arg"};
  rs.notifyDown = {notify, "down-arg"};
  checks_.apply(oneVirtualServer({rs}));
  // exit 7: up with weight 5.
  ASSERT_TRUE(runUntil([&] { return last(8080) && last(8080)->weight == 5; }));
  EXPECT_TRUE(last(8080)->alive);
  EXPECT_EQ(last(8080)->reason, "script check: exit 7: weight 5");
  // exit 1: down (and the weight goes with it).
  std::ofstream(exitCode) << "1\n";
  ASSERT_TRUE(runUntil([&] { return dead(8080); }));
  EXPECT_FALSE(last(8080)->weight.has_value());
  // exit 0: up, the weight left as the last exit code set it (keepalived's misc_dynamic).
  std::ofstream(exitCode) << "0\n";
  ASSERT_TRUE(runUntil([&] { return alive(8080); }));
  EXPECT_EQ(last(8080)->weight, 5);
  // exit 2: weight 0 (up, but no new connections).
  std::ofstream(exitCode) << "2\n";
  ASSERT_TRUE(runUntil([&] { return last(8080)->weight == 0; }));
  EXPECT_TRUE(last(8080)->alive);
  // Notify ran for down then up, with the environment; wait for both lines.
  std::string log;
  ASSERT_TRUE(runUntil([&] { return linesIn(dir.file("log"), log) >= 2; }));
  EXPECT_EQ(log,
            "down 127.0.0.1:8080 down-arg script check: exit 1\n"
            "up 127.0.0.1:8080 up-arg script check: exit 0\n");
}

}  // namespace
}  // namespace quorate::server::check
