// libquorate-client against real daemons on loopback: the library's calls, and the installed
// library with the epoch-token example built out of tree against it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <quorate/client.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string kLease = "default";  // the one lease of a cluster without instances

// A child whose stdout the test reads line by line as it is written; SIGKILLed and reaped
// (by pid) at the end.
class LineProcess {
 public:
  explicit LineProcess(std::vector<std::string> argv) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    std::vector<char*> cArgv;
    for (auto& a : argv) cArgv.push_back(a.data());
    cArgv.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      // Only async-signal-safe calls from here on: the parent has threads.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(127);
      if (::dup2(fds[1], 1) < 0) _exit(127);
      ::execv(cArgv[0], cArgv.data());
      _exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~LineProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  LineProcess(const LineProcess&) = delete;
  LineProcess& operator=(const LineProcess&) = delete;

  // The next whole line of its stdout; nullopt at its end or after `timeout`.
  std::optional<std::string> nextLine(Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = msBetween(Clock::now(), deadline);
      if (left <= Ms(0)) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[512];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // Its exit code after it ends (-1: a signal, or still running after `timeout`).
  int wait(Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    int status = 0;
    while (Clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buffer_;
};

// "lease=default director=alpha held=yes ..." -> {lease: default, director: alpha, ...}.
std::map<std::string, std::string> fields(const std::string& line) {
  std::map<std::string, std::string> out;
  std::istringstream in(line);
  std::string word;
  while (in >> word) {
    const auto eq = word.find('=');
    if (eq != std::string::npos) out[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return out;
}

// The lease as `director` reports it over the raw proto API, independently of the library.
std::optional<v1::LeaseStatus> protoLease(const Cluster& c, const std::string& director) {
  const auto s = c.status(director);
  if (!s) return std::nullopt;
  for (const auto& l : s->leases()) {
    if (l.name() == kLease) return l;
  }
  return std::nullopt;
}

TEST(ClientLibrary, StatusTenureWatchAndStepDownAgainstARealCluster) {
  Cluster c("clientlib");
  c.startAll();
  const auto h = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(h);
  const std::string holder = h->holder;
  const std::string standby = otherDirector(holder);

  for (const auto& d : {kAlpha, kBeta}) {
    SCOPED_TRACE(d);
    sdk::Client client(c.operatorEndpoint(d));
    auto s = client.status();
    ASSERT_TRUE(s.ok()) << s.status().toString();
    EXPECT_EQ(s->cluster, c.clusterId());
    EXPECT_EQ(s->node, d);
    EXPECT_TRUE(s->healthy);
    const sdk::LeaseStatus* l = s->lease(kLease);
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->role, d == holder ? "holder" : "standby");
    EXPECT_EQ(l->holder, holder);
    EXPECT_EQ(l->epoch, h->epoch);
    EXPECT_GT(l->remainingMs, 0);
    ASSERT_EQ(s->nodes.size(), 3u);
    for (const auto& n : s->nodes) {
      EXPECT_TRUE(n.reachable) << n.id;
      EXPECT_EQ(n.self, n.id == d) << n.id;
    }
  }

  sdk::Client onHolder(c.operatorEndpoint(holder));
  sdk::Client onStandby(c.operatorEndpoint(standby));
  auto held = onHolder.localTenure(kLease);
  ASSERT_TRUE(held.ok()) << held.status().toString();
  ASSERT_TRUE(held->has_value()) << holder << " holds " << kLease;
  EXPECT_EQ((*held)->holder, holder);
  EXPECT_EQ((*held)->epoch, h->epoch);
  EXPECT_GT((*held)->remaining, Ms(0));
  EXPECT_LE((*held)->remaining, c.timers().holderLease);
  auto notHeld = onStandby.localTenure(kLease);
  ASSERT_TRUE(notHeld.ok()) << notHeld.status().toString();
  EXPECT_FALSE(notHeld->has_value()) << standby << " is the standby";
  EXPECT_EQ(onHolder.localTenure("no-such-lease").status().code(), sdk::Code::kNotFound);

  // What a fencing writer pays per question: localTenure on loopback, measured, not asserted.
  std::vector<std::chrono::microseconds> took;
  for (int i = 0; i < 200; ++i) {
    const auto start = Clock::now();
    const auto t = onHolder.localTenure(kLease);
    took.push_back(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start));
    ASSERT_TRUE(t.ok() && t->has_value()) << t.status().toString();
    EXPECT_EQ((*t)->epoch, h->epoch);
  }
  std::sort(took.begin(), took.end());
  std::cout << "[  MEASURE ] localTenure on loopback, 200 calls: median " << took[100].count()
            << " us, p99 " << took[198].count() << " us, max " << took.back().count() << " us"
            << std::endl;

  const auto refused = onStandby.stepDown(kLease);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), sdk::Code::kFailedPrecondition) << refused.status().toString();

  // Watch the standby; step the holder down through the library; the watch sees the standby
  // take over under a new epoch.
  sdk::Cancellation cancel;
  std::mutex mu;
  std::vector<sdk::DirectorStatus> updates;
  sdk::Status watchResult;
  std::thread watcher([&] {
    watchResult = onStandby.watch(
        [&](const sdk::DirectorStatus& s) {
          std::lock_guard<std::mutex> lock(mu);
          updates.push_back(s);
          const sdk::LeaseStatus* l = s.lease(kLease);
          return !(l != nullptr && l->role == "holder" && l->holder == standby);
        },
        cancel);
  });
  const bool first = waitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return !updates.empty();
      },
      5s);
  if (!first) cancel.cancel();
  ASSERT_TRUE(first) << "no first update from the watch";

  const auto stepStart = Clock::now();
  const auto stepped = onHolder.stepDown(kLease);
  ASSERT_TRUE(stepped.ok()) << stepped.status().toString();
  EXPECT_EQ(stepped->releasedEpoch, h->epoch);
  EXPECT_EQ(stepped->handedTo, standby);
  const bool tookOver = waitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        const sdk::LeaseStatus* l = updates.back().lease(kLease);
        return l != nullptr && l->holder == standby && l->role == "holder";
      },
      5s);
  cancel.cancel();  // ends the watch if the take-over did not come
  watcher.join();
  ASSERT_TRUE(tookOver) << "the watch did not see " << standby << " take over";
  std::cout << "[  MEASURE ] step-down call to the take-over in the standby's watch: "
            << std::chrono::duration_cast<std::chrono::microseconds>(updates.back().receivedAt -
                                                                     stepStart)
                   .count()
            << " us" << std::endl;
  EXPECT_TRUE(watchResult.ok()) << watchResult.toString();
  const std::uint64_t newEpoch = updates.back().lease(kLease)->epoch;
  EXPECT_GT(newEpoch, h->epoch);
  EXPECT_EQ(updates.front().lease(kLease)->holder, holder);

  const auto after = c.waitForSelfHolder(standby, 2s);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->epoch, newEpoch);
  auto now = onStandby.localTenure(kLease);
  ASSERT_TRUE(now.ok()) << now.status().toString();
  ASSERT_TRUE(now->has_value());
  EXPECT_EQ((*now)->epoch, newEpoch);
  auto old = onHolder.localTenure(kLease);
  ASSERT_TRUE(old.ok()) << old.status().toString();
  EXPECT_FALSE(old->has_value()) << holder << " stepped down";

  // A frozen director: the call ends at its deadline. A dead one: an error at once.
  sdk::Client shortTimeout(c.operatorEndpoint(holder), [] {
    sdk::Options o;
    o.timeout = 300ms;
    return o;
  }());
  c.pause(holder);
  const auto frozen = shortTimeout.status();
  c.resume(holder);
  ASSERT_FALSE(frozen.ok());
  EXPECT_EQ(frozen.status().code(), sdk::Code::kDeadlineExceeded) << frozen.status().toString();
  c.kill(holder);
  const auto dead = shortTimeout.localTenure(kLease);
  ASSERT_FALSE(dead.ok());
  EXPECT_TRUE(dead.status().code() == sdk::Code::kUnavailable ||
              dead.status().code() == sdk::Code::kDeadlineExceeded)
      << dead.status().toString();
}

// The library installed by its own install rules into a fresh prefix, and the example built
// against that prefix by a separate CMake run: what a user of the library does.
class InstalledLibrary : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testutil::TempDir("quorate-clientlib");
    prefix_ = fs::path(dir_->path()) / "prefix";
    const RunResult install = runProgram({QUORATE_CMAKE, "--install", QUORATE_BUILD_DIR, "--prefix",
                                          prefix_.string(), "--component", "quorate-client"},
                                         120s);
    installLog_ = install.out + install.err;
    if (install.exitCode != 0) return;
    const fs::path build = fs::path(dir_->path()) / "example-build";
    std::vector<std::string> configureArgs = {QUORATE_CMAKE,
                                              "-S",
                                              QUORATE_EXAMPLE_SOURCE,
                                              "-B",
                                              build.string(),
                                              "-G",
                                              QUORATE_CMAKE_GENERATOR,
                                              "-DCMAKE_MAKE_PROGRAM=" QUORATE_MAKE_PROGRAM,
                                              "-DCMAKE_CXX_COMPILER=" QUORATE_CXX_COMPILER,
                                              "-DCMAKE_PREFIX_PATH=" + prefix_.string()};
    if (!sanitizeFlag().empty()) {
      // A sanitized library needs a sanitized program: its runtime must come first.
      configureArgs.push_back("-DCMAKE_CXX_FLAGS=" + sanitizeFlag());
      configureArgs.push_back("-DCMAKE_EXE_LINKER_FLAGS=" + sanitizeFlag());
    }
    const RunResult configure = runProgram(configureArgs, 120s);
    buildLog_ = configure.out + configure.err;
    if (configure.exitCode != 0) return;
    const RunResult compile = runProgram({QUORATE_CMAKE, "--build", build.string()}, 300s);
    buildLog_ += compile.out + compile.err;
    if (compile.exitCode == 0) example_ = (build / "epoch-token").string();
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // "-fsanitize=..." when this tree is built with sanitizers (QUORATE_SANITIZE), else "".
  static std::string sanitizeFlag() {
    const std::string list = QUORATE_SANITIZE_LIST;
    return list.empty() ? std::string() : "-fsanitize=" + list;
  }

  static fs::path libDir() {
    for (const char* d : {"lib", "lib64", "lib/x86_64-linux-gnu"}) {
      if (fs::exists(prefix_ / d / "libquorate-client.so")) return prefix_ / d;
    }
    return prefix_ / "lib";
  }

  static testutil::TempDir* dir_;
  static fs::path prefix_;
  static std::string installLog_;
  static std::string buildLog_;
  static std::string example_;
};

testutil::TempDir* InstalledLibrary::dir_ = nullptr;
fs::path InstalledLibrary::prefix_;
std::string InstalledLibrary::installLog_;
std::string InstalledLibrary::buildLog_;
std::string InstalledLibrary::example_;

TEST_F(InstalledLibrary, InstallsHeaderLibraryCMakePackageAndPkgConfig) {
  ASSERT_TRUE(fs::exists(prefix_ / "include/quorate/client.h")) << installLog_;
  const fs::path lib = libDir();
  ASSERT_TRUE(fs::is_symlink(lib / "libquorate-client.so")) << installLog_;
  EXPECT_EQ(fs::read_symlink(lib / "libquorate-client.so"), "libquorate-client.so.0");
  EXPECT_TRUE(fs::exists(lib / "libquorate-client.so.0"));
  EXPECT_TRUE(fs::exists(lib / "cmake/quorate-client/quorate-client-config.cmake"));
  EXPECT_TRUE(fs::exists(lib / "cmake/quorate-client/quorate-client-config-version.cmake"));
  EXPECT_TRUE(fs::exists(lib / "cmake/quorate-client/quorate-client-targets.cmake"));

  // The header stands alone: no gRPC or protobuf include in it.
  const std::string header = readFile((prefix_ / "include/quorate/client.h").string());
  EXPECT_EQ(header.find("#include <grpc"), std::string::npos);
  EXPECT_EQ(header.find("#include <google"), std::string::npos);
  EXPECT_EQ(header.find("#include \""), std::string::npos) << "only standard headers";

  // Only quorate::sdk is exported (and libstdc++'s vague-linkage bits); the proto copy, gRPC
  // glue and the internal client code stay hidden.
  const RunResult nm = runProgram(
      {"/usr/bin/nm", "-DC", "--defined-only", (lib / "libquorate-client.so").string()}, 30s);
  ASSERT_EQ(nm.exitCode, 0) << nm.err;
  EXPECT_NE(nm.out.find("quorate::sdk::Client::localTenure"), std::string::npos) << nm.out;
  EXPECT_EQ(nm.out.find("quorate::v1::"), std::string::npos) << nm.out;
  EXPECT_EQ(nm.out.find("quorate::client::"), std::string::npos) << nm.out;
  EXPECT_EQ(nm.out.find("grpc::"), std::string::npos) << nm.out;

  const RunResult pc =
      runProgram({"/usr/bin/env", "PKG_CONFIG_PATH=" + (lib / "pkgconfig").string(), "pkg-config",
                  "--cflags", "--libs", "quorate-client"},
                 30s);
  ASSERT_EQ(pc.exitCode, 0) << pc.err;
  // Paths relative to the .pc file (${pcfiledir}): they must lead to this prefix.
  std::optional<fs::path> include;
  std::optional<fs::path> libPath;
  std::istringstream words(pc.out);
  for (std::string w; words >> w;) {
    if (w.rfind("-I", 0) == 0) include = fs::canonical(w.substr(2));
    if (w.rfind("-L", 0) == 0) libPath = fs::canonical(w.substr(2));
  }
  ASSERT_TRUE(include && libPath) << pc.out;
  EXPECT_EQ(*include, fs::canonical(prefix_ / "include")) << pc.out;
  EXPECT_EQ(*libPath, fs::canonical(lib)) << pc.out;
  EXPECT_NE(pc.out.find("-lquorate-client"), std::string::npos) << pc.out;

  // A program built by hand with only pkg-config's flags links and runs.
  const std::string exe = (fs::path(dir_->path()) / "epoch-token-pc").string();
  const RunResult cc = runProgram(
      {"/bin/sh", "-c",
       "PKG_CONFIG_PATH='" + (lib / "pkgconfig").string() + "' && export PKG_CONFIG_PATH && " +
           QUORATE_CXX_COMPILER + " -std=c++17 -o '" + exe + "' '" + QUORATE_EXAMPLE_SOURCE +
           "/epoch_token.cc' $(pkg-config --cflags --libs quorate-client) -pthread " +
           sanitizeFlag() +
           " "
           "-Wl,-rpath,'" +
           lib.string() + "'"},
      300s);
  ASSERT_EQ(cc.exitCode, 0) << cc.out << cc.err;
  const RunResult help = runProgram({exe, "--help"}, 10s);
  EXPECT_EQ(help.exitCode, 0) << help.err;
  EXPECT_NE(help.out.find("usage: epoch-token"), std::string::npos) << help.out;
  const RunResult bad = runProgram({exe, "--director", "no-port", "--lease", "default"}, 10s);
  EXPECT_EQ(bad.exitCode, 2) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("INVALID_ARGUMENT"), std::string::npos) << bad.err;
}

TEST_F(InstalledLibrary, ExampleBuiltOutOfTreeReportsTheDirectorsHolderAndEpoch) {
  ASSERT_FALSE(example_.empty()) << "install:\n" << installLog_ << "\nbuild:\n" << buildLog_;
  Cluster c("epoch-token");
  c.startAll();
  const auto h = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(h);
  const std::string holder = h->holder;
  const std::string standby = otherDirector(holder);
  const auto truth = protoLease(c, holder);
  ASSERT_TRUE(truth);
  ASSERT_EQ(truth->holder(), holder);

  const RunResult onHolder =
      runProgram({example_, "--director", c.operatorEndpoint(holder), "--lease", kLease}, 10s);
  EXPECT_EQ(onHolder.exitCode, 0) << onHolder.out << onHolder.err;
  auto f = fields(onHolder.out);
  EXPECT_EQ(f["lease"], kLease) << onHolder.out;
  EXPECT_EQ(f["director"], holder) << onHolder.out;
  EXPECT_EQ(f["held"], "yes") << onHolder.out;
  EXPECT_EQ(f["holder"], truth->holder()) << onHolder.out;
  EXPECT_EQ(f["epoch"], std::to_string(truth->epoch())) << onHolder.out;
  EXPECT_EQ(f["epoch"], std::to_string(h->epoch)) << onHolder.out;

  const RunResult onStandby =
      runProgram({example_, "--director", c.operatorEndpoint(standby), "--lease", kLease}, 10s);
  EXPECT_EQ(onStandby.exitCode, 3) << onStandby.out << onStandby.err;
  f = fields(onStandby.out);
  EXPECT_EQ(f["director"], standby) << onStandby.out;
  EXPECT_EQ(f["held"], "no") << onStandby.out;
  EXPECT_EQ(f["holder"], holder) << onStandby.out;
  EXPECT_EQ(f["epoch"], std::to_string(h->epoch)) << onStandby.out;

  const RunResult unknown =
      runProgram({example_, "--director", c.operatorEndpoint(holder), "--lease", "nope"}, 10s);
  EXPECT_EQ(unknown.exitCode, 1) << unknown.out << unknown.err;
  EXPECT_NE(unknown.err.find("NOT_FOUND"), std::string::npos) << unknown.err;

  // --watch on the standby prints the state now, then each change until the take-over after
  // a step-down made through the library; SIGTERM ends it through its Cancellation.
  LineProcess watch(
      {example_, "--director", c.operatorEndpoint(standby), "--lease", kLease, "--watch"});
  const auto first = watch.nextLine(5s);
  ASSERT_TRUE(first) << "no first line from --watch";
  f = fields(*first);
  EXPECT_EQ(f["held"], "no") << *first;
  EXPECT_EQ(f["holder"], holder) << *first;
  EXPECT_EQ(f["epoch"], std::to_string(h->epoch)) << *first;

  sdk::Client client(c.operatorEndpoint(holder));
  const auto stepped = client.stepDown(kLease);
  ASSERT_TRUE(stepped.ok()) << stepped.status().toString();
  EXPECT_EQ(stepped->handedTo, standby);

  // The standby may first report the release (nobody holds) and then its own tenure.
  std::vector<std::string> lines;
  for (;;) {
    const auto line = watch.nextLine(5s);
    ASSERT_TRUE(line) << "--watch printed no take-over after the step-down; before it: "
                      << ::testing::PrintToString(lines);
    lines.push_back(*line);
    f = fields(*line);
    if (f["held"] == "yes") break;
    EXPECT_EQ(f["holder"], "-") << *line << ": only a release may come between";
  }
  const auto took = c.waitForSelfHolder(standby, 2s);
  ASSERT_TRUE(took);
  const auto newTruth = protoLease(c, standby);
  ASSERT_TRUE(newTruth);
  EXPECT_EQ(f["director"], standby) << lines.back();
  EXPECT_EQ(f["holder"], standby) << lines.back();
  EXPECT_EQ(f["epoch"], std::to_string(newTruth->epoch())) << lines.back();
  EXPECT_EQ(f["epoch"], std::to_string(took->epoch)) << lines.back();
  EXPECT_GT(took->epoch, h->epoch);
  watch.signal(SIGTERM);
  EXPECT_EQ(watch.wait(5s), 130) << "SIGTERM cancels the watch";
}

}  // namespace
}  // namespace quorate::proctest
