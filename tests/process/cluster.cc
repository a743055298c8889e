// Harness of the process tests: ports, config files, fork/exec, signals, gRPC probes, sampling.
#include "process/cluster.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/membership.h"

#ifndef QUORATE_DIRECTOR
#error "QUORATE_DIRECTOR must name the quorate-director binary"
#endif
#ifndef QUORATE_ARBITER
#error "QUORATE_ARBITER must name the quorate-arbiter binary"
#endif

extern char** environ;

namespace quorate::proctest {
namespace {

constexpr Ms kPoll{10};
constexpr int kLogTailLines = 30;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

namespace {

std::string randomHex(std::size_t chars) {
  std::random_device rd;
  std::uniform_int_distribution<int> digit(0, 15);
  std::string s;
  for (std::size_t i = 0; i < chars; ++i) s += "0123456789abcdef"[digit(rd)];
  return s;
}

// Letters, digits, '.', '_' and '-' only: a valid cluster id and a harmless file name.
std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    out += ok ? c : '-';
  }
  return out;
}

// The environment of the daemons: ours, minus proxies (gRPC would dial 127.0.0.1 through them).
std::vector<std::string> childEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string var(*e);
    std::string name = var.substr(0, var.find('='));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (name == "http_proxy" || name == "https_proxy" || name == "grpc_proxy" ||
        name == "all_proxy") {
      continue;
    }
    env.push_back(std::move(var));
  }
  return env;
}

std::vector<char*> cStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// fork/exec with stdin from /dev/null and stdout/stderr to the given descriptors. The child
// dies with us (PR_SET_PDEATHSIG), so a crashed or timed-out test leaves no daemon behind.
pid_t spawn(std::vector<std::string> argv, int outFd, int errFd) {
  auto env = childEnvironment();
  auto cArgv = cStrings(argv);
  auto cEnv = cStrings(env);
  const int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devNull < 0) fail("open /dev/null");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(devNull);
    fail("fork");
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here on: the parent has threads.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);
    if (::dup2(devNull, 0) < 0 || ::dup2(outFd, 1) < 0 || ::dup2(errFd, 2) < 0) _exit(127);
    ::close_range(3, ~0U, 0);
    ::execve(cArgv[0], cArgv.data(), cEnv.data());
    _exit(127);
  }
  ::close(devNull);
  return pid;
}

// -1 when killed by a signal.
int exitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

// Waits up to `timeout` for `pid` to end; returns its wait status.
std::optional<int> waitExit(pid_t pid, Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) fail("waitpid");
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(Ms(2));
  }
}

std::string lastLines(const std::string& text, int n) {
  std::deque<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (static_cast<int>(lines.size()) > n) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) out += "    " + l + "\n";
  return out;
}

std::shared_ptr<grpc::Channel> makeChannel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials()) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  // Restarted nodes come back on the same port: reconnect quickly.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  return grpc::CreateCustomChannel(address, credentials, args);
}

std::string showMs(Ms d) { return std::to_string(d.count()) + " ms"; }

// Every call of the harness waits for the channel to connect, up to its deadline. A call that
// fails fast does not poll, and in a process with no gRPC server nothing else does but the
// 5 s backup poller: a channel that once saw a node down would notice it is back only then.
void prepare(grpc::ClientContext& ctx, Ms deadline) {
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
}

}  // namespace

RunResult runProgram(const std::vector<std::string>& argv, Ms timeout) {
  char outPath[] = "/tmp/quorate-proc-out-XXXXXX";
  char errPath[] = "/tmp/quorate-proc-err-XXXXXX";
  const int outFd = ::mkostemp(outPath, O_CLOEXEC);
  const int errFd = ::mkostemp(errPath, O_CLOEXEC);
  if (outFd < 0 || errFd < 0) fail("mkostemp");
  RunResult r;
  const pid_t pid = spawn(argv, outFd, errFd);
  ::close(outFd);
  ::close(errFd);
  auto status = waitExit(pid, timeout);
  if (!status) {
    r.timedOut = true;
    ::kill(pid, SIGKILL);
    status = waitExit(pid, Ms(5000));
  }
  r.exitCode = status ? exitCode(*status) : -1;
  r.out = readFile(outPath);
  r.err = readFile(errPath);
  ::unlink(outPath);
  ::unlink(errPath);
  return r;
}

void writeFile(const std::string& path, const std::string& text) {
  // Owner only: configs hold inline keys, and the daemons refuse those in a file others can read.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::fchmod(fd, 0600) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot write " + path);
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("cannot write " + path);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) throw std::runtime_error("cannot write " + path);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void reportMs(const std::string& key, Ms value) {
  std::cout << "[  MEASURE ] " << key << " = " << value.count() << " ms" << std::endl;
  ::testing::Test::RecordProperty(key, static_cast<int>(value.count()));
}

const v1::NodeStatus* findNode(const v1::StatusReply& reply, const std::string& id) {
  for (const auto& n : reply.nodes()) {
    if (n.id() == id) return &n;
  }
  return nullptr;
}

bool waitUntil(const std::function<bool()>& pred, Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto next = Clock::now() + kPoll;
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_until(next);
  }
}

std::optional<std::string> observeFor(
    Ms duration, const std::function<std::optional<std::string>()>& violation) {
  std::optional<std::string> found;
  waitUntil([&] { return (found = violation()).has_value(); }, duration);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Cluster

Cluster::Cluster(const std::string& name, ClusterOptions options)
    : options_(std::move(options)),
      clusterId_(sanitize(name).substr(0, 40) + "-" + std::to_string(::getpid())),
      secret_(randomHex(32)),
      tmp_("quorate-proc-" + sanitize(name)),
      dir_(tmp_.path()) {
  const std::array<std::pair<std::string, std::string>, 3> roles = {{
      {kArbiter, QUORATE_ARBITER},
      {kAlpha, QUORATE_DIRECTOR},
      {kBeta, QUORATE_DIRECTOR},
  }};
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    n.name = roles[i].first;
    n.binary = roles[i].second;
    n.port = testutil::reservePort();
    n.channel = makeChannel(address(n.name));
    if (n.name != kArbiter) n.operatorChannel = makeChannel(operatorEndpoint(n.name));
  }
  writeConfigs();
}

Cluster::~Cluster() {
  for (auto& n : nodes_) {
    if (n.pid <= 0) continue;
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(n.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == n.pid) {
      ADD_FAILURE() << n.name << " (pid " << n.pid << ") ended on its own: "
                    << (info.si_code == CLD_EXITED ? "exit code " : "signal ") << info.si_status;
    }
    ::kill(n.pid, SIGKILL);
    ::waitpid(n.pid, nullptr, 0);
    n.pid = -1;
  }
  // An exception on its way to gtest is a failure that gtest has not recorded yet.
  if (::testing::Test::HasFailure() || std::uncaught_exceptions() > 0) {
    tmp_.keep();
    dumpLogs();
  } else if (std::getenv("QUORATE_PROCESS_KEEP") != nullptr) {
    tmp_.keep();
    std::cout << "Cluster " << clusterId_ << ": files kept in " << dir_ << std::endl;
  }
}

Cluster::Node& Cluster::node(const std::string& name) {
  for (auto& n : nodes_) {
    if (n.name == name) return n;
  }
  throw std::invalid_argument("no node " + name);
}

const Cluster::Node& Cluster::node(const std::string& name) const {
  return const_cast<Cluster*>(this)->node(name);
}

std::string Cluster::address(const std::string& n) const {
  return "127.0.0.1:" + std::to_string(node(n).port);
}
std::string Cluster::operatorEndpoint(const std::string& director) const {
  return "unix:" + stateDir(director) + "/director.sock";
}
std::string Cluster::configPath(const std::string& n) const { return dir_ + "/" + n + ".yaml"; }
std::string Cluster::stateDir(const std::string& n) const { return dir_ + "/state/" + n; }
std::string Cluster::logPath(const std::string& n) const { return dir_ + "/" + n + ".log"; }

std::string Cluster::membership() const {
  return membershipText(clusterId_, {Member{kAlpha, address(kAlpha)}, Member{kBeta, address(kBeta)},
                                     Member{kArbiter, address(kArbiter)}});
}

ExtraProcess::ExtraProcess(const std::vector<std::string>& argv, const std::string& logPath) {
  const int logFd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) fail("open " + logPath);
  pid_ = spawn(argv, logFd, logFd);
  ::close(logFd);
}

ExtraProcess::~ExtraProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

std::string Cluster::directorConfig(const std::string& self) const {
  const auto edit = options_.editConfig.find(self);
  if (edit != options_.editConfig.end()) return edit->second(plainDirectorConfig(self));
  return plainDirectorConfig(self);
}

std::string Cluster::plainDirectorConfig(const std::string& self) const {
  const Timers& t = options_.timers;
  const auto wrong = options_.wrongSecret.find(self);
  std::ostringstream y;
  y << "# Director " << self << " of a process-test cluster.\n"
    << "cluster: " << clusterId_ << "\n"
    << "node: " << self << "\n"
    << secretLines(self, wrong != options_.wrongSecret.end() ? wrong->second : secret_, "")
    << "listen: " << address(self) << "\n"
    << "state_dir: " << stateDir(self) << "\n"
    << "operator:\n  socket: " << stateDir(self) << "/director.sock\n"
    << "directors:\n";
  for (const auto& d : {kAlpha, kBeta}) {
    y << "  - id: " << d << "\n    address: " << address(d) << "\n";
  }
  y << "arbiter:\n  id: " << kArbiter << "\n  address: " << address(kArbiter) << "\n";
  if (options_.preferred) y << "preferred: " << *options_.preferred << "\n";
  if (options_.preemptDelay) y << "preempt_delay_ms: " << options_.preemptDelay->count() << "\n";
  y << "timers:\n"
    << "  holder_lease_ms: " << t.holderLease.count() << "\n"
    << "  acceptor_lease_ms: " << t.acceptorLease.count() << "\n"
    << "  quarantine_ms: " << t.quarantine.count() << "\n"
    << "  renew_interval_ms: " << t.renewInterval.count() << "\n"
    << "  max_drift_ppm: " << t.maxDriftPpm << "\n"
    << "log_level: debug\n";
  return y.str();
}

std::string Cluster::arbiterConfig() const {
  std::ostringstream y;
  y << "# The arbiter of a process-test cluster.\n"
    << "listen: " << address(kArbiter) << "\n"
    << "state_dir: " << stateDir(kArbiter) << "\n"
    << "quarantine_ms: " << options_.timers.quarantine.count() << "\n"
    << "log_level: debug\n"
    << "clusters:\n"
    << "  - id: " << clusterId_ << "\n"
    << secretLines(kArbiter, secret_, "    ");
  if (options_.editArbiterConfig) return options_.editArbiterConfig(y.str());
  return y.str();
}

void Cluster::useCredentials(const std::string& name,
                             std::shared_ptr<grpc::ChannelCredentials> credentials) {
  node(name).channel = makeChannel(address(name), std::move(credentials));
}

void Cluster::writeConfigs() {
  writeFile(configPath(kArbiter), arbiterConfig());
  writeFile(configPath(kAlpha), directorConfig(kAlpha));
  writeFile(configPath(kBeta), directorConfig(kBeta));
}

std::string Cluster::secretLines(const std::string& node, const std::string& inlineKey,
                                 const std::string& indent) const {
  const auto files = keyFiles_.find(node);
  if (files == keyFiles_.end()) return indent + "secret: \"" + inlineKey + "\"\n";
  std::string out = indent + "secret_file:\n";
  for (const auto& f : files->second) out += indent + "  - " + f + "\n";
  return out;
}

void Cluster::useKeys(const std::string& n, const std::vector<std::string>& keys) {
  std::vector<std::string> files;
  for (const auto& k : keys) {
    // One file per key value, shared by the nodes that use it, as an operator would copy it.
    files.push_back(dir_ + "/key-" + std::to_string(std::hash<std::string>{}(k)) + ".secret");
    writeFile(files.back(), k + "\n");
  }
  keyFiles_[n] = std::move(files);
  writeFile(configPath(n), n == kArbiter ? arbiterConfig() : directorConfig(n));
}

void Cluster::fixSecret(const std::string& director) {
  options_.wrongSecret.erase(director);
  writeFile(configPath(director), directorConfig(director));
}

void Cluster::start(const std::string& name) {
  Node& n = node(name);
  if (n.pid > 0) throw std::logic_error(name + " is already running");
  const int logFd = ::open(logPath(name).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) fail("open " + logPath(name));
  const std::string banner = "===== test harness: starting " + name + " =====\n";
  if (::write(logFd, banner.data(), banner.size()) < 0) fail("write " + logPath(name));
  n.startedAt = Clock::now();
  n.pid = spawn({n.binary, "--config", configPath(name)}, logFd, logFd);
  ::close(logFd);
}

void Cluster::startAll() {
  for (const auto& n : {kArbiter, kAlpha, kBeta}) start(n);
}

void Cluster::kill(const std::string& name) {
  Node& n = node(name);
  if (n.pid <= 0) return;
  ::kill(n.pid, SIGKILL);
  ::waitpid(n.pid, nullptr, 0);
  n.pid = -1;
}

std::optional<int> Cluster::terminate(const std::string& name, Ms timeout) {
  Node& n = node(name);
  if (n.pid <= 0) throw std::logic_error(name + " is not running");
  ::kill(n.pid, SIGTERM);
  const auto status = waitExit(n.pid, timeout);
  if (!status) {
    kill(name);
    return std::nullopt;
  }
  n.pid = -1;
  return exitCode(*status);
}

void Cluster::signal(const std::string& name, int sig) { ::kill(node(name).pid, sig); }

void Cluster::pause(const std::string& name) {
  const Node& n = node(name);
  ::kill(n.pid, SIGSTOP);
  ::waitpid(n.pid, nullptr, WUNTRACED);  // returns once it is stopped
}

void Cluster::resume(const std::string& name) {
  const Node& n = node(name);
  ::kill(n.pid, SIGCONT);
  ::waitpid(n.pid, nullptr, WCONTINUED);
}

void Cluster::restart(const std::string& name) {
  kill(name);
  start(name);
}

bool Cluster::running(const std::string& name) const {
  const Node& n = node(name);
  if (n.pid <= 0) return false;
  siginfo_t info{};
  // WNOWAIT: look without reaping, so that the destructor can still report a crash.
  return !(::waitid(P_PID, static_cast<id_t>(n.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == n.pid);
}

Clock::time_point Cluster::startedAt(const std::string& name) const { return node(name).startedAt; }

std::unique_ptr<v1::Director::Stub> Cluster::directorStub(const std::string& director) const {
  return v1::Director::NewStub(node(director).operatorChannel);
}

std::optional<v1::StatusReply> Cluster::status(const std::string& director, Ms deadline) const {
  grpc::ClientContext ctx;
  prepare(ctx, deadline);
  v1::StatusReply reply;
  if (!directorStub(director)->Status(&ctx, v1::StatusRequest{}, &reply).ok()) return std::nullopt;
  return reply;
}

grpc::Status Cluster::stepDown(const std::string& director, bool force,
                               v1::StepDownReply* reply) const {
  grpc::ClientContext ctx;
  prepare(ctx, Ms(1000));
  v1::StepDownRequest req;
  req.set_force(force);
  v1::StepDownReply ignored;
  return directorStub(director)->StepDown(&ctx, req, reply ? reply : &ignored);
}

grpc::Status Cluster::exchange(const std::string& n, const v1::ExchangeRequest& req,
                               v1::ExchangeReply* reply) const {
  grpc::ClientContext ctx;
  prepare(ctx, Ms(1000));
  return v1::Peer::NewStub(node(n).channel)->Exchange(&ctx, req, reply);
}

namespace {
using Snapshot = std::map<std::string, std::pair<Clock::time_point, v1::StatusReply>>;

std::optional<HolderView> agreement(const Snapshot& snap) {
  if (snap.empty()) return std::nullopt;
  std::optional<HolderView> view;
  for (const auto& [name, entry] : snap) {
    const auto& r = entry.second;
    if (r.role() != "holder") continue;
    if (view) return std::nullopt;  // two directors say "holder"
    view = HolderView{r.node(), r.epoch(), Clock::now()};
  }
  if (!view) return std::nullopt;
  for (const auto& [name, entry] : snap) {
    if (entry.second.holder() != view->holder || entry.second.epoch() != view->epoch) {
      return std::nullopt;
    }
  }
  return view;
}
}  // namespace

std::optional<HolderView> Cluster::agreedHolder() const {
  Snapshot snap;
  for (const auto& d : {kAlpha, kBeta}) {
    if (!running(d)) continue;
    const auto sent = Clock::now();
    auto s = status(d);
    if (!s) return std::nullopt;
    snap[d] = {sent, *s};
  }
  return agreement(snap);
}

std::optional<HolderView> Cluster::waitForHolder(Ms timeout) const {
  std::optional<HolderView> view;
  waitUntil([&] { return (view = agreedHolder()).has_value(); }, timeout);
  return view;
}

std::optional<HolderView> Cluster::waitForSelfHolder(const std::string& director,
                                                     Ms timeout) const {
  std::optional<HolderView> view;
  waitUntil(
      [&] {
        auto s = status(director);
        if (s && s->role() == "holder") view = HolderView{s->node(), s->epoch(), Clock::now()};
        return view.has_value();
      },
      timeout);
  return view;
}

bool Cluster::healthy(const Snapshot& snap) const {
  for (const auto& [director, entry] : snap) {
    const auto& [sent, reply] = entry;
    for (const auto& peer : reply.nodes()) {
      if (peer.self() || !running(peer.id())) continue;
      // The reply was built after `sent`, so the peer was last heard from no earlier than
      // sent - last_seen_ms (minus 1 ms for rounding down).
      if (peer.last_seen_ms() < 0) return false;
      const auto heard = sent - Ms(peer.last_seen_ms() + 1);
      if (heard <= startedAt(peer.id()) || !peer.reachable()) return false;
    }
  }
  return true;
}

std::optional<HolderView> Cluster::waitForSettled(Ms timeout) const {
  using std::chrono::steady_clock;
  const auto end = steady_clock::now() + timeout;
  auto left = [&] { return std::chrono::duration_cast<Ms>(end - steady_clock::now()); };
  std::optional<HolderView> last;
  while (left() > Ms(0)) {
    const auto now = waitForHealthy(left());
    if (!now) return std::nullopt;  // not healthy within the whole budget
    // Settled: the same holder at the same epoch as three renewal intervals ago.
    if (last && now->holder == last->holder && now->epoch == last->epoch) return now;
    last = now;
    std::this_thread::sleep_for(std::min<Ms>(timers().renewInterval * 3, std::max(left(), Ms(0))));
  }
  return std::nullopt;
}

std::optional<HolderView> Cluster::waitForHealthy(Ms timeout) const {
  std::optional<HolderView> view;
  waitUntil(
      [&] {
        Snapshot snap;
        for (const auto& d : {kAlpha, kBeta}) {
          if (!running(d)) continue;
          const auto sent = Clock::now();
          auto s = status(d);
          if (!s) return false;
          snap[d] = {sent, *s};
        }
        view = agreement(snap);
        if (view && healthy(snap)) return true;
        view.reset();
        return false;
      },
      timeout);
  return view;
}

void Cluster::dumpLogs() const {
  std::cout << "Cluster " << clusterId_ << ": test failed, files kept in " << dir_ << "\n";
  for (const auto& n : nodes_) {
    std::cout << "--- " << logPath(n.name) << " (last " << kLogTailLines << " lines):\n"
              << lastLines(log(n.name), kLogTailLines);
  }
  std::cout << std::flush;
}

// ---------------------------------------------------------------------------------------------
// Sampler and the checks of its record

Sampler::Sampler(const Cluster& cluster, Ms period) : cluster_(cluster), period_(period) {
  for (const auto& d : {kAlpha, kBeta}) threads_.emplace_back([this, d] { run(d); });
}

void Sampler::stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::vector<Sample> Sampler::samples() const {
  std::lock_guard lock(mu_);
  auto out = samples_;
  std::sort(out.begin(), out.end(),
            [](const Sample& a, const Sample& b) { return a.sent < b.sent; });
  return out;
}

bool Sampler::waitForAnswers(std::size_t count, Ms timeout) const {
  return waitUntil(
      [&] {
        const auto all = samples();
        return okCount(all, kAlpha) >= count && okCount(all, kBeta) >= count;
      },
      timeout);
}

void Sampler::run(const std::string& director) {
  while (!stop_) {
    Sample s;
    s.node = director;
    s.sent = Clock::now();
    const auto reply = cluster_.status(director, Ms(250));
    s.received = Clock::now();
    if (reply) {
      s.ok = true;
      s.role = reply->role();
      s.holder = reply->holder();
      s.epoch = reply->epoch();
      s.leaseRemainingMs = reply->lease_remaining_ms();
    }
    const auto next = s.sent + period_;
    {
      std::lock_guard lock(mu_);
      samples_.push_back(std::move(s));
    }
    std::this_thread::sleep_until(next);
  }
}

namespace {
struct Tenure {
  std::string node;
  std::uint64_t epoch = 0;
  Clock::time_point start;
  Clock::time_point end;
};

std::vector<Tenure> tenures(const std::vector<Sample>& samples, bool releasesPossible,
                            std::vector<std::string>& violations) {
  std::map<std::uint64_t, std::map<std::string, Tenure>> byEpoch;
  for (const auto& s : samples) {
    if (!s.ok || s.role != "holder") continue;
    const auto end = releasesPossible ? s.sent : s.sent + Ms(s.leaseRemainingMs);
    auto [it, fresh] =
        byEpoch[s.epoch].try_emplace(s.node, Tenure{s.node, s.epoch, s.received, end});
    if (!fresh) {
      it->second.start = std::min(it->second.start, s.received);
      it->second.end = std::max(it->second.end, end);
    }
  }
  std::vector<Tenure> out;
  for (const auto& [epoch, holders] : byEpoch) {
    if (holders.size() > 1) {
      violations.push_back("epoch " + std::to_string(epoch) + " is held by both directors");
    }
    for (const auto& [name, t] : holders) out.push_back(t);
  }
  return out;  // ordered by epoch
}
}  // namespace

std::vector<std::string> checkTenures(const std::vector<Sample>& samples, bool releasesPossible) {
  std::vector<std::string> violations;
  const auto ts = tenures(samples, releasesPossible, violations);
  if (samples.empty()) return violations;
  const auto t0 = samples.front().sent;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    for (std::size_t j = i + 1; j < ts.size(); ++j) {
      if (ts[i].epoch == ts[j].epoch || ts[i].end <= ts[j].start) continue;
      violations.push_back("epoch " + std::to_string(ts[i].epoch) + " (" + ts[i].node +
                           ") held until " + showMs(msBetween(t0, ts[i].end)) + " but epoch " +
                           std::to_string(ts[j].epoch) + " (" + ts[j].node + ") from " +
                           showMs(msBetween(t0, ts[j].start)));
    }
  }
  return violations;
}

std::vector<std::string> checkHeldThroughout(const std::vector<Sample>& samples,
                                             const std::string& director, std::uint64_t epoch) {
  std::vector<std::string> violations;
  for (const auto& s : samples) {
    if (!s.ok || s.node != director) continue;
    if (s.role == "holder" && s.epoch == epoch) continue;
    violations.push_back(director + " reported role " + s.role + " epoch " +
                         std::to_string(s.epoch) + " (expected holder, epoch " +
                         std::to_string(epoch) + ")");
  }
  return violations;
}

std::vector<Sample> between(const std::vector<Sample>& samples, Clock::time_point from,
                            Clock::time_point to) {
  std::vector<Sample> out;
  std::copy_if(samples.begin(), samples.end(), std::back_inserter(out),
               [&](const Sample& s) { return s.sent >= from && s.sent < to; });
  return out;
}

std::size_t okCount(const std::vector<Sample>& samples, const std::string& director) {
  return static_cast<std::size_t>(std::count_if(
      samples.begin(), samples.end(), [&](const Sample& s) { return s.ok && s.node == director; }));
}

std::string describeTenures(const std::vector<Sample>& samples, bool releasesPossible) {
  std::vector<std::string> ignored;
  std::string out;
  if (samples.empty()) return out;
  for (const auto& t : tenures(samples, releasesPossible, ignored)) {
    out += "  epoch " + std::to_string(t.epoch) + " " + t.node + ": " +
           std::to_string(msBetween(samples.front().sent, t.start).count()) + ".." +
           showMs(msBetween(samples.front().sent, t.end)) + "\n";
  }
  return out;
}

std::string summary(const std::vector<std::string>& violations) {
  constexpr std::size_t kShown = 5;
  std::string out = std::to_string(violations.size()) + " violation(s):\n";
  for (std::size_t i = 0; i < violations.size() && i < kShown; ++i) {
    out += "  " + violations[i] + "\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// StatusWatch

StatusWatch::StatusWatch(const Cluster& cluster, const std::string& director)
    : stub_(cluster.directorStub(director)) {
  ctx_.set_wait_for_ready(true);
  thread_ = std::thread([this] {
    auto reader = stub_->WatchStatus(&ctx_, v1::StatusRequest{});
    v1::StatusReply r;
    while (reader->Read(&r)) {
      std::lock_guard lock(mu_);
      updates_.emplace_back(Clock::now(), r);
      cv_.notify_all();
    }
    reader->Finish();
    std::lock_guard lock(mu_);
    ended_ = true;
    cv_.notify_all();
  });
  // The director sends its current state first: once that is here, the stream is live.
  waitFor([](const v1::StatusReply&) { return true; }, Ms(2000));
}

StatusWatch::~StatusWatch() {
  ctx_.TryCancel();
  thread_.join();
}

std::optional<Clock::time_point> StatusWatch::waitFor(
    const std::function<bool(const v1::StatusReply&)>& pred, Ms timeout) {
  std::unique_lock lock(mu_);
  std::optional<Clock::time_point> found;
  std::size_t next = 0;
  cv_.wait_until(lock, Clock::now() + timeout, [&] {
    for (; next < updates_.size(); ++next) {
      if (pred(updates_[next].second)) {
        found = updates_[next].first;
        return true;
      }
    }
    return ended_;
  });
  return found;
}

}  // namespace quorate::proctest
