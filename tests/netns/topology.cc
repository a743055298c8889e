// Multi-host test bed: ip-batch set-up, fork+setns processes, nft partitions, reachability.
#include "netns/topology.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace quorate::netns {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kNetnsDir = "/run/netns/";
constexpr const char* kSwitch = "switch";
constexpr const char* kIfname = "eth0";
constexpr const char* kFaultTable = "qtb_fault";

[[noreturn]] void failErrno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// Closes a file descriptor at scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string readAll(int fd) {
  std::string s;
  ::lseek(fd, 0, SEEK_SET);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<std::size_t>(n));
  }
  return s;
}

int tempFile() {
  char path[] = "/tmp/qtb-io-XXXXXX";
  const int fd = ::mkostemp(path, O_CLOEXEC);
  if (fd < 0) failErrno("mkostemp");
  ::unlink(path);
  return fd;
}

// The executable for argv[0]: itself when it has a '/', else the first match on PATH.
std::string resolve(const std::string& prog) {
  if (prog.find('/') != std::string::npos) return prog;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + prog;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return prog;
}

std::vector<char*> cArgv(const std::vector<std::string>& argv) {
  std::vector<char*> v;
  for (const auto& a : argv) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

// Forks; the child enters `nsFd` (unless -1), takes stdin/stdout/stderr from the given fds and
// execs. Only async-signal-safe calls between fork and exec.
pid_t forkExec(const std::string& exe, const std::vector<char*>& argv,
               const std::vector<char*>& envp, int nsFd, int inFd, int outFd, int errFd,
               bool deathSignal) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) failErrno("fork");
  if (pid > 0) return pid;
  if (deathSignal) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (nsFd >= 0 && ::setns(nsFd, CLONE_NEWNET) != 0) {
    static const char msg[] = "qtb: setns failed\n";
    (void)!::write(errFd, msg, sizeof msg - 1);
    ::_exit(126);
  }
  if (::dup2(inFd, 0) < 0 || ::dup2(outFd, 1) < 0 || ::dup2(errFd, 2) < 0) ::_exit(126);
  ::execve(exe.c_str(), argv.data(), envp.data());
  static const char msg[] = "qtb: exec failed\n";
  (void)!::write(2, msg, sizeof msg - 1);
  ::_exit(127);
}

std::optional<int> waitPidFor(pid_t pid, Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    ::usleep(500);
  }
}

ExitStatus toExit(int status) {
  ExitStatus e;
  if (WIFEXITED(status)) e.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
  return e;
}

// Runs argv to its end in the namespace at `nsPath` (empty: this process's namespace).
CommandResult runCommand(const std::string& nsPath, const std::vector<std::string>& argv,
                         const std::string& input, Ms timeout) {
  if (argv.empty()) throw std::invalid_argument("empty argv");
  Fd ns(nsPath.empty() ? -1 : ::open(nsPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!nsPath.empty() && ns.get() < 0) failErrno("open " + nsPath);
  Fd in(tempFile()), out(tempFile()), err(tempFile());
  if (!input.empty()) {
    if (::write(in.get(), input.data(), input.size()) != static_cast<ssize_t>(input.size())) {
      failErrno("write input");
    }
    ::lseek(in.get(), 0, SEEK_SET);
  }
  const std::string exe = resolve(argv[0]);
  const auto args = cArgv(argv);
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  envp.push_back(nullptr);
  const pid_t pid = forkExec(exe, args, envp, ns.get(), in.get(), out.get(), err.get(), false);
  CommandResult r;
  auto status = waitPidFor(pid, timeout);
  if (!status) {
    r.timedOut = true;
    ::kill(pid, SIGKILL);
    status = waitPidFor(pid, Ms(5000));
  }
  if (status && WIFEXITED(*status)) r.exitCode = WEXITSTATUS(*status);
  r.out = readAll(out.get());
  r.err = readAll(err.get());
  return r;
}

std::string describe(const std::vector<std::string>& argv, const CommandResult& r) {
  std::string s;
  for (const auto& a : argv) s += a + " ";
  return s + "-> exit " + std::to_string(r.exitCode) + (r.timedOut ? " (timed out)" : "") + ": " +
         r.err + r.out;
}

bool validName(const std::string& n) {
  if (n.empty() || n.size() > 15 || n == kSwitch || n == "br0" || n == "lo") return false;
  return std::all_of(n.begin(), n.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

bool inTestNet4(const std::string& ip) {
  in_addr a{};
  if (::inet_pton(AF_INET, ip.c_str(), &a) != 1) return false;
  return (ntohl(a.s_addr) & 0xfffe0000u) == 0xc6120000u;  // 198.18.0.0/15
}

bool inTestNet6(const std::string& ip) {
  in6_addr a{};
  if (::inet_pton(AF_INET6, ip.c_str(), &a) != 1) return false;
  return a.s6_addr[0] == 0x20 && a.s6_addr[1] == 0x01 && a.s6_addr[2] == 0x0d &&
         a.s6_addr[3] == 0xb8;  // 2001:db8::/32
}

std::string macFor(int kind, std::size_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "02:%02x:00:00:%02x:%02x", kind,
                static_cast<unsigned>((index + 1) >> 8), static_cast<unsigned>((index + 1) & 0xff));
  return buf;
}

std::atomic<int> nextSeq{0};

void deleteNamespace(const std::string& name) {
  const std::string path = kNetnsDir + name;
  ::umount2(path.c_str(), MNT_DETACH);
  ::unlink(path.c_str());
}

// Every process whose network namespace is the one bound at `path`.
std::vector<pid_t> pidsInNamespace(const std::string& path) {
  std::vector<pid_t> pids;
  struct stat target {};
  if (::stat(path.c_str(), &target) != 0) return pids;
  DIR* proc = ::opendir("/proc");
  if (!proc) return pids;
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    struct stat st {};
    const std::string ns = std::string("/proc/") + e->d_name + "/ns/net";
    if (::stat(ns.c_str(), &st) == 0 && st.st_dev == target.st_dev && st.st_ino == target.st_ino) {
      pids.push_back(static_cast<pid_t>(pid));
    }
  }
  ::closedir(proc);
  return pids;
}

}  // namespace

std::int64_t monoNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool waitUntil(const std::function<bool()>& pred, Ms timeout, Ms step) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(step);
  }
}

std::vector<HostSpec> defaultHosts() {
  return {{kAlpha, "198.18.0.1", "2001:db8::1"},   {kBeta, "198.18.0.2", "2001:db8::2"},
          {kArbiter, "198.18.0.3", "2001:db8::3"}, {kRs1, "198.18.0.11", "2001:db8::11"},
          {kRs2, "198.18.0.12", "2001:db8::12"},   {kClient, "198.18.0.100", "2001:db8::100"}};
}

Topology::Topology(TopologyOptions options) : options_(std::move(options)) {
  const auto start = Clock::now();
  try {
    setUp();
  } catch (...) {
    tearDown();
    throw;
  }
  setupTime_ = std::chrono::duration_cast<Ms>(Clock::now() - start);
}

Topology::~Topology() { tearDown(); }

void Topology::runInNamespace(const std::string& path, const std::function<void()>& fn) {
  std::exception_ptr error;
  std::thread t([&] {
    try {
      Fd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (ns.get() < 0) failErrno("open " + path);
      if (::setns(ns.get(), CLONE_NEWNET) != 0) failErrno("setns " + path);
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  if (error) std::rethrow_exception(error);
}

void Topology::setUp() {
  if (options_.sweep) sweepStale();
  prefix_ = "qtb" + std::to_string(::getpid()) + "-" + std::to_string(nextSeq++);
  switchNs_ = prefix_ + "-" + kSwitch;
  if (options_.hosts.empty()) throw std::invalid_argument("no hosts");
  for (std::size_t i = 0; i < options_.hosts.size(); ++i) {
    const auto& spec = options_.hosts[i];
    if (!validName(spec.name) || hosts_.count(spec.name)) {
      throw std::invalid_argument("bad or duplicate host name '" + spec.name + "'");
    }
    if (!inTestNet4(spec.ipv4)) throw std::invalid_argument(spec.ipv4 + " not in 198.18.0.0/15");
    if (!spec.ipv6.empty() && !inTestNet6(spec.ipv6)) {
      throw std::invalid_argument(spec.ipv6 + " not in 2001:db8::/32");
    }
    Host h;
    h.name = spec.name;
    h.ns = prefix_ + "-" + spec.name;
    h.ifname = kIfname;
    h.ipv4 = spec.ipv4;
    h.ipv6 = spec.ipv6;
    h.mac = macFor(0x71, i);
    hosts_[spec.name] = h;
    order_.push_back(spec.name);
  }

  // 1. The namespaces, in one ip process. Recorded before creation so that a failure half-way
  // still deletes what exists; a name that already exists is not ours and is never recorded.
  std::string batch;
  std::vector<std::string> names{switchNs_};
  for (const auto& n : order_) names.push_back(hosts_[n].ns);
  for (const auto& n : names) {
    if (::access((kNetnsDir + n).c_str(), F_OK) == 0) {
      throw std::runtime_error("namespace " + n + " exists already");
    }
  }
  for (const auto& n : names) {
    created_.push_back(n);
    batch += "netns add " + n + "\n";
  }
  const std::vector<std::string> ipBatch{"ip", "-batch", "-"};
  auto r = runCommand("", ipBatch, batch, Ms(10000));
  if (!r.ok()) throw std::runtime_error(describe(ipBatch, r));

  // 2. The switch: a bridge without STP (ports forward as soon as they have carrier) and one
  // veth per host, created directly in the two namespaces (nothing passes through this one).
  batch = "link set lo up\nlink add br0 type bridge stp_state 0 mcast_snooping 0\n";
  for (std::size_t i = 0; i < order_.size(); ++i) {
    const Host& h = hosts_[order_[i]];
    batch += "link add " + h.name + " address " + macFor(0x72, i) + " type veth peer name " +
             h.ifname + " address " + h.mac + " netns " + h.ns + "\n";
    batch += "link set " + h.name + " master br0\nlink set " + h.name + " up\n";
  }
  batch += "link set br0 up\n";
  r = runCommand(nsPath(kSwitch), ipBatch, batch, Ms(10000));
  if (!r.ok()) throw std::runtime_error("switch: " + describe(ipBatch, r));

  // 3. The hosts, in parallel.
  std::vector<std::future<std::pair<std::string, CommandResult>>> jobs;
  for (const auto& name : order_) {
    const Host& h = hosts_[name];
    std::string b = "link set lo up\naddr add " + h.ipv4 + "/24 dev " + h.ifname + "\n";
    if (!h.ipv6.empty()) b += "addr add " + h.ipv6 + "/64 dev " + h.ifname + " nodad\n";
    if (options_.staticNeighbours) {
      for (const auto& [other, o] : hosts_) {
        if (other == name) continue;
        b += "neigh replace " + o.ipv4 + " lladdr " + o.mac + " dev " + h.ifname +
             " nud permanent\n";
        if (!o.ipv6.empty() && !h.ipv6.empty()) {
          b += "neigh replace " + o.ipv6 + " lladdr " + o.mac + " dev " + h.ifname +
               " nud permanent\n";
        }
      }
    }
    b += "link set " + h.ifname + " up\n";
    jobs.push_back(std::async(std::launch::async, [this, name, b, &ipBatch] {
      return std::make_pair(name, runCommand(nsPath(name), ipBatch, b, Ms(10000)));
    }));
  }
  std::string errors;
  for (auto& j : jobs) {
    auto [name, res] = j.get();
    if (!res.ok()) errors += name + ": " + describe(ipBatch, res) + "\n";
  }
  if (!errors.empty()) throw std::runtime_error(errors);

  // 4. Read back what the kernel has (index and MAC of eth0).
  for (auto& [name, host] : hosts_) {
    // A named reference: clang 14 cannot capture a structured binding (C++20, clang 16).
    inHost(name, [&h = host] {
      Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, h.ifname.c_str(), IFNAMSIZ - 1);
      if (::ioctl(s.get(), SIOCGIFINDEX, &ifr) != 0) failErrno("SIOCGIFINDEX in " + h.ns);
      h.ifindex = ifr.ifr_ifindex;
      if (::ioctl(s.get(), SIOCGIFHWADDR, &ifr) != 0) failErrno("SIOCGIFHWADDR in " + h.ns);
      char mac[18];
      const auto* m = reinterpret_cast<const unsigned char*>(ifr.ifr_hwaddr.sa_data);
      std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                    m[5]);
      h.mac = mac;
    });
  }
  waitForPorts(order_, Ms(5000));
}

void Topology::waitForPorts(const std::vector<std::string>& hosts, Ms timeout) const {
  std::string last;
  const bool ok = waitUntil(
      [&] {
        auto r = runCommand(nsPath(kSwitch), {"bridge", "-j", "link", "show"}, "", Ms(5000));
        last = r.out + r.err;
        if (!r.ok()) return false;
        const auto j = nlohmann::json::parse(r.out, nullptr, false);
        if (!j.is_array()) return false;
        std::set<std::string> forwarding;
        for (const auto& port : j) {
          if (port.value("state", "") == "forwarding") forwarding.insert(port.value("ifname", ""));
        }
        return std::all_of(hosts.begin(), hosts.end(),
                           [&](const std::string& h) { return forwarding.count(h) > 0; });
      },
      timeout, Ms(1));
  if (!ok) throw std::runtime_error("switch ports not forwarding: " + last);
}

void Topology::tearDown() noexcept {
  for (auto& [pid, status] : spawned_) {
    if (status) continue;
    ::kill(pid, SIGKILL);
    if (auto s = waitPidFor(pid, Ms(5000))) status = toExit(*s);
  }
  // The switch last: while it exists no host loses its veth before its namespace goes.
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) deleteNamespace(*it);
  created_.clear();
}

Topology::SweepLock::SweepLock()
    : fd_(::open("/run/quorate-testbed-sweep.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
  if (fd_ < 0) failErrno("open /run/quorate-testbed-sweep.lock");
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) failErrno("flock /run/quorate-testbed-sweep.lock");
  }
}

Topology::SweepLock::~SweepLock() { ::close(fd_); }

std::vector<std::string> Topology::sweepStale() {
  const SweepLock hold;
  std::vector<std::string> swept;
  static const std::regex kName(R"(qtb(\d+)-(\d+)-([a-z0-9]+))");
  DIR* dir = ::opendir(kNetnsDir);
  if (!dir) return swept;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) names.emplace_back(e->d_name);
  ::closedir(dir);
  for (const auto& name : names) {
    std::smatch m;
    if (!std::regex_match(name, m, kName)) continue;
    const long pid = std::strtol(m[1].str().c_str(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // owner alive
    // `ip netns add` creates the file before it binds the namespace on it: not ours to judge yet.
    struct statfs fs {};
    if (::statfs((kNetnsDir + name).c_str(), &fs) != 0 || fs.f_type != NSFS_MAGIC) continue;
    for (pid_t p : pidsInNamespace(kNetnsDir + name)) ::kill(p, SIGKILL);
    deleteNamespace(name);
    swept.push_back(name);
  }
  return swept;
}

const std::string& Topology::nsOf(const std::string& host) const {
  if (host == kSwitch) return switchNs_;
  return this->host(host).ns;
}

std::string Topology::nsPath(const std::string& host) const { return kNetnsDir + nsOf(host); }

const Host& Topology::host(const std::string& name) const {
  const auto it = hosts_.find(name);
  if (it == hosts_.end()) throw std::out_of_range("no host '" + name + "'");
  return it->second;
}

std::vector<std::string> Topology::hostNames() const { return order_; }

CommandResult Topology::run(const std::string& host, const std::string& shell, Ms timeout) const {
  return runCommand(nsPath(host), {"/bin/sh", "-c", shell}, "", timeout);
}

CommandResult Topology::runArgv(const std::string& host, const std::vector<std::string>& argv,
                                Ms timeout, const std::string& input) const {
  return runCommand(nsPath(host), argv, input, timeout);
}

std::string Topology::check(const std::string& host, const std::string& shell, Ms timeout) const {
  auto r = run(host, shell, timeout);
  if (!r.ok()) throw std::runtime_error("in " + host + ": " + describe({shell}, r));
  return r.out;
}

pid_t Topology::spawn(const std::string& host, const std::vector<std::string>& argv,
                      const std::string& logFile, const std::vector<std::string>& env) {
  if (argv.empty()) throw std::invalid_argument("empty argv");
  Fd ns(::open(nsPath(host).c_str(), O_RDONLY | O_CLOEXEC));
  if (ns.get() < 0) failErrno("open " + nsPath(host));
  Fd log(::open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log.get() < 0) failErrno("open " + logFile);
  Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const std::string exe = resolve(argv[0]);
  const auto args = cArgv(argv);
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const pid_t pid = forkExec(exe, args, envp, ns.get(), null.get(), log.get(), log.get(), true);
  spawned_[pid] = std::nullopt;
  return pid;
}

bool Topology::kill(pid_t pid, int sig) {
  const auto it = spawned_.find(pid);
  if (it == spawned_.end() || it->second) return false;
  return ::kill(pid, sig) == 0;
}

bool Topology::stop(pid_t pid) { return kill(pid, SIGSTOP); }
bool Topology::cont(pid_t pid) { return kill(pid, SIGCONT); }

std::optional<ExitStatus> Topology::waitExit(pid_t pid, Ms timeout) {
  const auto it = spawned_.find(pid);
  if (it == spawned_.end()) throw std::invalid_argument("pid not spawned here");
  if (it->second) return it->second;
  if (auto s = waitPidFor(pid, timeout)) it->second = toExit(*s);
  return it->second;
}

bool Topology::running(pid_t pid) {
  const auto it = spawned_.find(pid);
  if (it == spawned_.end()) return false;
  if (it->second) return false;
  return !waitExit(pid, Ms(0));
}

void Topology::applyFaults() {
  std::string script =
      std::string("table bridge ") + kFaultTable + "\ndelete table bridge " + kFaultTable + "\n";
  if (!blocked_.empty()) {
    script += std::string("table bridge ") + kFaultTable +
              " {\n chain forward {\n  type filter hook forward priority -200; policy accept;\n";
    for (const auto& [from, to] : blocked_) {
      script += "  iifname \"" + from + "\" oifname \"" + to + "\" drop\n";
    }
    script += " }\n}\n";
  }
  const std::vector<std::string> argv{"nft", "-f", "-"};
  auto r = runCommand(nsPath(kSwitch), argv, script, Ms(5000));
  if (!r.ok()) throw std::runtime_error(describe(argv, r) + "\n" + script);
}

void Topology::block(const std::string& from, const std::string& to) {
  (void)host(from);
  (void)host(to);
  if (from == to) return;
  if (blocked_.emplace(from, to).second) applyFaults();
}

void Topology::unblock(const std::string& from, const std::string& to) {
  if (blocked_.erase({from, to})) applyFaults();
}

void Topology::partition(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  bool changed = false;
  for (const auto& x : a) {
    for (const auto& y : b) {
      (void)host(x);
      (void)host(y);
      if (x == y) continue;
      changed |= blocked_.emplace(x, y).second;
      changed |= blocked_.emplace(y, x).second;
    }
  }
  if (changed) applyFaults();
}

void Topology::isolate(const std::string& h) {
  std::vector<std::string> others;
  for (const auto& n : order_) {
    if (n != h) others.push_back(n);
  }
  partition({h}, others);
}

void Topology::heal() {
  blocked_.clear();
  applyFaults();
}

bool Topology::blocked(const std::string& from, const std::string& to) const {
  return blocked_.count({from, to}) > 0;
}

void Topology::linkDown(const std::string& h) {
  check(h, "ip link set dev " + host(h).ifname + " down");
}

void Topology::linkUp(const std::string& h) {
  check(h, "ip link set dev " + host(h).ifname + " up");
  waitForPorts({h}, Ms(5000));
}

// --- Reachability ---

namespace {

std::uint16_t checksum(const void* data, std::size_t len) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (len & 1) sum += p[len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<std::uint16_t>(~sum));
}

bool pollIn(int fd, Clock::time_point until) {
  const auto left = std::chrono::duration_cast<Ms>(until - Clock::now()).count();
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(std::max<long>(0, left))) > 0;
}

}  // namespace

bool ping(const Topology& topo, const std::string& from, const std::string& dst, Ms timeout) {
  const bool v6 = dst.find(':') != std::string::npos;
  sockaddr_storage to{};
  socklen_t toLen = 0;
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&to);
    s6->sin6_family = AF_INET6;
    if (::inet_pton(AF_INET6, dst.c_str(), &s6->sin6_addr) != 1) return false;
    toLen = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&to);
    s4->sin_family = AF_INET;
    if (::inet_pton(AF_INET, dst.c_str(), &s4->sin_addr) != 1) return false;
    toLen = sizeof *s4;
  }
  Fd fd(topo.inHost(from, [v6] {
    const int s = v6 ? ::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6)
                     : ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (s < 0) failErrno("raw ICMP socket");
    return s;
  }));
  static std::atomic<std::uint16_t> ids{static_cast<std::uint16_t>(::getpid())};
  const std::uint16_t id = ids++;
  const auto deadline = Clock::now() + timeout;
  for (std::uint16_t seq = 1;; ++seq) {
    std::uint8_t pkt[16]{};
    pkt[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
    pkt[4] = id >> 8;
    pkt[5] = id & 0xff;
    pkt[6] = seq >> 8;
    pkt[7] = seq & 0xff;
    if (!v6) {
      const std::uint16_t c = checksum(pkt, sizeof pkt);
      std::memcpy(pkt + 2, &c, 2);
    }
    if (::sendto(fd.get(), pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&to), toLen) < 0) {
      return false;  // no route, unreachable
    }
    const auto next = std::min(deadline, Clock::now() + Ms(50));
    while (pollIn(fd.get(), next)) {
      std::uint8_t buf[1500];
      sockaddr_storage src{};
      socklen_t srcLen = sizeof src;
      const ssize_t n =
          ::recvfrom(fd.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&src), &srcLen);
      if (n <= 0) continue;
      const std::uint8_t* icmp = buf;
      std::size_t len = static_cast<std::size_t>(n);
      if (!v6) {  // IPv4 raw sockets deliver the IP header
        const std::size_t ihl = (buf[0] & 0x0f) * 4u;
        if (len < ihl + 8) continue;
        icmp += ihl;
        len -= ihl;
        const auto* s4 = reinterpret_cast<sockaddr_in*>(&src);
        if (s4->sin_addr.s_addr != reinterpret_cast<sockaddr_in*>(&to)->sin_addr.s_addr) continue;
      } else {
        const auto* s6 = reinterpret_cast<sockaddr_in6*>(&src);
        if (std::memcmp(&s6->sin6_addr, &reinterpret_cast<sockaddr_in6*>(&to)->sin6_addr, 16)) {
          continue;
        }
      }
      if (len < 8) continue;
      const std::uint8_t reply = v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY;
      if (icmp[0] == reply && icmp[4] == (id >> 8) && icmp[5] == (id & 0xff)) return true;
    }
    if (Clock::now() >= deadline) return false;
  }
}

namespace {

sockaddr_in v4(const std::string& ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) throw std::invalid_argument(ip);
  return a;
}

// A socket of `type` bound to ip:0 inside `host`, with its port.
std::pair<int, std::uint16_t> boundSocket(const Topology& topo, const std::string& host, int type,
                                          bool listen) {
  return topo.inHost(host, [&] {
    const int s = ::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) failErrno("socket");
    auto a = v4(topo.host(host).ipv4, 0);
    socklen_t len = sizeof a;
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        (listen && ::listen(s, 16) != 0) ||
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(s);
      failErrno("bind/listen in " + host);
    }
    return std::make_pair(s, ntohs(a.sin_port));
  });
}

}  // namespace

bool tcpConnects(const Topology& topo, const std::string& from, const std::string& to, Ms timeout) {
  const auto [lfd, port] = boundSocket(topo, to, SOCK_STREAM, true);
  Fd listener(lfd);
  Fd c(topo.inHost(from, [] {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) failErrno("socket");
    return s;
  }));
  auto dst = v4(topo.host(to).ipv4, port);
  if (::connect(c.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{c.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(c.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0;
}

bool udpDelivered(const Topology& topo, const std::string& from, const std::string& to,
                  Ms timeout) {
  const auto [rfd, port] = boundSocket(topo, to, SOCK_DGRAM, false);
  Fd receiver(rfd);
  Fd sender(boundSocket(topo, from, SOCK_DGRAM, false).first);
  auto dst = v4(topo.host(to).ipv4, port);
  const auto deadline = Clock::now() + timeout;
  do {
    static const char msg[] = "qtb";
    ::sendto(sender.get(), msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    if (pollIn(receiver.get(), std::min(deadline, Clock::now() + Ms(20)))) return true;
  } while (Clock::now() < deadline);
  return false;
}

}  // namespace quorate::netns
