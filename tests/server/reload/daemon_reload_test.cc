// Reload in-process (real checks on loopback, fake kernel): a changed check restarts only its own
// real server's check; the other real servers keep theirs (no new probe, no transition). An
// instance removed and added back leaves the virtual servers on their own lease. A lease's own
// tracking changed by a reload gates that lease only.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/daemon.h"
#include "server/reload/plan.h"
#include "server/reload/reloader.h"
#include "tests/common/config_test_util.h"
#include "tests/server/fake_kernel.h"
#include "tests/server/in_process_arbiter.h"
#include "tests/support/ports.h"

namespace quorate::server {
namespace {

using namespace std::chrono_literals;
using testutil::waitFor;

// A listener on 127.0.0.1 that accepts and counts connections (each TCP check makes one).
class CountingListener {
 public:
  CountingListener() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) != 1) continue;
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        ++accepted_;
        ::close(c);
      }
    });
  }
  ~CountingListener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int fd_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

class DaemonReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    for (int& p : ports_) p = testutil::reservePort();
    std::filesystem::create_directories(dir_ + "/alpha");
    text_ = config(1000);
    running_ = parseDirectorConfig(text_, dir_ + "/alpha.yaml");
    director_ = std::make_unique<Daemon>(running_, kernel_.ports());
    ASSERT_TRUE(director_->start().isOk());
    stub_ = v1::Director::NewStub(grpc::CreateChannel("unix:" + dir_ + "/alpha/director.sock",
                                                      grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { director_.reset(); }

  std::string addr(int i) const { return "127.0.0.1:" + std::to_string(ports_[i]); }
  // Each real server has its own TCP check, probed once a day after a 10 ms warm-up: a second
  // probe can only come from a check started again. `bTimeoutMs` is b's check's timeout.
  std::string config(int bTimeoutMs) const {
    auto check = [](int timeoutMs) {
      return "[{type: tcp, interval_ms: 86400000, timeout_ms: " + std::to_string(timeoutMs) +
             ", retries: 0, warmup_ms: 10}]";
    };
    return "cluster: t1\nnode: alpha\nsecret: " + kTestKey + "\nlisten: \"" + addr(0) +
           "\"\nstate_dir: " + dir_ + "/alpha\noperator: {socket: " + dir_ +
           "/alpha/director.sock}\n"
           "directors: [{id: alpha, address: \"" +
           addr(0) + "\"}, {id: beta, address: \"" + addr(1) + "\"}]\narbiter: {address: \"" +
           addr(2) +
           "\"}\n"
           "instances: [{name: web, vips: [{address: 198.18.0.10/24, device: eth0}]}]\n"
           "virtual_servers:\n"
           "  - name: http\n"
           "    address: 198.18.0.10\n"
           "    port: 80\n"
           "    forwarding: nat\n"
           "    real_servers:\n"
           "      - {address: 127.0.0.1, port: " +
           std::to_string(a_.port()) + ", checks: " + check(1000) +
           "}\n"
           "      - {address: 127.0.0.1, port: " +
           std::to_string(b_.port()) + ", checks: " + check(bTimeoutMs) + "}\n";
  }
  // Whether Status shows the real server on `port` alive.
  bool alive(int port) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    v1::StatusReply r;
    if (!stub_->Status(&ctx, {}, &r).ok() || r.virtual_servers_size() != 1) return false;
    for (const auto& rs : r.virtual_servers(0).real_servers()) {
      if (rs.endpoint() == "127.0.0.1:" + std::to_string(port)) return rs.alive();
    }
    return false;
  }

  testutil::TempDir tmp_{"quorate-daemon-reload"};
  std::string dir_;
  int ports_[3] = {};
  CountingListener a_, b_;
  testing::FakeKernel kernel_;
  std::string text_;
  DirectorConfig running_;
  std::unique_ptr<Daemon> director_;
  std::unique_ptr<v1::Director::Stub> stub_;
};

TEST_F(DaemonReloadTest, AChangedCheckIsRestartedAndTheOthersKeepTheirState) {
  ASSERT_TRUE(waitFor([&] { return a_.accepted() == 1 && b_.accepted() == 1; }, 5s));
  ASSERT_TRUE(waitFor([&] { return alive(a_.port()) && alive(b_.port()); }, 5s));

  const std::string next = config(900);
  const auto plan = reload::planReload(running_, text_, parseDirectorConfig(next, "x"), next);
  ASSERT_TRUE(plan.accepted()) << plan.summary();
  ASSERT_TRUE(plan.virtualServers);
  const auto result = director_->applyReload(parseDirectorConfig(next, "x"), plan);
  EXPECT_TRUE(result.applied) << result.text;

  // b's check started again (its second probe); a's did not, and a stayed alive throughout.
  EXPECT_TRUE(waitFor([&] { return b_.accepted() == 2; }, 5s)) << b_.accepted();
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(alive(a_.port()));
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(a_.accepted(), 1) << "the unchanged check was started again";
  EXPECT_TRUE(alive(b_.port()));
}

// The daemon finds leases by name: mail removed ahead of web moves web's index in the file, not
// in the daemon, and the virtual server stays on web. A plan applied twice (a reload that failed
// in part is retried whole) removes or adds nothing twice.
TEST_F(DaemonReloadTest, AnInstanceRemovedAndAddedBackLeavesTheVirtualServersOnTheirLease) {
  // The virtual server names its instance (required with several).
  auto onWeb = [](std::string text) {
    const std::string at = "  - name: http\n";
    return text.replace(text.find(at), at.size(), at + "    instance: web\n");
  };
  auto withMail = [](std::string text) {
    const std::string at = "instances: [";
    return text.replace(text.find(at), at.size(),
                        at + "{name: mail, vips: [{address: 198.18.0.30/24, device: eth0}]}, ");
  };
  auto seen = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    v1::StatusReply r;
    std::string out;
    if (!stub_->Status(&ctx, {}, &r).ok()) return std::string("unreachable");
    for (const auto& l : r.leases()) out += l.name() + " ";
    for (const auto& vs : r.virtual_servers()) out += vs.name() + "@" + vs.lease();
    return out;
  };
  director_.reset();
  const std::string both = withMail(onWeb(config(1000)));
  director_ =
      std::make_unique<Daemon>(parseDirectorConfig(both, dir_ + "/alpha.yaml"), kernel_.ports());
  ASSERT_TRUE(director_->start().isOk());
  ASSERT_TRUE(waitFor([&] { return seen() == "mail web http@web"; }, 5s)) << seen();

  const std::string webOnly = onWeb(config(1000));
  const auto removal = reload::planReload(parseDirectorConfig(both, "x"), both,
                                          parseDirectorConfig(webOnly, "x"), webOnly);
  ASSERT_EQ(removal.removedLeases, std::vector<std::string>{"mail"}) << removal.summary();
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto r = director_->applyReload(parseDirectorConfig(webOnly, "x"), removal);
    EXPECT_TRUE(r.applied) << r.text;
    EXPECT_EQ(seen(), "web http@web") << "attempt " << attempt;
  }
  EXPECT_EQ(kernel_.calls("fence.release 198.18.0.30").size(), 1u) << "not let go of once";

  const auto addition = reload::planReload(parseDirectorConfig(webOnly, "x"), webOnly,
                                           parseDirectorConfig(both, "x"), both);
  ASSERT_EQ(addition.addedLeases, std::vector<std::size_t>{0}) << addition.summary();
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto r = director_->applyReload(parseDirectorConfig(both, "x"), addition);
    EXPECT_TRUE(r.applied) << r.text;
    EXPECT_EQ(seen(), "web mail http@web") << "attempt " << attempt;
  }
  EXPECT_EQ(kernel_.calls("fence.update 2 198.18.0.30").size(), 1u) << "added twice";
}

TEST_F(DaemonReloadTest, ARefusedPlanChangesNothing) {
  const std::string next = config(1000) + "log_level: debug\ntimers: {holder_lease_ms: 1400}\n";
  const auto plan = reload::planReload(running_, text_, parseDirectorConfig(next, "x"), next);
  ASSERT_FALSE(plan.accepted());
  const auto result = director_->applyReload(parseDirectorConfig(next, "x"), plan);
  EXPECT_FALSE(result.applied);
  EXPECT_NE(spdlog::get_level(), spdlog::level::debug);
}

TEST_F(DaemonReloadTest, NoReloadOnceStopping) {
  director_->stop();
  const std::string next = config(1000) + "log_level: warn\n";
  const auto plan = reload::planReload(running_, text_, parseDirectorConfig(next, "x"), next);
  ASSERT_TRUE(plan.accepted());
  const auto result = director_->applyReload(parseDirectorConfig(next, "x"), plan);
  EXPECT_FALSE(result.applied);
  EXPECT_NE(result.text.find("stopping"), std::string::npos) << result.text;
}

// VIPs reloaded through the Reloader (SIGHUP's path): a file whose VIPs one lease's fence refuses
// changes nothing, so the old file is still the running one and a reload of it finds nothing to
// do, rightly.
class DaemonVipReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    for (int& p : ports_) p = testutil::reservePort();
    std::filesystem::create_directories(dir_ + "/alpha");
    path_ = dir_ + "/alpha.yaml";
  }
  void TearDown() override {
    reloader_.reset();
    director_.reset();
    spdlog::set_level(spdlog::level::info);
  }
  // Writes the file with web on 198.18.0.10 (a) and db on 198.18.0.20 (c) into old_, starts a
  // director on it, and makes reloader_ with it as the running file.
  void startWebAndDb() {
    old_ = config("a", "c", "info");
    write(old_);
    const DirectorConfig running = parseDirectorConfig(old_, path_);
    director_ = std::make_unique<Daemon>(running, kernel_.ports());
    ASSERT_TRUE(director_->start().isOk());
    reloader_ = std::make_unique<reload::Reloader>(*director_, path_, running, old_,
                                                   ~privileges::CapMask{0});
  }
  std::string addr(int i) const { return "127.0.0.1:" + std::to_string(ports_[i]); }
  std::string config(const std::string& web, const std::string& db, const std::string& level,
                     const std::string& extra = "") {
    auto vips = [](const std::string& list) {
      std::string out;
      for (char c : list) {
        if (c == ' ') continue;
        out += std::string(out.empty() ? "" : ", ") + "{address: 198.18.0." +
               (c == 'a'   ? "10"
                : c == 'b' ? "11"
                : c == 'c' ? "20"
                           : "22") +
               "/24, device: eth0}";
      }
      return "[" + out + "]";
    };
    return "cluster: t1\nnode: alpha\nsecret: " + kTestKey + "\nlisten: \"" + addr(0) +
           "\"\nstate_dir: " + dir_ + "/alpha\noperator: {socket: " + dir_ +
           "/alpha/director.sock}\nlog_level: " + level + "\ndirectors: [{id: alpha, address: \"" +
           addr(0) + "\"}, {id: beta, address: \"" + addr(1) + "\"}]\narbiter: {address: \"" +
           addr(2) + "\"}\ninstances: [{name: web, vips: " + vips(web) +
           "}, {name: db, vips: " + vips(db) + "}]\n" + extra;
  }
  void write(const std::string& text) {
    std::ofstream(path_) << text;
    std::filesystem::permissions(
        path_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  std::vector<std::vector<std::string>> fenceGroups() const {
    std::vector<std::vector<std::string>> out;
    for (const auto& g : kernel_.fence.groups) {
      out.emplace_back();
      for (const auto& a : g) out.back().push_back(a.toString());
    }
    return out;
  }

  testutil::TempDir tmp_{"quorate-daemon-vip-reload"};
  std::string dir_, path_;
  int ports_[3] = {};
  testing::FakeKernel kernel_;
  std::unique_ptr<Daemon> director_;
  std::string old_;
  std::unique_ptr<reload::Reloader> reloader_;  // after director_: destroyed before it
};

TEST_F(DaemonVipReloadTest, AVipChangeOneLeaseRefusesChangesNothingAndTheOldFileStillRuns) {
  using Groups = std::vector<std::vector<std::string>>;
  ASSERT_NO_FATAL_FAILURE(startWebAndDb());
  const std::string& old = old_;
  reload::Reloader& reloader = *reloader_;
  ASSERT_EQ(fenceGroups(), (Groups{{"198.18.0.10"}, {"198.18.0.20"}}));

  // web gains 198.18.0.11; db trades 198.18.0.20 for 198.18.0.22, which its fence refuses; and
  // the log level changes. db lets go of .20 in the first pass, web takes .11, then db fails.
  kernel_.failCalls.insert("fence.update 1 198.18.0.22");
  const std::string ran = dir_ + "/ran";
  write(
      config("ab", "d", "debug",
             "track_scripts: [{name: t, command: [/bin/touch, " + ran + "], interval_ms: 10}]\n"));
  const auto refused = reloader.reload("test");
  EXPECT_FALSE(refused.applied()) << refused.summary();
  ASSERT_EQ(kernel_.calls("fence.update 1 198.18.0.22").size(), 1u) << "the fault was not met";
  EXPECT_EQ(fenceGroups(), (Groups{{"198.18.0.10"}, {"198.18.0.20"}}))
      << "a refused reload changed the VIPs: " << refused.summary();
  EXPECT_NE(spdlog::get_level(), spdlog::level::debug) << "a refused reload changed the log level";
  std::this_thread::sleep_for(300ms);  // thirty periods of the track script, had it been taken
  EXPECT_FALSE(std::filesystem::exists(ran)) << "a refused reload started a track script";

  // The operator goes back to the old file: it is what runs, so it changes nothing.
  kernel_.failCalls.clear();
  write(old);
  const auto back = reloader.reload("test");
  EXPECT_TRUE(back.applied()) << back.summary();
  EXPECT_EQ(fenceGroups(), (Groups{{"198.18.0.10"}, {"198.18.0.20"}}))
      << "the old file runs again, but not its VIPs: " << back.summary();

  // The same change once the fence takes it, the track script too (it runs: the check above
  // would have seen it).
  write(
      config("ab", "d", "info",
             "track_scripts: [{name: t, command: [/bin/touch, " + ran + "], interval_ms: 10}]\n"));
  const auto taken = reloader.reload("test");
  EXPECT_TRUE(taken.applied()) << taken.summary();
  EXPECT_EQ(fenceGroups(), (Groups{{"198.18.0.10", "198.18.0.11"}, {"198.18.0.22"}}));
  EXPECT_TRUE(waitFor([&] { return std::filesystem::exists(ran); }, 5s));
}

// A reload that fails in part (the fence refuses a lease it adds) applies the rest, the removal
// of db among it. What runs is then neither file: reloading the old one must bring db back, and
// reloading the new one must retry what failed, so that either file can become the running one.
TEST_F(DaemonVipReloadTest, AReloadThatFailsInPartCanBeUndoneOrRetried) {
  ASSERT_NO_FATAL_FAILURE(startWebAndDb());
  const std::string& old = old_;
  reload::Reloader& reloader = *reloader_;
  auto stub = v1::Director::NewStub(grpc::CreateChannel("unix:" + dir_ + "/alpha/director.sock",
                                                        grpc::InsecureChannelCredentials()));
  auto leases = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    v1::StatusReply r;
    if (!stub->Status(&ctx, {}, &r).ok()) return std::string("unreachable");
    std::string out;
    for (const auto& l : r.leases()) out += (out.empty() ? "" : " ") + l.name();
    return out;
  };
  ASSERT_TRUE(waitFor([&] { return leases() == "web db"; }, 5s)) << leases();

  // web gains 198.18.0.11, db goes, mail (198.18.0.30) comes: the fence refuses mail's group,
  // whatever its index.
  std::string next = config("ab", "c", "info");
  const std::string db = "{name: db, vips: [{address: 198.18.0.20/24, device: eth0}]}";
  next.replace(next.find(db), db.size(),
               "{name: mail, vips: [{address: 198.18.0.30/24, device: eth0}]}");
  auto refuseMail = [&] {
    for (int i = 0; i < 8; ++i)
      kernel_.failCalls.insert("fence.update " + std::to_string(i) + " 198.18.0.30");
  };
  refuseMail();
  write(next);
  const auto partial = reloader.reload("test");
  EXPECT_FALSE(partial.applied()) << partial.summary();
  EXPECT_NE(partial.summary().find("applied in part"), std::string::npos) << partial.summary();
  ASSERT_EQ(leases(), "web") << partial.summary();

  // Back to the old file: db runs again (and mail, never added, stays away).
  kernel_.failCalls.clear();
  write(old);
  const auto back = reloader.reload("test");
  EXPECT_TRUE(back.applied()) << back.summary();
  EXPECT_EQ(leases(), "web db") << "the old file does not run again: " << back.summary();
  ASSERT_FALSE(kernel_.fence.groups.empty());
  EXPECT_EQ(fenceGroups().front(), std::vector<std::string>{"198.18.0.10"})
      << "web keeps the VIPs of a file that no longer runs: " << back.summary();

  // The same partial failure, then the new file again once the fence takes mail: it is added.
  refuseMail();
  write(next);
  EXPECT_FALSE(reloader.reload("test").applied());
  ASSERT_EQ(leases(), "web");
  kernel_.failCalls.clear();
  const auto retried = reloader.reload("test");
  EXPECT_TRUE(retried.applied()) << retried.summary();
  EXPECT_EQ(leases(), "web mail") << "the failed lease is not retried: " << retried.summary();
  EXPECT_NE(retried.summary().find("lease mail added"), std::string::npos) << retried.summary();
  EXPECT_EQ(fenceGroups().front(), (std::vector<std::string>{"198.18.0.10", "198.18.0.11"}));
}

// A removal that leaves an address on its device is reported, and the next reload finishes it:
// the same file reloaded takes the address off and lets the fence go of it. An address a lease
// added since has taken is that lease's: the retry leaves it alone.
TEST_F(DaemonVipReloadTest, ARemovalThatLeftAnAddressBehindIsFinishedByTheNextReload) {
  ASSERT_NO_FATAL_FAILURE(startWebAndDb());
  const std::string& old = old_;
  reload::Reloader& reloader = *reloader_;
  const std::string db = ", {name: db, vips: [{address: 198.18.0.20/24, device: eth0}]}";
  auto without = [&](std::string text, const std::string& in) {
    return text.replace(text.find(db), db.size(), in);
  };

  kernel_.failCalls.insert("vips.remove 198.18.0.20");
  write(without(old, ""));
  const auto stuck = reloader.reload("test");
  EXPECT_FALSE(stuck.applied()) << stuck.summary();
  EXPECT_NE(stuck.summary().find("an address is still up"), std::string::npos) << stuck.summary();
  EXPECT_TRUE(kernel_.calls("fence.release 198.18.0.20").empty());

  kernel_.failCalls.clear();
  kernel_.journal.clear();
  const auto retried = reloader.reload("test");
  EXPECT_TRUE(retried.applied()) << retried.summary();
  EXPECT_EQ(kernel_.calls("fence.release 198.18.0.20").size(), 1u)
      << "the address of a removed lease is never let go of: " << retried.summary();
  EXPECT_EQ(kernel_.calls("vips.remove 198.18.0.20").size(), 1u) << retried.summary();
  EXPECT_TRUE(reloader.reload("test").applied());
  EXPECT_EQ(kernel_.calls("fence.release 198.18.0.20").size(), 1u) << "released twice";

  // Again, but lease back takes 198.18.0.20 (in a reload of its own) before the retry.
  write(old);
  ASSERT_TRUE(reloader.reload("test").applied());
  kernel_.failCalls.insert("vips.remove 198.18.0.20");
  write(without(old, ""));
  EXPECT_FALSE(reloader.reload("test").applied());
  const std::string withBack =
      without(old, ", {name: back, vips: [{address: 198.18.0.20/24, device: eth0}]}");
  write(withBack);
  EXPECT_FALSE(reloader.reload("test").applied()) << "db's removal is still stuck";
  kernel_.failCalls.clear();
  kernel_.journal.clear();
  const auto after = reloader.reload("test");
  EXPECT_TRUE(after.applied()) << after.summary();
  EXPECT_TRUE(kernel_.calls("fence.release 198.18.0.20").empty())
      << "the retry took lease back's address out of the fence";
  EXPECT_TRUE(kernel_.calls("vips.remove 198.18.0.20").empty())
      << "the retry took lease back's address off its device";
  EXPECT_EQ(fenceGroups().back(), std::vector<std::string>{"198.18.0.20"});
}

// Per-lease tracking taken by a reload: a track file added to web makes this director
// ineligible for web alone (db untouched), and taking it out again makes it eligible.
TEST_F(DaemonVipReloadTest, APerLeaseTrackFileAddedByAReloadGatesThatLeaseOnly) {
  ASSERT_NO_FATAL_FAILURE(startWebAndDb());
  auto stub = v1::Director::NewStub(grpc::CreateChannel("unix:" + dir_ + "/alpha/director.sock",
                                                        grpc::InsecureChannelCredentials()));
  // Each lease's eligibility, and the director's problems, from Status.
  auto status = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    v1::StatusReply r;
    EXPECT_TRUE(stub->Status(&ctx, {}, &r).ok());
    return r;
  };
  auto eligible = [&](const std::string& lease) {
    const v1::StatusReply r = status();
    for (const auto& l : r.leases()) {
      if (l.name() == lease) return l.eligible();
    }
    return false;
  };
  ASSERT_TRUE(waitFor([&] { return eligible("web") && eligible("db"); }, 5s));
  const std::string flag = dir_ + "/web.down";
  std::ofstream(flag) << "1\n";
  std::string next = old_;
  const std::string at = "{name: web, vips: ";
  next.replace(next.find(at), at.size(), "{name: web, track_files: [" + flag + "], vips: ");
  write(next);
  const auto taken = reloader_->reload("test");
  EXPECT_TRUE(taken.applied()) << taken.summary();
  EXPECT_NE(taken.summary().find("lease \"web\": tracking"), std::string::npos) << taken.summary();
  ASSERT_TRUE(waitFor([&] { return !eligible("web"); }, 5s));
  EXPECT_TRUE(eligible("db"));
  const auto r = status();
  EXPECT_TRUE(r.healthy()) << "a lease's own item is not the director's health";
  ASSERT_EQ(r.health_problems_size(), 1);
  EXPECT_EQ(r.health_problems(0), "lease web: track file " + flag + " holds 1, not 0");

  write(old_);
  EXPECT_TRUE(reloader_->reload("test").applied());
  EXPECT_TRUE(waitFor([&] { return eligible("web"); }, 5s));
  EXPECT_EQ(status().health_problems_size(), 0);
}

// A track file a reload adds is read as the reload is applied, not up to kFilePoll later: a
// lease is never judged fine on a file not read yet (a failing track script swapped for a file
// holding 1 would otherwise leave the lease eligible, free to campaign, until the poll).
TEST_F(DaemonVipReloadTest, ATrackFileAddedByAReloadIsReadBeforeTheLeaseIsJudged) {
  ASSERT_NO_FATAL_FAILURE(startWebAndDb());
  auto stub = v1::Director::NewStub(grpc::CreateChannel("unix:" + dir_ + "/alpha/director.sock",
                                                        grpc::InsecureChannelCredentials()));
  auto webEligible = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    v1::StatusReply r;
    EXPECT_TRUE(stub->Status(&ctx, {}, &r).ok());
    for (const auto& l : r.leases()) {
      if (l.name() == "web") return l.eligible();
    }
    return false;
  };
  ASSERT_TRUE(waitFor(webEligible, 5s));
  const std::string flag = dir_ + "/web.down";
  std::ofstream(flag) << "1\n";
  std::string next = old_;
  const std::string at = "{name: web, vips: ";
  next.replace(next.find(at), at.size(), "{name: web, track_files: [" + flag + "], vips: ");
  write(next);
  ASSERT_TRUE(reloader_->reload("test").applied());
  EXPECT_FALSE(webEligible()) << "judged before the file was read";
  write(old_);
  ASSERT_TRUE(reloader_->reload("test").applied());
  EXPECT_TRUE(waitFor(webEligible, 5s));
}

}  // namespace
}  // namespace quorate::server
