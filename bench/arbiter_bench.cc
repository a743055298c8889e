// quorate-bench-arbiter: load test of one real quorate-arbiter process serving N clusters.
//
// For each N it writes an arbiter config with N clusters, starts the quorate-arbiter binary
// pinned to one CPU, and, from another CPU, emulates what both directors of every cluster send
// the arbiter at the default timers: the holder (node 0) acquires once (Prepare, Accept) and then
// renews with one Accept per renew interval; the standby (node 1) sends a heartbeat Ping every two
// renew intervals. Phases are spread uniformly so the load is smooth. It reports renewal latency
// (send to Accepted), achieved rates, the arbiter's CPU and RSS, and its own CPU, as markdown.
#include <absl/synchronization/mutex.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "common/membership.h"
#include "common/peer_client.h"
#include "lease/messages.h"
#include "lease/timing.h"

namespace quorate::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using lease::Ballot;
using lease::Message;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// The simulated directors' view of cluster `id`: the same for both, so the arbiter pins it.
std::string membership(const std::string& id) {
  return membershipText(id, {Member{"a", "a:1"}, Member{"b", "b:1"}, Member{"arbiter", "c:1"}});
}

std::atomic<bool> gStop{false};  // SIGINT/SIGTERM: end the current run early and clean up

void onStopSignal(int) { gStop.store(true); }

// Sleeps until `t` in short steps so that a stop signal is noticed; false if stopped.
bool sleepUntil(Clock::time_point t) {
  while (!gStop.load()) {
    const auto now = Clock::now();
    if (now >= t) return true;
    std::this_thread::sleep_until(std::min(t, now + milliseconds(100)));
  }
  return false;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

double seconds(Clock::duration d) { return duration<double>(d).count(); }
double toMs(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

struct Options {
  std::vector<int> clusters{100, 1000, 5000};
  double seconds = 20;
  double warmup = 3;
  int runs = 1;
  int channels = 8;
  std::string arbiter;  // default: quorate-arbiter next to this binary
  int arbiterCpu = 0;
  int loadCpu = 1;
  int tickUs = 1;          // the load generator's send granularity (1: each send at its own time)
  int nice = 0;            // of the arbiter and the load generator (negative needs CAP_SYS_NICE)
  std::string tmpParent;   // default: the system's temp directory
  std::string perfRecord;  // perf.data path: profile the arbiter during the measurement window
  std::string perfArgs = "-F 999";
  std::string dump;  // CSV of every latency sample: <dump>-<clusters>-<run>.csv
  bool keep = false;
  // Debian's abseil is built without NDEBUG, so absl::Mutex runs deadlock detection on every
  // lock; the load generator turns that off for itself unless asked to keep it (as the
  // directors do).
  bool clientDeadlockDetection = false;
};

// ---------------------------------------------------------------------------
// The arbiter process and what /proc says about it.

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// utime + stime of `pid` in seconds, from /proc/<pid>/stat.
std::optional<double> cpuSeconds(pid_t pid) {
  const auto text = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  const auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(text->substr(close + 2));
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() < 13) return std::nullopt;  // fields[0] is field 3 (state)
  const double ticks = std::stod(fields[11]) + std::stod(fields[12]);  // fields 14 and 15
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A "Key:   123 kB" (or plain number) line of /proc/<pid>/status.
std::optional<long> statusField(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  }
  return std::nullopt;
}

// CPU seconds (utime + stime) of every process but `exclude`, by pid.
std::map<pid_t, double> otherProcessesCpu(const std::vector<pid_t>& exclude) {
  std::map<pid_t, double> out;
  const double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (std::find(exclude.begin(), exclude.end(), pid) != exclude.end()) continue;
    const auto text = readFile("/proc/" + name + "/stat");
    const auto close = text ? text->rfind(')') : std::string::npos;
    if (close == std::string::npos) continue;
    std::istringstream in(text->substr(close + 2));
    std::vector<std::string> f;
    for (std::string x; in >> x && f.size() < 13;) f.push_back(x);
    if (f.size() < 13) continue;  // f[11], f[12]: utime, stime
    out[pid] = (std::stod(f[11]) + std::stod(f[12])) / tck;
  }
  return out;
}

// What the processes in `after` used since `before` (new ones: all they used). A lower bound:
// processes that ended in between are not seen (children's times would count their whole life).
double cpuSince(const std::map<pid_t, double>& before, const std::map<pid_t, double>& after) {
  double sum = 0;
  for (const auto& [pid, t] : after) {
    const auto it = before.find(pid);
    sum += it == before.end() ? t : std::max(0.0, t - it->second);
  }
  return sum;
}

std::string loadAverage() {
  const auto text = readFile("/proc/loadavg");
  if (!text) return "?";
  return text->substr(0, text->find(' '));
}

double selfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

bool pinTo(pid_t pid, int cpu) {
  if (cpu < 0) return true;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(pid, sizeof(set), &set) == 0;
}

// A child process: started pinned to `cpu` with stdout and stderr going to `logPath`; killed
// (SIGTERM, then SIGKILL) when this goes away, and with SIGKILL if the bench itself dies.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& logPath, int cpu, int nice) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {  // only async-signal-safe calls from here on
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(126);
      if (!pinTo(0, cpu)) _exit(125);
      if (setpriority(PRIO_PROCESS, 0, nice) != 0) _exit(124);
      const int fd = open(logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool running() {
    if (exited_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) exited_ = true;
    return !exited_;
  }
  // Waits up to `patience` for the child to end by itself.
  bool wait(Clock::duration patience) {
    const auto until = Clock::now() + patience;
    while (running()) {
      if (Clock::now() >= until) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }
  void stop() {
    if (!running()) return;
    kill(pid_, SIGTERM);
    if (wait(std::chrono::seconds(3))) return;
    kill(pid_, SIGKILL);
    wait(std::chrono::seconds(3));
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

// A fresh directory, removed (unless kept) with everything in it.
class TempDir {
 public:
  TempDir(const std::string& parent, bool keep) : keep_(keep) {
    std::string tmpl = (fs::path(parent) / "quorate-bench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp in " + parent + " failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!keep_) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool keep_;
};

// A port on 127.0.0.1 that was free a moment ago.
int pickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(fd);
  if (!ok) throw std::runtime_error("cannot find a free port on 127.0.0.1");
  return ntohs(a.sin_port);
}

std::string tail(const std::string& path, std::size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "  " + all[i] + "\n";
  }
  return out;
}

// ---------------------------------------------------------------------------
// The emulated directors.

struct ClusterId {
  std::string id;
  std::string secret;
};

std::vector<ClusterId> makeClusters(int n) {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  std::vector<ClusterId> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    char id[32];
    std::snprintf(id, sizeof(id), "bench-%05d", i);
    char secret[33];
    std::snprintf(secret, sizeof(secret), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    out.push_back({id, secret});
  }
  return out;
}

// Quarantine and lease limits are left at their defaults (the point of the exercise).
void writeArbiterConfig(const std::string& path, int port, const std::string& stateDir,
                        const std::vector<ClusterId>& clusters) {
  std::ofstream out(path);
  out << "# Written by quorate-bench-arbiter.\n"
      << "listen: 127.0.0.1:" << port << "\n"
      << "state_dir: " << stateDir << "\n"
      << "log_level: info\n"
      << "clusters:\n";
  for (const auto& c : clusters) {
    out << "  - id: " << c.id << "\n    secret: \"" << c.secret << "\"\n";
  }
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
  // Inline keys: the arbiter refuses them in a file that others can read.
  if (::chmod(path.c_str(), 0600) != 0) throw std::runtime_error("cannot chmod " + path);
}

// Outcomes of one kind of RPC; latency samples only for those sent in the measurement window.
struct KindStats {
  std::atomic<std::uint64_t> sent{0};     // whole run (warm-up and window)
  std::atomic<std::uint64_t> rejects{0};  // whole run
  std::atomic<std::uint64_t> errors{0};   // whole run: status not OK
  std::atomic<std::uint64_t> noReply{0};  // whole run: OK but not the expected reply
  std::atomic<std::uint64_t> windowSent{0};
  std::atomic<std::uint64_t> windowOk{0};
  std::vector<std::int64_t> samples;      // latency in ns, preallocated
  std::vector<Clock::time_point> sentAt;  // same index
  std::atomic<std::size_t> sampleCount{0};

  void reserve(std::size_t n) {
    samples.resize(n);
    sentAt.resize(n);
  }
  void record(Clock::time_point t0, std::int64_t ns) {
    const std::size_t i = sampleCount.fetch_add(1, std::memory_order_relaxed);
    if (i < samples.size()) {
      samples[i] = ns;
      sentAt[i] = t0;
    }
  }
  std::vector<std::int64_t> sorted() const {
    std::vector<std::int64_t> s(
        samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(
                                               std::min(sampleCount.load(), samples.size())));
    std::sort(s.begin(), s.end());
    return s;
  }
};

double percentileMs(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return toMs(sorted[std::min(i, sorted.size() - 1)]);
}

struct EmulatedCluster {
  std::unique_ptr<PeerClient> holder;    // node 0, steady state: deadline = renew interval
  std::unique_ptr<PeerClient> standby;   // node 1
  std::unique_ptr<PeerClient> acquirer;  // node 0 while acquiring: a patient deadline
  std::uint64_t round = 0;               // the holder's last ballot round
};

// One scheduled send in the one-second frame that repeats for the whole run.
struct Event {
  Clock::duration offset;
  std::uint32_t cluster;
  bool renewal;  // else the standby's heartbeat
};

class LoadGenerator {
 public:
  LoadGenerator(const std::string& address, const std::vector<ClusterId>& ids, int channels,
                std::size_t expectedRenewals, std::size_t expectedPings) {
    for (int i = 0; i < channels; ++i) channels_.push_back(makePeerChannel(address, true));
    clusters_.resize(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      // Round robin over directors, so with two channels per cluster each has its own.
      const auto& ch = channels_[(2 * i) % channels_.size()];
      const auto& other = channels_[(2 * i + 1) % channels_.size()];
      auto& c = clusters_[i];
      c.holder = std::make_unique<PeerClient>(ch, ids[i].id, ids[i].secret, "a",
                                              membership(ids[i].id), timing_.renewInterval);
      c.standby = std::make_unique<PeerClient>(other, ids[i].id, ids[i].secret, "b",
                                               membership(ids[i].id), timing_.renewInterval);
      c.acquirer = std::make_unique<PeerClient>(ch, ids[i].id, ids[i].secret, "a",
                                                membership(ids[i].id), std::chrono::seconds(30));
    }
    renew_.reserve(expectedRenewals + expectedRenewals / 10 + 1000);
    ping_.reserve(expectedPings + expectedPings / 10 + 1000);
    buildFrame();
  }

  ~LoadGenerator() { drain(std::chrono::seconds(10)); }

  // Connects every channel and waits until the arbiter answers a Ping with a Pong, which it
  // only does once its quarantine is over. False (with a reason) on timeout.
  std::optional<std::string> waitReady(Clock::duration patience, Child& arbiter) {
    const auto until = Clock::now() + patience;
    for (auto& ch : channels_) {
      if (!ch->WaitForConnected(std::chrono::system_clock::now() + patience)) {
        return "channel did not connect";
      }
    }
    std::string last = "no answer";
    while (Clock::now() < until && !gStop.load()) {
      if (!arbiter.running()) return "arbiter exited";
      std::promise<std::string> answer;
      auto got = answer.get_future();
      clusters_[0].standby->send(ping(), [&answer](const grpc::Status& s,
                                                   std::vector<Message> replies) {
        if (!s.ok()) {
          answer.set_value("status " + std::to_string(s.error_code()) + ": " + s.error_message());
        } else if (replies.size() == 1 && std::holds_alternative<lease::Pong>(replies[0].body)) {
          answer.set_value("");
        } else {
          answer.set_value("quarantine (no Pong yet)");
        }
      });
      last = got.get();
      if (last.empty()) return std::nullopt;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return last;
  }

  // Every holder acquires epoch 1 (Prepare -> Promise, Accept -> Accepted), with at most
  // `window` clusters in flight. Returns the number of clusters that failed.
  std::size_t acquireAll(std::size_t window) {
    acquireNext_ = 0;
    acquireDone_ = 0;
    acquireFailed_ = 0;
    for (std::size_t i = 0; i < std::min(window, clusters_.size()); ++i) acquireStartNext();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return acquireDone_ + acquireFailed_ == clusters_.size() || gStop; });
    return acquireFailed_;
  }

  // Sends the frame's events from `start` until `end`; latency samples for sends after `from`.
  // Wakes at most once per `tick` and sends every event due before the next tick: one wake-up
  // per event would cost the load generator more CPU than the sends.
  void run(Clock::time_point start, Clock::time_point from, Clock::time_point end,
           Clock::duration tick) {
    for (std::int64_t frame = 0;; ++frame) {
      const auto base = start + frame * kFrame;
      for (const Event& e : frame_) {
        const auto due = base + e.offset;
        if (due >= end || gStop.load(std::memory_order_relaxed)) return;
        auto now = Clock::now();
        if (now + tick <= due) {
          std::this_thread::sleep_until(due);
          now = Clock::now();
        }
        const bool inWindow = due >= from;
        if (inWindow) maxLag_ = std::max(maxLag_, now - due);  // negative: early, within a tick
        if (e.renewal) {
          sendRenewal(e.cluster, inWindow);
        } else {
          sendPing(e.cluster, inWindow);
        }
      }
    }
  }

  // Waits for every RPC in flight to finish (their deadlines bound this); false on timeout.
  bool drain(Clock::duration patience) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return inFlight_.load() == 0; });
  }

  const KindStats& renewals() const { return renew_; }
  const KindStats& pings() const { return ping_; }
  std::uint64_t inFlight() const { return inFlight_.load(); }
  Clock::duration maxLag() const { return maxLag_; }
  std::vector<std::string> firstProblems() const {
    std::lock_guard lock(mu_);
    return problems_;
  }
  static constexpr Clock::duration kFrame = std::chrono::seconds(1);

 private:
  Message ping() const { return Message{lease::kDirectorB, lease::kArbiter, lease::Ping{}}; }

  // Renewals every renew interval and heartbeats every two, as uniform phases within a
  // frame of kFrame (a whole number of both periods).
  void buildFrame() {
    const auto n = static_cast<std::int64_t>(clusters_.size());
    const auto renew = timing_.renewInterval;
    const auto beat = 2 * timing_.renewInterval;
    const auto renewPer = kFrame / renew;
    const auto beatPer = kFrame / beat;
    for (std::int64_t i = 0; i < n; ++i) {
      const auto c = static_cast<std::uint32_t>(i);
      const auto renewPhase = renew * i / n;
      const auto beatPhase = beat * (2 * i + 1) / (2 * n);  // halfway between neighbours
      for (std::int64_t k = 0; k < renewPer; ++k)
        frame_.push_back({renewPhase + k * renew, c, true});
      for (std::int64_t k = 0; k < beatPer; ++k) frame_.push_back({beatPhase + k * beat, c, false});
    }
    std::sort(frame_.begin(), frame_.end(),
              [](const Event& a, const Event& b) { return a.offset < b.offset; });
  }

  void problem(const std::string& what) {
    std::lock_guard lock(mu_);
    if (problems_.size() < 8) problems_.push_back(what);
  }

  void finished() {
    if (inFlight_.fetch_sub(1) == 1) {
      std::lock_guard lock(mu_);
      cv_.notify_all();
    }
  }

  void sendRenewal(std::uint32_t i, bool inWindow) {
    auto& c = clusters_[i];
    const lease::Accept accept{Ballot{++c.round, lease::kDirectorA}, 1, timing_.acceptorLease};
    renew_.sent.fetch_add(1, std::memory_order_relaxed);
    if (inWindow) renew_.windowSent.fetch_add(1, std::memory_order_relaxed);
    inFlight_.fetch_add(1);
    const auto t0 = Clock::now();
    c.holder->send(
        Message{lease::kDirectorA, lease::kArbiter, accept},
        [this, t0, inWindow, accept, i](const grpc::Status& s, std::vector<Message> replies) {
          const auto t1 = Clock::now();
          onRenewed(i, accept, s, replies, t0, t1 - t0, inWindow);
          finished();
        });
  }

  void onRenewed(std::uint32_t i, const lease::Accept& sent, const grpc::Status& s,
                 const std::vector<Message>& replies, Clock::time_point t0, Clock::duration took,
                 bool inWindow) {
    if (!s.ok()) {
      renew_.errors.fetch_add(1, std::memory_order_relaxed);
      problem("renewal of cluster " + std::to_string(i) + ": status " +
              std::to_string(s.error_code()) + " " + s.error_message());
      return;
    }
    const auto* ok = replies.size() == 1 ? std::get_if<lease::Accepted>(&replies[0].body) : nullptr;
    if (ok && ok->ballot == sent.ballot && ok->epoch == sent.epoch) {
      if (inWindow) {
        renew_.windowOk.fetch_add(1, std::memory_order_relaxed);
        renew_.record(t0, duration_cast<nanoseconds>(took).count());
      }
      return;
    }
    const auto* rej = replies.size() == 1 ? std::get_if<lease::Reject>(&replies[0].body) : nullptr;
    if (rej) {
      renew_.rejects.fetch_add(1, std::memory_order_relaxed);
      problem("renewal of cluster " + std::to_string(i) +
              " rejected: " + lease::toString(rej->reason));
    } else {
      renew_.noReply.fetch_add(1, std::memory_order_relaxed);
      problem("renewal of cluster " + std::to_string(i) + ": " + std::to_string(replies.size()) +
              " replies" +
              (replies.empty() ? "" : std::string(", first ") + lease::bodyName(replies[0].body)));
    }
  }

  void sendPing(std::uint32_t i, bool inWindow) {
    ping_.sent.fetch_add(1, std::memory_order_relaxed);
    if (inWindow) ping_.windowSent.fetch_add(1, std::memory_order_relaxed);
    inFlight_.fetch_add(1);
    const auto t0 = Clock::now();
    clusters_[i].standby->send(
        ping(), [this, t0, inWindow, i](const grpc::Status& s, std::vector<Message> replies) {
          const auto took = Clock::now() - t0;
          if (!s.ok()) {
            ping_.errors.fetch_add(1, std::memory_order_relaxed);
            problem("ping of cluster " + std::to_string(i) + ": status " +
                    std::to_string(s.error_code()) + " " + s.error_message());
          } else if (replies.size() == 1 && std::holds_alternative<lease::Pong>(replies[0].body)) {
            if (inWindow) {
              ping_.windowOk.fetch_add(1, std::memory_order_relaxed);
              ping_.record(t0, duration_cast<nanoseconds>(took).count());
            }
          } else {
            ping_.noReply.fetch_add(1, std::memory_order_relaxed);
            problem("ping of cluster " + std::to_string(i) + ": no Pong");
          }
          finished();
        });
  }

  void acquireStartNext() {
    const std::size_t i = acquireNext_.fetch_add(1);
    if (i < clusters_.size()) acquire(i, 0);
  }

  void acquireEnded(bool ok) {
    {
      std::lock_guard lock(mu_);
      (ok ? acquireDone_ : acquireFailed_) += 1;
      cv_.notify_all();
    }
    if (!gStop) acquireStartNext();
  }

  // Sends on `client`, counted as in flight until `then` has run.
  void track(PeerClient& client, const Message& m, PeerClient::Callback then) {
    inFlight_.fetch_add(1);
    client.send(
        m, [this, then = std::move(then)](const grpc::Status& s, std::vector<Message> replies) {
          then(s, std::move(replies));
          finished();
        });
  }

  void acquire(std::size_t i, int attempt) {
    auto& c = clusters_[i];
    const Ballot b{++c.round, lease::kDirectorA};
    auto retry = [this, i, attempt](const std::string& why) {
      problem("acquire of cluster " + std::to_string(i) + ": " + why);
      if (attempt < 3 && !gStop) {
        acquire(i, attempt + 1);
      } else {
        acquireEnded(false);
      }
    };
    track(*c.acquirer, Message{lease::kDirectorA, lease::kArbiter, lease::Prepare{b}},
          [this, i, b, retry](const grpc::Status& s, std::vector<Message> replies) {
            if (!s.ok()) return retry("Prepare: status " + std::to_string(s.error_code()));
            if (replies.size() != 1 || !std::holds_alternative<lease::Promise>(replies[0].body)) {
              return retry("Prepare: no Promise");
            }
            const lease::Accept accept{b, 1, timing_.acceptorLease};
            track(*clusters_[i].acquirer, Message{lease::kDirectorA, lease::kArbiter, accept},
                  [this, retry](const grpc::Status& s2, std::vector<Message> r2) {
                    if (!s2.ok()) return retry("Accept: status " + std::to_string(s2.error_code()));
                    if (r2.size() != 1 || !std::holds_alternative<lease::Accepted>(r2[0].body)) {
                      return retry("Accept: not Accepted");
                    }
                    acquireEnded(true);
                  });
          });
  }

  const lease::Timing timing_{};
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<EmulatedCluster> clusters_;
  std::vector<Event> frame_;
  KindStats renew_;
  KindStats ping_;
  std::atomic<std::uint64_t> inFlight_{0};
  Clock::duration maxLag_{0};  // scheduler only
  std::atomic<std::size_t> acquireNext_{0};
  std::size_t acquireDone_ = 0;    // guarded by mu_
  std::size_t acquireFailed_ = 0;  // guarded by mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> problems_;  // guarded by mu_
};

// ---------------------------------------------------------------------------
// One run: one arbiter, one N.

struct RunResult {
  int clusters = 0;
  int channels = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;  // renewal latency, ms
  double pingP50 = 0, pingP99 = 0;
  double renewRate = 0, renewExpected = 0;
  double rpcRate = 0, rpcExpected = 0;
  double rejects = 0, errors = 0;  // whole run, renewals and pings; errors include no-reply
  double arbiterCpu = 0;           // % of one core, measurement window
  double rssMb = 0, hwmMb = 0, idleRssMb = 0;
  double loadCpu = 0;  // % of one core, measurement window
  double acquireSec = 0;
  double maxLagMs = 0;
  double threads = 0;
  // CPU of the other processes alive at the end of the window, % of one core: near 0 on a
  // quiet machine.
  double otherCpu = 0;
  std::string loadAverage;  // 1 min, at the end of the window
};

double kbToMb(std::optional<long> kb) { return kb ? static_cast<double>(*kb) / 1024.0 : -1; }

// kind,sent_ms,latency_ms: sent_ms from the start of the measurement window.
void dumpSamples(const std::string& path, Clock::time_point from, const KindStats& renewals,
                 const KindStats& pings) {
  std::ofstream out(path);
  out << "kind,sent_ms,latency_ms\n";
  for (const auto* k : {&renewals, &pings}) {
    const std::size_t n = std::min(k->sampleCount.load(), k->samples.size());
    for (std::size_t i = 0; i < n; ++i) {
      out << (k == &renewals ? "renew," : "ping,")
          << fmt("%.3f", seconds(k->sentAt[i] - from) * 1e3) << ","
          << fmt("%.3f", toMs(k->samples[i])) << "\n";
    }
  }
}

std::optional<RunResult> runOnce(const Options& o, int n, int run) {
  const int channels = o.channels > 0 ? o.channels : 2 * n;  // 0: one per director
  const lease::Timing timing{};
  TempDir dir(o.tmpParent, o.keep);
  const auto ids = makeClusters(n);
  const int port = pickFreePort();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  const std::string config = dir.path() + "/arbiter.yaml";
  const std::string log = dir.path() + "/arbiter.log";
  writeArbiterConfig(config, port, dir.path() + "/state", ids);

  Child arbiter({o.arbiter, "--config", config}, log, o.arbiterCpu, o.nice);
  const double renewPerSec = 1.0 / seconds(timing.renewInterval);
  const double pingPerSec = 1.0 / seconds(2 * timing.renewInterval);
  const auto expectedRenewals = static_cast<std::size_t>(n * renewPerSec * o.seconds);
  const auto expectedPings = static_cast<std::size_t>(n * pingPerSec * o.seconds);
  auto gen =
      std::make_unique<LoadGenerator>(address, ids, channels, expectedRenewals, expectedPings);
  auto fail = [&](const std::string& why) -> std::optional<RunResult> {
    std::cerr << "run with " << n << " clusters failed: " << why << "\narbiter log (" << log
              << "), last lines:\n"
              << tail(log, 10);
    return std::nullopt;
  };

  const auto launched = Clock::now();
  if (auto err = gen->waitReady(std::chrono::seconds(30), arbiter)) return fail(*err);
  std::cerr << "  arbiter pid " << arbiter.pid() << " on " << address << " answers "
            << seconds(Clock::now() - launched) << " s after launch (quarantine "
            << seconds(timing.quarantine) << " s)\n";
  RunResult r;
  r.clusters = n;
  r.channels = channels;
  r.idleRssMb = kbToMb(statusField(arbiter.pid(), "VmRSS"));

  const auto acquireStart = Clock::now();
  if (const auto failed = gen->acquireAll(64); failed > 0 || gStop) {
    return fail(std::to_string(failed) + " clusters could not acquire");
  }
  r.acquireSec = seconds(Clock::now() - acquireStart);
  std::cerr << "  " << n << " clusters acquired epoch 1 in " << r.acquireSec << " s\n";

  const auto start = Clock::now() + milliseconds(20);
  const auto from = start + duration_cast<Clock::duration>(duration<double>(o.warmup));
  const auto end = from + duration_cast<Clock::duration>(duration<double>(o.seconds));
  std::thread sched([&] { gen->run(start, from, end, std::chrono::microseconds(o.tickUs)); });

  std::unique_ptr<Child> perf;
  if (!sleepUntil(from)) {
    sched.join();
    return fail("interrupted");
  }
  const auto cpu0 = cpuSeconds(arbiter.pid());
  const double self0 = selfCpuSeconds();
  const auto others0 = otherProcessesCpu({getpid(), arbiter.pid()});
  const auto wall0 = Clock::now();
  if (!o.perfRecord.empty()) {
    std::vector<std::string> argv{"/usr/bin/perf", "record", "-o", o.perfRecord};
    std::istringstream extra(o.perfArgs);
    for (std::string a; extra >> a;) argv.push_back(a);
    for (std::string a : {std::string("-p"), std::to_string(arbiter.pid()), std::string("--"),
                          std::string("sleep"), std::to_string(o.seconds)}) {
      argv.push_back(a);
    }
    perf = std::make_unique<Child>(argv, dir.path() + "/perf.log", o.loadCpu, o.nice);
  }
  const bool completed = sleepUntil(end);
  const auto cpu1 = cpuSeconds(arbiter.pid());
  const double self1 = selfCpuSeconds();
  const auto others1 = otherProcessesCpu({getpid(), arbiter.pid()});
  const double wall = seconds(Clock::now() - wall0);
  sched.join();
  if (!completed) return fail("interrupted");
  if (!gen->drain(std::chrono::seconds(5))) return fail("RPCs still in flight 5 s after the end");
  if (perf) perf->wait(std::chrono::seconds(30));
  if (!arbiter.running()) return fail("arbiter exited");

  r.rssMb = kbToMb(statusField(arbiter.pid(), "VmRSS"));
  r.hwmMb = kbToMb(statusField(arbiter.pid(), "VmHWM"));
  r.threads = static_cast<double>(statusField(arbiter.pid(), "Threads").value_or(-1));
  if (cpu0 && cpu1) r.arbiterCpu = 100.0 * (*cpu1 - *cpu0) / wall;
  r.loadCpu = 100.0 * (self1 - self0) / wall;
  r.otherCpu = 100.0 * cpuSince(others0, others1) / wall;
  r.loadAverage = loadAverage();

  const auto& rs = gen->renewals();
  const auto& ps = gen->pings();
  const auto lat = rs.sorted();
  r.p50 = percentileMs(lat, 0.50);
  r.p90 = percentileMs(lat, 0.90);
  r.p99 = percentileMs(lat, 0.99);
  r.max = lat.empty() ? 0 : toMs(lat.back());
  const auto pl = ps.sorted();
  r.pingP50 = percentileMs(pl, 0.50);
  r.pingP99 = percentileMs(pl, 0.99);
  r.renewRate = static_cast<double>(rs.windowOk.load()) / o.seconds;
  r.renewExpected = n * renewPerSec;
  r.rpcRate = static_cast<double>(rs.windowOk.load() + ps.windowOk.load()) / o.seconds;
  r.rpcExpected = n * (renewPerSec + pingPerSec);
  r.rejects = static_cast<double>(rs.rejects.load() + ps.rejects.load());
  r.errors = static_cast<double>(rs.errors.load() + ps.errors.load() + rs.noReply.load() +
                                 ps.noReply.load());
  r.maxLagMs = toMs(duration_cast<nanoseconds>(gen->maxLag()).count());
  if (!o.dump.empty()) {
    dumpSamples(o.dump + "-" + std::to_string(n) + "-" + std::to_string(run) + ".csv", from, rs,
                ps);
  }
  for (const auto& p : gen->firstProblems()) std::cerr << "  problem: " << p << "\n";
  if (rs.sampleCount.load() > rs.samples.size()) std::cerr << "  warning: samples dropped\n";

  gen.reset();  // close the channels before the arbiter goes
  arbiter.stop();
  return r;
}

// ---------------------------------------------------------------------------
// Output.

void printHeader() {
  std::cout
      << "| clusters | connections | run | renew p50 ms | p90 ms | p99 ms | max ms | renewals/s "
         "(expected) | RPC/s (expected) | rejects | errors | arbiter CPU % | arbiter RSS "
         "MB (peak) | loadgen CPU % |\n"
      << "|---:|---:|:--|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
}

void printRow(const RunResult& r, const std::string& label) {
  std::cout << "| " << r.clusters << " | " << r.channels << " | " << label << " | "
            << fmt("%.2f", r.p50) << " | " << fmt("%.2f", r.p90) << " | " << fmt("%.2f", r.p99)
            << " | " << fmt("%.2f", r.max) << " | " << fmt("%.0f", r.renewRate) << " ("
            << fmt("%.0f", r.renewExpected) << ") | " << fmt("%.0f", r.rpcRate) << " ("
            << fmt("%.0f", r.rpcExpected) << ") | " << fmt("%.0f", r.rejects) << " | "
            << fmt("%.0f", r.errors) << " | " << fmt("%.1f", r.arbiterCpu) << " | "
            << fmt("%.1f", r.rssMb) << " (" << fmt("%.1f", r.hwmMb) << ") | "
            << fmt("%.1f", r.loadCpu) << " |\n"
            << std::flush;
}

void printDetail(const RunResult& r) {
  std::cerr << "  detail: ping p50 " << fmt("%.2f", r.pingP50) << " ms, p99 "
            << fmt("%.2f", r.pingP99) << " ms; arbiter idle RSS " << fmt("%.1f", r.idleRssMb)
            << " MB, threads " << r.threads << "; acquire " << fmt("%.2f", r.acquireSec)
            << " s; scheduler max lag " << fmt("%.2f", r.maxLagMs) << " ms; other processes' CPU "
            << fmt("%.1f", r.otherCpu) << " % of a core, load average " << r.loadAverage << "\n";
  if (r.otherCpu > 5) std::cerr << "  warning: the machine was not quiet; this run is noisy\n";
}

// Per-column median of the runs (each column on its own).
RunResult median(std::vector<RunResult> runs) {
  RunResult m = runs.front();
  auto med = [&](double RunResult::*field) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(r.*field);
    std::sort(v.begin(), v.end());
    m.*field = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  for (auto f :
       {&RunResult::p50, &RunResult::p90, &RunResult::p99, &RunResult::max, &RunResult::pingP50,
        &RunResult::pingP99, &RunResult::renewRate, &RunResult::rpcRate, &RunResult::arbiterCpu,
        &RunResult::rssMb, &RunResult::hwmMb, &RunResult::idleRssMb, &RunResult::loadCpu,
        &RunResult::acquireSec, &RunResult::maxLagMs, &RunResult::threads, &RunResult::otherCpu}) {
    med(f);
  }
  m.rejects = m.errors = 0;  // totals, not medians: any at all matters
  for (const auto& r : runs) {
    m.rejects += r.rejects;
    m.errors += r.errors;
  }
  return m;
}

std::string defaultArbiterPath() {
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "quorate-arbiter" : (self.parent_path() / "quorate-arbiter").string();
}

int benchMain(int argc, char** argv) {
  Options o;
  CLI::App app{
      "quorate-bench-arbiter: renewal latency, CPU and RSS of one quorate-arbiter "
      "serving N clusters on loopback at the default timers"};
  app.add_option("--clusters", o.clusters, "cluster counts to run, in order")
      ->delimiter(',')
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "measurement window per run")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "load before the window starts, after acquisition")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--runs", o.runs, "runs per cluster count; the summary takes the median")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--channels", o.channels,
                 "gRPC channels (TCP connections) of the load generator; 0: one per director, as "
                 "in production (2 per cluster)")
      ->check(CLI::Range(0, 20000))
      ->capture_default_str();
  app.add_option("--tick-us", o.tickUs,
                 "send granularity: events due within a tick go out together (microseconds)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--arbiter", o.arbiter, "quorate-arbiter binary (default: next to this one)");
  app.add_option("--arbiter-cpu", o.arbiterCpu, "CPU to pin the arbiter to (-1: none)")
      ->capture_default_str();
  app.add_option("--loadgen-cpu", o.loadCpu, "CPU to pin the load generator to (-1: none)")
      ->capture_default_str();
  app.add_option("--nice", o.nice,
                 "nice value of the arbiter and the load generator (on a shared machine: -20)")
      ->check(CLI::Range(-20, 19))
      ->capture_default_str();
  app.add_option("--tmp", o.tmpParent, "where to make the temp dir (default: system temp dir)");
  app.add_option("--perf-record", o.perfRecord,
                 "profile the arbiter with perf record during the window into this file");
  app.add_option("--perf-args", o.perfArgs, "extra perf record arguments")->capture_default_str();
  app.add_option("--dump", o.dump, "write every latency sample to <prefix>-<clusters>-<run>.csv");
  app.add_flag("--client-deadlock-detection", o.clientDeadlockDetection,
               "keep abseil's mutex deadlock detection on in the load generator");
  app.add_flag("--keep", o.keep, "keep the temp dir (config, state, arbiter log)");
  CLI11_PARSE(app, argc, argv);

  if (o.arbiter.empty()) o.arbiter = defaultArbiterPath();
  o.arbiter = fs::absolute(o.arbiter).string();
  if (access(o.arbiter.c_str(), X_OK) != 0) {
    std::cerr << "quorate-bench-arbiter: " << o.arbiter << " is not executable\n";
    return 2;
  }
  if (o.tmpParent.empty()) o.tmpParent = fs::temp_directory_path().string();
  if (!o.perfRecord.empty()) o.perfRecord = fs::absolute(o.perfRecord).string();
  if (!o.clientDeadlockDetection) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  // Before gRPC starts any thread: they all inherit this.
  if (!pinTo(0, o.loadCpu)) {
    std::cerr << "quorate-bench-arbiter: cannot pin to CPU " << o.loadCpu << "\n";
    return 2;
  }
  if (setpriority(PRIO_PROCESS, 0, o.nice) != 0) {
    std::cerr << "quorate-bench-arbiter: cannot set nice " << o.nice << "\n";
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::cerr << "arbiter " << o.arbiter << " on CPU " << o.arbiterCpu << ", load generator on CPU "
            << o.loadCpu << ", nice " << o.nice << ", "
            << (o.channels > 0 ? std::to_string(o.channels) : std::string("2 per cluster"))
            << " channels, " << o.warmup << " s warm-up + " << o.seconds << " s per run\n";
  std::vector<RunResult> summary;
  bool allOk = true;
  printHeader();
  for (int n : o.clusters) {
    std::vector<RunResult> runs;
    for (int k = 1; k <= o.runs && !gStop; ++k) {
      std::cerr << "clusters " << n << ", run " << k << "/" << o.runs << "\n";
      auto r = runOnce(o, n, k);
      if (!r) {
        allOk = false;
        continue;
      }
      printDetail(*r);
      printRow(*r, std::to_string(k));
      if (r->rejects > 0 || r->errors > 0) allOk = false;
      runs.push_back(*r);
    }
    if (!runs.empty()) summary.push_back(median(runs));
  }
  if (o.runs > 1 && !summary.empty()) {
    std::cout << "\nMedian of " << o.runs << " runs (rejects and errors: totals):\n\n";
    printHeader();
    for (const auto& m : summary) printRow(m, "median");
  }
  if (gStop) return 130;
  return allOk ? 0 : 1;
}

}  // namespace
}  // namespace quorate::bench

int main(int argc, char** argv) { return quorate::bench::benchMain(argc, argv); }
