// quorate_ipvs_bench: programming IPVS, quorate's reconciler against `ipvsadm -R`, side by side in
// one run (docs/bench-ipvs.md; bench/run_ipvs_bench.sh runs it in the test VM).
//
// Table: S TCP services 198.18.x.y:80 (wlc) x D direct-routing real servers each (198.19.x.y:80,
// weight 1), 1,000 x 10 by default. A "1% change" touches 1% of the destinations, each in its own
// service spread over the table: half weight edits, a quarter removals, a quarter new addresses.
//
// Per trial (the two halves alternate which goes first, so drift hits both alike):
//   quorate, in a fresh network namespace (an empty, private IPVS):
//     full      Reconciler::sync(A) from the empty table (its read of the empty table included)
//     dump      Ipvs::dump() of the full table (what a periodic drift-repair read costs)
//     noop      Reconciler::update(A) with nothing to change (the fixed cost of the quick path)
//     update    Reconciler::update(A1), A1 = A + 1% change (planned against its own record)
//     sync      Reconciler::sync(A2), A2 = A1 + another 1% change (read + plan + apply)
//     plan      plan(A1, table A as read, owned), alone, for the breakdown of `update`
//     flushed   ipvsadm -C (not timed), then a new Reconciler's sync(A) in the same namespace
//   ipvsadm, in another fresh network namespace:
//     full      ipvsadm -R < A (1 -A line per service, 1 -a line per destination)
//     delta     ipvsadm -R < the A -> A1 change (-e / -d / -a lines)
//     reload    ipvsadm -C; ipvsadm -R < A, from A1 (the naive reload: flush, load all)
//     start     ipvsadm -R < /dev/null (the cost of starting the process at all)
// Each result is checked with a dump against the table it should be (the bench fails loudly
// otherwise); checks, flushes and namespace changes are not timed. Every ipvsadm run is a child
// process timed by the wall clock from fork to wait.
//
// Why a fresh namespace per load rather than `ipvsadm -C` before it: the kernel moves deleted
// destinations to a per-namespace "trash" list for 1-3 minutes, and every add of a destination
// scans that list (ip_vs_trash_get_dest) - after a flush of 10,000 destinations a reload pays
// for it. A new namespace is the empty table of a freshly booted director. The `reload` and
// `flushed` figures keep the trash (that is what a flush-and-reload costs); the old namespaces
// are kept open (flushed) until the end so that their teardown does not run during a measurement.
//
// Needs root and a kernel with IPVS (the test VM); touches only its own namespaces and sends
// nothing on any network (IPVS configuration only). Addresses in 198.18.0.0/15.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "server/ipvs/plan.h"
#include "server/ipvs/reconciler.h"
#include "server/kernel/ipvs.h"

namespace quorate::bench {
namespace {

namespace kipvs = kernel::ipvs;
using server::ipvs::DesiredService;
using server::ipvs::Reconciler;
using Clock = std::chrono::steady_clock;
using Table = std::vector<DesiredService>;

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
double toMs(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

struct Options {
  int trials = 10;
  int services = 1000;
  int destinations = 10;  // per service
  double changePercent = 1.0;
  int planRepeats = 5;
  std::string ipvsadm = "/usr/sbin/ipvsadm";
  std::string workDir = "/tmp";
  std::string csv;        // every sample: trial,measurement,ms
  bool inMemory = false;  // quorate only, against an in-memory IPVS: the process's own cost
  int profileLoop = 0;    // after the trials: this many update() calls (A -> A1 -> A ...)
};

// ---------------------------------------------------------------------------
// The table and its changes.

net::IpAddress v4(int a, int b, int c, int d) {
  net::IpAddress ip;
  ip.family = AF_INET;
  ip.bytes[0] = static_cast<std::uint8_t>(a);
  ip.bytes[1] = static_cast<std::uint8_t>(b);
  ip.bytes[2] = static_cast<std::uint8_t>(c);
  ip.bytes[3] = static_cast<std::uint8_t>(d);
  return ip;
}

// Hosts .1 to .200 of each /24, so that no address ends in .0 or .255.
net::IpAddress serviceAddress(int i) { return v4(198, 18, i / 200, i % 200 + 1); }
net::IpAddress realAddress(int k) { return v4(198, 19, k / 200, k % 200 + 1); }
constexpr int kNewRealBase = 128 * 200;  // new real servers: 198.19.128.1 and up

kipvs::Destination destination(const net::IpAddress& address, int weight) {
  kipvs::Destination d;
  d.address = address;
  d.port = 80;
  d.forward = kipvs::Forward::Direct;
  d.weight = weight;
  return d;
}

Table fullTable(const Options& o) {
  Table t;
  t.reserve(static_cast<std::size_t>(o.services));
  for (int i = 0; i < o.services; ++i) {
    DesiredService s;
    s.service.key = kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, serviceAddress(i), 80);
    s.service.scheduler = "wlc";
    for (int j = 0; j < o.destinations; ++j) {
      s.destinations.push_back(destination(realAddress(i * o.destinations + j), 1));
    }
    t.push_back(std::move(s));
  }
  return t;
}

struct Change {
  enum class Kind { Edit, Remove, Add } kind;
  std::size_t service;
  kipvs::Destination dest;  // edit: the new settings; remove: the one removed; add: the new one
};

// Change set `which` (0, 1, ...) of `n` changes against table `t`: one per service, services
// spread evenly (set 1 sits between the services of set 0); the first half edits a weight, the
// next quarter removes a destination, the last quarter adds a new address.
std::vector<Change> changeSet(const Table& t, int n, int which) {
  std::vector<Change> out;
  const std::size_t s = t.size();
  const std::size_t stride = s / static_cast<std::size_t>(n);
  for (int j = 0; j < n; ++j) {
    const std::size_t svc = (static_cast<std::size_t>(j) * stride + which * stride / 2) % s;
    const auto& dests = t[svc].destinations;
    if (dests.empty()) fail("change set: service without destinations");
    Change c{Change::Kind::Edit, svc, {}};
    if (j < n / 2) {
      c.dest = dests[static_cast<std::size_t>(j) % dests.size()];
      c.dest.weight = c.dest.weight == 1 ? 2 + which : 1;
    } else if (j < n / 2 + n / 4) {
      c.kind = Change::Kind::Remove;
      c.dest = dests[static_cast<std::size_t>(j) % dests.size()];
    } else {
      c.kind = Change::Kind::Add;
      c.dest = destination(realAddress(kNewRealBase + which * n + j), 1);
    }
    out.push_back(c);
  }
  return out;
}

Table applied(Table t, const std::vector<Change>& changes) {
  for (const auto& c : changes) {
    auto& dests = t[c.service].destinations;
    const auto it = std::find_if(dests.begin(), dests.end(), [&](const kipvs::Destination& d) {
      return d.address == c.dest.address && d.port == c.dest.port;
    });
    switch (c.kind) {
      case Change::Kind::Edit:
        if (it == dests.end()) fail("change set: edit of a missing destination");
        *it = c.dest;
        break;
      case Change::Kind::Remove:
        if (it == dests.end()) fail("change set: removal of a missing destination");
        dests.erase(it);
        break;
      case Change::Kind::Add:
        if (it != dests.end()) fail("change set: add of an existing destination");
        dests.push_back(c.dest);
        break;
    }
  }
  return t;
}

std::size_t destinationCount(const Table& t) {
  std::size_t n = 0;
  for (const auto& s : t) n += s.destinations.size();
  return n;
}

// ipvsadm -R input: the whole table, or a change set.
std::string svcArg(const kipvs::ServiceKey& k) {
  return "-t " + k.address.toString() + ":" + std::to_string(k.port);
}
std::string destArg(const kipvs::Destination& d) {
  return "-r " + d.address.toString() + ":" + std::to_string(d.port) + " -g -w " +
         std::to_string(d.weight);
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) fail("cannot write " + path);
}

std::string restoreText(const Table& t) {
  std::string s;
  for (const auto& svc : t) {
    s += "-A " + svcArg(svc.service.key) + " -s " + svc.service.scheduler + "\n";
    for (const auto& d : svc.destinations)
      s += "-a " + svcArg(svc.service.key) + " " + destArg(d) + "\n";
  }
  return s;
}

std::string deltaText(const Table& t, const std::vector<Change>& changes) {
  std::string s;
  for (const auto& c : changes) {
    const std::string svc = svcArg(t[c.service].service.key);
    switch (c.kind) {
      case Change::Kind::Edit:
        s += "-e " + svc + " " + destArg(c.dest) + "\n";
        break;
      case Change::Kind::Remove:
        s += "-d " + svc + " -r " + c.dest.address.toString() + ":" + std::to_string(c.dest.port) +
             "\n";
        break;
      case Change::Kind::Add:
        s += "-a " + svc + " " + destArg(c.dest) + "\n";
        break;
    }
  }
  return s;
}

// ---------------------------------------------------------------------------
// The kernel side: namespaces, checks, ipvsadm.

// Moves this (single-threaded) process into a new network namespace with lo up; keeps the old
// one open (see the top of the file) in `kept`.
void freshNamespace(std::vector<int>& kept) {
  const int old = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (old < 0) fail(std::string("open /proc/self/ns/net: ") + std::strerror(errno));
  kept.push_back(old);
  if (::unshare(CLONE_NEWNET) != 0)
    fail(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno));
  // Without lo up a new namespace has no local routing table: every address is "not unicast"
  // and IPVS refuses the real servers.
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
    fail(std::string("SIOCGIFFLAGS lo: ") + std::strerror(errno));
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
    fail(std::string("SIOCSIFFLAGS lo: ") + std::strerror(errno));
  ::close(fd);
}

// "" if the kernel's table is `want` (services, schedulers, destinations with forwarding and
// weight), else what differs first and the counts.
std::string difference(const std::vector<kipvs::ServiceState>& got, const Table& want) {
  using Dests = std::map<std::pair<net::IpAddress, std::uint16_t>, std::pair<kipvs::Forward, int>>;
  std::map<kipvs::ServiceKey, std::pair<std::string, Dests>> g, w;
  std::size_t gotDests = 0;
  for (const auto& s : got) {
    auto& e = g[server::ipvs::normalized(s.service.key)];
    e.first = s.service.scheduler;
    for (const auto& d : s.destinations) {
      e.second[{d.dest.address, d.dest.port}] = {d.dest.forward, d.dest.weight};
      ++gotDests;
    }
  }
  for (const auto& s : want) {
    auto& e = w[server::ipvs::normalized(s.service.key)];
    e.first = s.service.scheduler;
    for (const auto& d : s.destinations) e.second[{d.address, d.port}] = {d.forward, d.weight};
  }
  if (g == w) return "";
  std::string first;
  for (const auto& [k, v] : w) {
    const auto it = g.find(k);
    if (it == g.end()) {
      first = "missing service " + k.toString();
      break;
    }
    if (it->second.first != v.first) {
      first = "scheduler of " + k.toString();
      break;
    }
    if (it->second.second != v.second) {
      first = "destinations of " + k.toString();
      break;
    }
  }
  if (first.empty()) {
    for (const auto& [k, v] : g) {
      if (!w.count(k)) {
        first = "extra service " + k.toString();
        break;
      }
    }
  }
  return first + " (kernel: " + std::to_string(got.size()) + " services, " +
         std::to_string(gotDests) + " destinations; expected " + std::to_string(want.size()) +
         ", " + std::to_string(destinationCount(want)) + ")";
}

// Runs `argv` with stdin from `input` (stdout discarded, stderr kept); the wall-clock ms from
// fork to wait. Fails unless it exits 0.
double runTimed(const std::vector<std::string>& argv, const std::string& input,
                const std::string& errPath) {
  const int in = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) fail("open " + input + ": " + std::strerror(errno));
  const int err = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (err < 0 || null < 0) fail("open " + errPath + " or /dev/null: " + std::strerror(errno));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  const auto t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in, 0);
    ::dup2(null, 1);
    ::dup2(err, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  const pid_t waited = pid > 0 ? ::waitpid(pid, &status, 0) : -1;
  const double ms = msSince(t0);
  ::close(in);
  ::close(err);
  ::close(null);
  if (pid < 0 || waited != pid) fail(std::string("fork/wait: ") + std::strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream e(errPath);
    std::stringstream text;
    text << e.rdbuf();
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    fail(cmd + "< " + input + ": exit status " + std::to_string(status) + ": " + text.str());
  }
  return ms;
}

// ---------------------------------------------------------------------------
// The reconciler's port, timed: how much of a reconciler call is the kernel's.

class TimingIpvs final : public kipvs::Ipvs {
 public:
  struct Tally {
    Clock::duration dump{}, apply{};
    std::size_t dumps = 0, applies = 0, ops = 0;
  };
  explicit TimingIpvs(std::unique_ptr<kipvs::Ipvs> inner) : inner_(std::move(inner)) {}
  Tally take() { return std::exchange(tally_, Tally{}); }

  Result<kipvs::Info> info() override { return inner_->info(); }
  Result<std::vector<kipvs::ServiceState>> dump() override {
    const auto t0 = Clock::now();
    auto r = inner_->dump();
    tally_.dump += Clock::now() - t0;
    ++tally_.dumps;
    return r;
  }
  Result<std::vector<Status>> apply(const std::vector<kipvs::Op>& ops, bool tolerant) override {
    const auto t0 = Clock::now();
    auto r = inner_->apply(ops, tolerant);
    tally_.apply += Clock::now() - t0;
    ++tally_.applies;
    tally_.ops += ops.size();
    return r;
  }
  Result<std::vector<kipvs::SyncDaemon>> syncDaemons() override { return inner_->syncDaemons(); }
  Status startSyncDaemon(const kipvs::SyncDaemon& d) override { return inner_->startSyncDaemon(d); }
  Status stopSyncDaemon(kipvs::SyncRole role) override { return inner_->stopSyncDaemon(role); }

 private:
  std::unique_ptr<kipvs::Ipvs> inner_;
  Tally tally_;
};

// The kernel's table in this process (--in-memory): what is left of a reconciler call is the
// process's own work, measured natively, no root or IPVS needed. Tolerant semantics as
// NetlinkIpvs (an add of what exists edits it, a delete of what is missing succeeds).
class MemoryIpvs final : public kipvs::Ipvs {
 public:
  using Endpoint = std::pair<net::IpAddress, std::uint16_t>;
  struct Entry {
    kipvs::Service service;
    std::map<Endpoint, kipvs::Destination> destinations;
  };
  using State = std::map<kipvs::ServiceKey, Entry>;
  explicit MemoryIpvs(std::shared_ptr<State> state) : state_(std::move(state)) {}

  Result<kipvs::Info> info() override { return kipvs::Info{0x010201, 4096}; }
  Result<std::vector<kipvs::ServiceState>> dump() override {
    std::vector<kipvs::ServiceState> out;
    out.reserve(state_->size());
    for (const auto& [k, e] : *state_) {
      kipvs::ServiceState s;
      s.service = e.service;
      s.service.flags |= kipvs::flag::kHashed;
      for (const auto& [ep, d] : e.destinations) s.destinations.push_back({d, 0, 0, 0, {}});
      out.push_back(std::move(s));
    }
    return out;
  }
  Result<std::vector<Status>> apply(const std::vector<kipvs::Op>& ops, bool tolerant) override {
    using K = kipvs::Op::Kind;
    std::vector<Status> out(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const auto& op = ops[i];
      auto svc = state_->find(op.service.key);
      int err = 0;
      if (op.kind == K::AddService || op.kind == K::EditService) {
        if (svc != state_->end() && op.kind == K::AddService && !tolerant)
          err = EEXIST;
        else if (svc == state_->end() && op.kind == K::EditService && !tolerant)
          err = ESRCH;
        else
          (*state_)[op.service.key].service = op.service;
      } else if (op.kind == K::DeleteService) {
        if (svc != state_->end())
          state_->erase(svc);
        else if (!tolerant)
          err = ESRCH;
      } else if (svc == state_->end()) {
        err = op.kind == K::DeleteDestination && tolerant ? 0 : ESRCH;
      } else {
        auto& dests = svc->second.destinations;
        const Endpoint ep{op.destination.address, op.destination.port};
        const bool has = dests.count(ep) > 0;
        if (op.kind == K::DeleteDestination) {
          if (has)
            dests.erase(ep);
          else if (!tolerant)
            err = ENOENT;
        } else if ((op.kind == K::AddDestination && has && !tolerant) ||
                   (op.kind == K::EditDestination && !has && !tolerant)) {
          err = op.kind == K::AddDestination ? EEXIST : ENOENT;
        } else {
          dests[ep] = op.destination;
        }
      }
      if (err != 0) out[i] = Status::fail(err, op.toString());
    }
    return out;
  }
  Result<std::vector<kipvs::SyncDaemon>> syncDaemons() override {
    return std::vector<kipvs::SyncDaemon>{};
  }
  Status startSyncDaemon(const kipvs::SyncDaemon&) override { return Status::ok(); }
  Status stopSyncDaemon(kipvs::SyncRole) override { return Status::ok(); }

 private:
  std::shared_ptr<State> state_;
};

// Where the quorate half's IPVS comes from: the kernel (netlink, in the current namespace) or
// one in-memory table per trial.
struct Backend {
  std::shared_ptr<MemoryIpvs::State> memory;  // null: the kernel
  std::unique_ptr<kipvs::Ipvs> make() const {
    if (memory) return std::make_unique<MemoryIpvs>(memory);
    return kipvs::makeNetlinkIpvs();
  }
};

void expectTable(const Backend& b, const Table& want, const std::string& after) {
  auto ipvs = b.make();
  auto got = ipvs->dump();
  if (!got) fail("check after " + after + ": dump failed: " + got.status().message());
  const std::string d = difference(*got, want);
  if (!d.empty()) fail("check after " + after + ": the kernel's table is wrong: " + d);
}
void expectTable(const Table& want, const std::string& after) {
  expectTable(Backend{}, want, after);
}

// ---------------------------------------------------------------------------
// Samples and their summary.

struct Measure {
  std::string id;     // CSV / JSON name
  std::string label;  // table row
};

// In print order. `.kernel` / `.user` rows split a reconciler call into the time inside
// Ipvs::dump/apply (netlink and the kernel) and the rest (this process: plan, record keeping).
const std::vector<Measure> kMeasures = {
    {"q_full", "quorate sync(): full load from empty"},
    {"q_full_kernel", "  of which dump + apply (netlink, kernel)"},
    {"q_full_user", "  of which in the process (plan, records)"},
    {"q_full_flushed", "quorate sync(): full load right after ipvsadm -C (kernel trash full)"},
    {"r_full", "ipvsadm -R: full load from empty"},
    {"r_start", "ipvsadm -R < /dev/null (process start only)"},
    {"r_reload", "ipvsadm -C + ipvsadm -R (flush and reload)"},
    {"q_update", "quorate update(): 1% change"},
    {"q_update_kernel", "  of which apply (netlink, kernel)"},
    {"q_update_user", "  of which in the process"},
    {"q_plan", "  plan() alone on the same input"},
    {"q_noop", "quorate update(): nothing to change"},
    {"q_sync", "quorate sync(): 1% change (read + plan + apply)"},
    {"q_sync_dump", "  of which dump (read the table)"},
    {"q_sync_apply", "  of which apply"},
    {"q_sync_user", "  of which in the process"},
    {"r_delta", "ipvsadm -R: the 1% change (-e/-d/-a lines)"},
    {"q_dump", "quorate dump() of the full table"},
};

struct Samples {
  std::map<std::string, std::vector<double>> ms;
  void add(const std::string& id, double v) { ms[id].push_back(v); }
};

double quantile(std::vector<double> v, double q) {  // nearest rank
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}
double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string fmt(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// ---------------------------------------------------------------------------
// One trial.

struct Inputs {
  Table a, a1, a2;
  std::vector<Change> change1;
  std::string fullFile, deltaFile, errFile;
  std::set<kipvs::ServiceKey> ownedA;
};

void quorateHalf(const Options& o, const Inputs& in, const Backend& b, Samples& s,
                 std::map<std::string, double>& row) {
  auto put = [&](const std::string& id, double v) {
    s.add(id, v);
    row[id] = v;
  };
  TimingIpvs ipvs(b.make());
  Reconciler r(ipvs);

  auto t0 = Clock::now();
  auto full = r.sync(in.a);
  double ms = msSince(t0);
  auto tally = ipvs.take();
  if (!full) fail("quorate full load: " + full.status().message());
  if (full->failed != 0)
    fail("quorate full load: " + std::to_string(full->failed) +
         " ops failed: " + full->errors.front());
  put("q_full", ms);
  put("q_full_kernel", toMs(tally.dump + tally.apply));
  put("q_full_user", ms - toMs(tally.dump + tally.apply));
  expectTable(b, in.a, "quorate's full load");

  // The full read, as a periodic drift repair does it; the result feeds plan() below.
  t0 = Clock::now();
  auto table = ipvs.dump();
  put("q_dump", msSince(t0));
  ipvs.take();
  if (!table) fail("dump: " + table.status().message());

  // The quick path with nothing to do: its fixed cost.
  t0 = Clock::now();
  auto noop = r.update(in.a);
  ms = msSince(t0);
  tally = ipvs.take();
  if (!noop || noop->planned != 0 || tally.dumps != 0) fail("quorate no-op update: not a no-op");
  put("q_noop", ms);

  t0 = Clock::now();
  auto up = r.update(in.a1);
  ms = msSince(t0);
  tally = ipvs.take();
  if (!up) fail("quorate update: " + up.status().message());
  if (up->failed != 0)
    fail("quorate update: " + std::to_string(up->failed) + " ops failed: " + up->errors.front());
  if (tally.dumps != 0) fail("quorate update read the kernel's table (expected no read)");
  if (up->planned != in.change1.size()) {
    fail("quorate update planned " + std::to_string(up->planned) + " ops, expected " +
         std::to_string(in.change1.size()));
  }
  put("q_update", ms);
  put("q_update_kernel", toMs(tally.apply));
  put("q_update_user", ms - toMs(tally.apply));
  expectTable(b, in.a1, "quorate's 1% update");

  // plan() alone on what update() planned from: the table as read (A) and the owned keys.
  std::vector<double> plans;
  for (int i = 0; i < o.planRepeats; ++i) {
    t0 = Clock::now();
    auto ops = server::ipvs::plan(in.a1, *table, in.ownedA);
    plans.push_back(msSince(t0));
    if (ops.size() != in.change1.size()) fail("plan() alone: unexpected op count");
  }
  put("q_plan", median(plans));

  t0 = Clock::now();
  auto sy = r.sync(in.a2);
  ms = msSince(t0);
  tally = ipvs.take();
  if (!sy) fail("quorate 1% sync: " + sy.status().message());
  if (sy->failed != 0)
    fail("quorate 1% sync: " + std::to_string(sy->failed) + " ops failed: " + sy->errors.front());
  put("q_sync", ms);
  put("q_sync_dump", toMs(tally.dump));
  put("q_sync_apply", toMs(tally.apply));
  put("q_sync_user", ms - toMs(tally.dump + tally.apply));
  expectTable(b, in.a2, "quorate's 1% sync");

  if (b.memory) return;
  runTimed({o.ipvsadm, "-C"}, "/dev/null", in.errFile);  // not timed

  // The same full load again in this namespace, right after the flush: the kernel's trash
  // now holds the flushed destinations (see the top of the file).
  TimingIpvs again(b.make());
  Reconciler r2(again);
  t0 = Clock::now();
  auto reload = r2.sync(in.a);
  ms = msSince(t0);
  if (!reload || reload->failed != 0) fail("quorate full load after a flush failed");
  put("q_full_flushed", ms);
  expectTable(b, in.a, "quorate's full load after a flush");
  runTimed({o.ipvsadm, "-C"}, "/dev/null", in.errFile);  // not timed
}

// For a profiler: a full load, then `n` update() calls alternating between A1 and A (each 100
// ops); prints the median per call and its split.
void profileLoop(const Options& o, const Inputs& in, const Backend& b) {
  TimingIpvs ipvs(b.make());
  Reconciler r(ipvs);
  if (auto full = r.sync(in.a); !full || full->failed != 0) fail("profile loop: full load failed");
  ipvs.take();
  std::vector<double> total, kernelMs;
  for (int i = 0; i < o.profileLoop; ++i) {
    const auto t0 = Clock::now();
    auto up = r.update(i % 2 == 0 ? in.a1 : in.a);
    total.push_back(msSince(t0));
    const auto tally = ipvs.take();
    kernelMs.push_back(toMs(tally.apply + tally.dump));
    if (!up || up->failed != 0 || tally.dumps != 0) fail("profile loop: update failed or read");
  }
  expectTable(b, o.profileLoop % 2 ? in.a1 : in.a, "the profile loop");
  std::cout << "\nprofile loop: " << o.profileLoop << " update() calls of " << in.change1.size()
            << " ops: median " << fmt(median(total), 2) << " ms, of which dump + apply "
            << fmt(median(kernelMs), 2) << " ms\n";
  if (!b.memory) runTimed({o.ipvsadm, "-C"}, "/dev/null", in.errFile);
}

void ipvsadmHalf(const Options& o, const Inputs& in, Samples& s,
                 std::map<std::string, double>& row) {
  auto put = [&](const std::string& id, double v) {
    s.add(id, v);
    row[id] = v;
  };
  put("r_full", runTimed({o.ipvsadm, "-R"}, in.fullFile, in.errFile));
  expectTable(in.a, "ipvsadm -R (full)");
  put("r_delta", runTimed({o.ipvsadm, "-R"}, in.deltaFile, in.errFile));
  expectTable(in.a1, "ipvsadm -R (1% change)");
  put("r_reload", runTimed({o.ipvsadm, "-C"}, "/dev/null", in.errFile) +
                      runTimed({o.ipvsadm, "-R"}, in.fullFile, in.errFile));
  expectTable(in.a, "ipvsadm -C + ipvsadm -R");
  put("r_start", runTimed({o.ipvsadm, "-R"}, "/dev/null", in.errFile));
  runTimed({o.ipvsadm, "-C"}, "/dev/null", in.errFile);  // not timed
}

int run(const Options& o) {
  if (o.services < 2 || o.services > 200 * 100 || o.destinations < 1 ||
      static_cast<long>(o.services) * o.destinations > kNewRealBase) {
    fail("table too large for the address plan (services <= 20000, services x destinations <= " +
         std::to_string(kNewRealBase) + ")");
  }
  std::vector<int> kept;  // namespaces left behind, closed at the end
  if (!o.inMemory) {
    if (::geteuid() != 0) fail("needs root (it makes network namespaces and programs IPVS)");
    freshNamespace(kept);
    if (::access("/proc/net/ip_vs", F_OK) != 0) {
      fail(
          "this kernel has no IPVS (no /proc/net/ip_vs): run it in the test VM, "
          "bench/run_ipvs_bench.sh (or only the process's side with --in-memory)");
    }
    if (::access(o.ipvsadm.c_str(), X_OK) != 0) fail("no ipvsadm at " + o.ipvsadm);
  }

  Inputs in;
  in.a = fullTable(o);
  const std::size_t total = destinationCount(in.a);
  const int n = std::max(
      4, static_cast<int>(std::lround(static_cast<double>(total) * o.changePercent / 100)));
  if (n > o.services) fail("more changes than services (one change per service)");
  in.change1 = changeSet(in.a, n, 0);
  in.a1 = applied(in.a, in.change1);
  in.a2 = applied(in.a1, changeSet(in.a1, n, 1));
  for (const auto& svc : in.a) in.ownedA.insert(server::ipvs::normalized(svc.service.key));
  const std::string prefix = o.workDir + "/quorate-ipvs-bench-" + std::to_string(::getpid());
  in.fullFile = prefix + "-full.rules";
  in.deltaFile = prefix + "-delta.rules";
  in.errFile = prefix + "-stderr";
  if (!o.inMemory) {
    writeFile(in.fullFile, restoreText(in.a));
    writeFile(in.deltaFile, deltaText(in.a, in.change1));
  }

  utsname u{};
  ::uname(&u);
  std::cout << "# quorate_ipvs_bench" << (o.inMemory ? " --in-memory" : "") << "\n\n"
            << "- kernel " << u.release << ", " << ::sysconf(_SC_NPROCESSORS_ONLN) << " CPUs; "
            << (o.inMemory ? "IPVS in memory (no kernel, no ipvsadm)" : o.ipvsadm) << "\n"
            << "- table: " << o.services << " TCP services x " << o.destinations
            << " DR real servers = " << total << " destinations (wlc, weight 1)\n"
            << "- change: " << n << " destinations (" << fmt(o.changePercent, 1) << "%): " << n / 2
            << " weight edits, " << n / 4 << " removed, " << n - n / 2 - n / 4
            << " added, one per service; ipvsadm delta file " << n << " lines, full file "
            << o.services + total << " lines\n"
            << "- trials: " << o.trials << " (quorate and ipvsadm halves alternate order)\n\n"
            << std::flush;

  Samples samples;
  std::vector<std::map<std::string, double>> rows;
  for (int t = 0; t < o.trials; ++t) {
    std::map<std::string, double> row;
    const bool quorateFirst = t % 2 == 0;
    for (int half = 0; half < (o.inMemory ? 1 : 2); ++half) {
      Backend b;
      if (o.inMemory) {
        b.memory = std::make_shared<MemoryIpvs::State>();
      } else {
        freshNamespace(kept);
      }
      if (o.inMemory || (half == 0) == quorateFirst) {
        quorateHalf(o, in, b, samples, row);
      } else {
        ipvsadmHalf(o, in, samples, row);
      }
    }
    std::cout << "trial " << t + 1;
    if (!o.inMemory) std::cout << " (" << (quorateFirst ? "quorate" : "ipvsadm") << " first)";
    std::cout << ":";
    for (const char* id : {"q_full", "r_full", "q_update", "q_sync", "r_delta", "q_dump"}) {
      if (row.count(id)) std::cout << " " << id << " " << fmt(row[id]) << " ms";
    }
    std::cout << "\n" << std::flush;
    rows.push_back(std::move(row));
  }
  if (o.profileLoop > 0) {
    Backend b;
    if (o.inMemory) {
      b.memory = std::make_shared<MemoryIpvs::State>();
    } else {
      freshNamespace(kept);
    }
    profileLoop(o, in, b);
  }
  for (int fd : kept) ::close(fd);
  ::unlink(in.fullFile.c_str());
  ::unlink(in.deltaFile.c_str());
  ::unlink(in.errFile.c_str());
  if (rows.empty()) return 0;

  if (!o.csv.empty()) {
    std::ofstream csv(o.csv, std::ios::trunc);
    csv << "trial,measurement,ms\n";
    for (std::size_t t = 0; t < rows.size(); ++t) {
      for (const auto& m : kMeasures) {
        if (rows[t].count(m.id))
          csv << t + 1 << "," << m.id << "," << fmt(rows[t][m.id], 3) << "\n";
      }
    }
  }

  std::cout << "\n| measurement | median ms | p90 ms | max ms | min ms |\n|---|---|---|---|---|\n";
  for (const auto& m : kMeasures) {
    if (!samples.ms.count(m.id)) continue;
    const auto& v = samples.ms[m.id];
    std::cout << "| " << m.label << " | " << fmt(median(v)) << " | " << fmt(quantile(v, 0.9))
              << " | " << fmt(quantile(v, 1.0)) << " | " << fmt(quantile(v, 0.0)) << " |\n";
  }
  // Ratios of the medians, and the median and worst of the per-trial (paired) ratios.
  auto paired = [&](const std::string& num, const std::string& den) {
    std::vector<double> r;
    for (auto& row : rows) r.push_back(row[num] / row[den]);
    return r;
  };
  auto ratioRow = [&](const std::string& label, const std::string& num, const std::string& den,
                      const std::string& goal, std::optional<bool> met, int decimals) {
    const double r = median(samples.ms[num]) / median(samples.ms[den]);
    const auto p = paired(num, den);
    std::cout << "| " << label << " | " << fmt(r, decimals) << " | " << fmt(median(p), decimals)
              << " | " << fmt(quantile(p, 1.0), decimals) << " | " << goal << " | "
              << (met ? (*met ? "yes" : "NO") : "") << " |\n";
    return r;
  };
  const double updateRatio = median(samples.ms["q_update"]) / median(samples.ms["q_full"]);
  const double syncRatio = median(samples.ms["q_sync"]) / median(samples.ms["q_full"]);
  const bool updateOk = updateRatio < 0.02;
  std::cout << "\n| ratio | of medians | paired median | paired max | goal | met |\n"
               "|---|---|---|---|---|---|\n";
  double fullRatio = NAN;
  bool fullOk = false;
  if (!o.inMemory) {
    fullRatio = median(samples.ms["q_full"]) / median(samples.ms["r_full"]);
    fullOk = fullRatio <= 1.0;
    ratioRow("quorate full / ipvsadm -R full", "q_full", "r_full", "<= 1.0", fullOk, 3);
  }
  ratioRow("quorate 1% update / quorate full", "q_update", "q_full", "< 0.02",
           o.inMemory ? std::nullopt : std::optional<bool>(updateOk), 4);
  ratioRow("quorate 1% sync / quorate full", "q_sync", "q_full", "(none)", std::nullopt, 4);
  if (!o.inMemory) {
    ratioRow("ipvsadm -R 1% lines / ipvsadm -R full", "r_delta", "r_full", "(none)", std::nullopt,
             4);
  }

  std::cout << "\nJSON {\"bench\":\"ipvs\",\"mode\":\"" << (o.inMemory ? "in-memory" : "kernel")
            << "\",\"kernel\":\"" << u.release << "\",\"trials\":" << o.trials
            << ",\"services\":" << o.services << ",\"destinations\":" << total
            << ",\"changes\":" << n << ",\"ms\":{";
  bool first = true;
  for (const auto& m : kMeasures) {
    if (!samples.ms.count(m.id)) continue;
    const auto& v = samples.ms[m.id];
    std::cout << (first ? "" : ",") << "\"" << m.id << "\":{\"median\":" << fmt(median(v), 3)
              << ",\"p90\":" << fmt(quantile(v, 0.9), 3) << ",\"max\":" << fmt(quantile(v, 1.0), 3)
              << "}";
    first = false;
  }
  std::cout << "},\"ratios\":{";
  if (!o.inMemory) std::cout << "\"full_vs_ipvsadm\":" << fmt(fullRatio, 4) << ",";
  std::cout << "\"update_vs_full\":" << fmt(updateRatio, 5)
            << ",\"sync_vs_full\":" << fmt(syncRatio, 5) << "}";
  if (!o.inMemory) {
    std::cout << ",\"goals\":{\"full_le_ipvsadm\":" << (fullOk ? "true" : "false")
              << ",\"update_lt_2pct\":" << (updateOk ? "true" : "false") << "}";
  }
  std::cout << "}\n";
  return 0;
}

}  // namespace
}  // namespace quorate::bench

int main(int argc, char** argv) {
  quorate::bench::Options o;
  CLI::App app{
      "quorate_ipvs_bench: quorate's IPVS reconciler against ipvsadm -R (root, IPVS; "
      "run it in the test VM with bench/run_ipvs_bench.sh)"};
  app.add_option("--trials", o.trials, "interleaved trials")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_option("--services", o.services, "virtual services")->capture_default_str();
  app.add_option("--destinations", o.destinations, "real servers per service")
      ->capture_default_str();
  app.add_option("--change-percent", o.changePercent, "share of destinations changed")
      ->check(CLI::Range(0.01, 50.0))
      ->capture_default_str();
  app.add_option("--plan-repeats", o.planRepeats, "runs of plan() alone per trial (median kept)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--ipvsadm", o.ipvsadm, "ipvsadm binary")->capture_default_str();
  app.add_option("--work-dir", o.workDir, "where the ipvsadm input files go")
      ->capture_default_str();
  app.add_option("--csv", o.csv, "write every sample (trial,measurement,ms) to this file");
  app.add_flag("--in-memory", o.inMemory,
               "quorate only, against an in-memory IPVS (no root, no kernel): the process's own "
               "share of each call, natively");
  app.add_option("--profile-loop", o.profileLoop,
                 "after the trials, this many update() calls of the 1% change back and forth "
                 "(for perf record)")
      ->check(CLI::Range(0, 1000000));
  CLI11_PARSE(app, argc, argv);
  try {
    return quorate::bench::run(o);
  } catch (const std::exception& e) {
    std::cerr << "quorate_ipvs_bench: FAILED: " << e.what() << "\n";
    return 1;
  }
}
