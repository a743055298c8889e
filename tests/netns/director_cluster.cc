// Config files, processes and status queries for real daemons in the netns test bed.
#include "netns/director_cluster.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace quorate::netns {
namespace {

const char* kSecret = "netns-test-secret-7c1f09d2";

// Owner only: the daemons refuse a key file that others can read.
void writeFile(const std::string& path, const std::string& text) {
  {
    std::ofstream f(path);
    f << text;
    if (!f) throw std::runtime_error("cannot write " + path);
  }
  if (::chmod(path.c_str(), 0600) != 0) throw std::runtime_error("cannot chmod " + path);
}

}  // namespace

std::string binDir() {
  if (const char* d = std::getenv("QUORATE_BIN_DIR")) return d;
#ifdef QUORATE_BIN_DIR
  return QUORATE_BIN_DIR;
#else
  return "build/bin";
#endif
}

DirectorCluster::DirectorCluster(Topology& topo, ClusterOptions options)
    : topo_(topo), options_(std::move(options)) {
  writeConfigs();
}

namespace {

// A sanitizer's report in a daemon's log or a client's output (the sanitized build of
// scripts/sanitize.sh): a failure of the test, even when the test expected that process to die
// (an abort looks like a crash to a failover test). The markers are the sanitizers' own words.
void expectNoSanitizerReport(const std::string& where, const std::string& text) {
  static const std::regex kReport(
      "(ERROR: (AddressSanitizer|LeakSanitizer)|SUMMARY: (AddressSanitizer|"
      "UndefinedBehaviorSanitizer|ThreadSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer)");
  std::smatch m;
  if (!std::regex_search(text, m, kReport)) return;
  const auto at = static_cast<std::size_t>(m.position(0));
  const std::size_t from = text.rfind('\n', at > 2000 ? at - 2000 : 0);
  ADD_FAILURE() << "sanitizer report in " << where << ":\n"
                << text.substr(from == std::string::npos ? 0 : from, 6000);
}

}  // namespace

DirectorCluster::~DirectorCluster() {
  for (const auto& [host, pid] : pids_) {
    topo_.kill(pid, SIGKILL);
    topo_.waitExit(pid, Ms(2000));
  }
  for (const char* h : {"alpha", "beta", "arbiter"}) {
    std::ifstream f(logPath(h));
    const std::string log((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    expectNoSanitizerReport(logPath(h), log);
  }
  const bool failed = ::testing::Test::HasFailure();
  if (failed || keep_ || std::getenv("QUORATE_KEEP_LOGS")) {
    tmp_.keep();
    std::fprintf(stderr, "daemon logs and configs kept in %s\n", dir_.c_str());
    for (const char* h : {"alpha", "beta", "arbiter"}) {
      std::fprintf(stderr, "---- %s (last lines) ----\n%s\n", h, logTail(h).c_str());
    }
  }
}

void DirectorCluster::writeConfigs() {
  writeFile(dir_ + "/secret", kSecret);
  std::ostringstream a;
  a << "listen: " << topo_.host(kArbiter).ipv4 << ":7100\n"
    << "state_dir: " << dir_ << "/state/arbiter\n"
    << "quarantine_ms: " << options_.quarantineMs << "\n"
    << "log_level: " << options_.logLevel << "\n"
    << "clusters:\n  - id: netns\n    secret_file: " << dir_ << "/secret\n";
  writeFile(dir_ + "/arbiter.yaml", a.str());
  for (const auto& d : {kAlpha, kBeta}) writeFile(dir_ + "/" + d + ".yaml", directorYaml(d));
}

std::string DirectorCluster::directorYaml(const std::string& self) const {
  const auto& o = options_;
  std::ostringstream y;
  y << "cluster: netns\nnode: " << self << "\nsecret_file: " << dir_ << "/secret\n"
    << "listen: " << topo_.host(self).ipv4 << ":7101\n"
    << "state_dir: " << dir_ << "/state/" << self << "\n"
    << "operator: {socket: " << stateDir(self) << "/director.sock}\n"
    << "directors:\n"
    << "  - {id: alpha, address: \"" << topo_.host(kAlpha).ipv4 << ":7101\"}\n"
    << "  - {id: beta, address: \"" << topo_.host(kBeta).ipv4 << ":7101\"}\n"
    << "arbiter: {address: \"" << topo_.host(kArbiter).ipv4 << ":7100\"}\n"
    << "timers:\n"
    << "  holder_lease_ms: " << o.holderLeaseMs << "\n"
    << "  acceptor_lease_ms: " << o.acceptorLeaseMs << "\n"
    << "  quarantine_ms: " << o.quarantineMs << "\n"
    << "  renew_interval_ms: " << o.renewIntervalMs << "\n";
  if (!o.preferred.empty()) y << "preferred: " << o.preferred << "\n";
  if (o.preemptDelayMs) y << "preempt_delay_ms: " << *o.preemptDelayMs << "\n";
  if (!o.instances.empty()) {
    y << "instances:\n";
    for (const auto& i : o.instances) {
      y << "  - name: " << i.name << "\n    vips:\n";
      for (const auto& v : i.vips) y << "      - {address: \"" << v << "\", device: eth0}\n";
      if (!i.preferred.empty()) y << "    preferred: " << i.preferred << "\n";
      if (i.vrid) {
        y << "    vrrp: {vrid: " << i.vrid << (i.useVmac ? ", use_vmac: true" : "");
        if (i.advertIntervalMs) y << ", advert_interval_ms: " << i.advertIntervalMs;
        y << "}\n";
      }
      if (const auto it = o.instanceKeys.find(i.name); it != o.instanceKeys.end()) {
        for (const auto& k : it->second) y << "    " << k << "\n";
      }
    }
  }
  if (!o.syncGroups.empty()) {
    y << "sync_groups:\n";
    for (const auto& g : o.syncGroups) {
      y << "  - name: " << g.name << "\n    instances: [";
      for (std::size_t k = 0; k < g.instances.size(); ++k) y << (k ? ", " : "") << g.instances[k];
      y << "]\n";
      if (!g.preferred.empty()) y << "    preferred: " << g.preferred << "\n";
    }
  }
  y << "announce: {repeat: " << o.announceRepeat << ", interval_ms: " << o.announceIntervalMs;
  if (o.announceRefreshMs) y << ", refresh_ms: " << o.announceRefreshMs;
  y << "}\n"
    << "fence: " << o.fence << "\n";
  if (!o.trackInterfaces.empty()) {
    y << "track_interfaces: [";
    for (std::size_t k = 0; k < o.trackInterfaces.size(); ++k) {
      y << (k ? ", " : "") << o.trackInterfaces[k];
    }
    y << "]\n";
  }
  y << "log_level: " << o.logLevel << "\n" << o.extraDirectorYaml;
  if (auto it = o.extraYamlFor.find(self); it != o.extraYamlFor.end()) y << it->second;
  return y.str();
}

void DirectorCluster::writeDirectorConfig(const std::string& host, const ClusterOptions& options) {
  // directorYaml reads options_; swap the given options in for the one call.
  ClusterOptions own = options_;
  options_ = options;
  std::string yaml;
  try {
    yaml = directorYaml(host);
  } catch (...) {
    options_ = std::move(own);
    throw;
  }
  options_ = std::move(own);
  writeFile(configPath(host), yaml);
}

void DirectorCluster::startArbiter() {
  pids_[kArbiter] =
      topo_.spawn(kArbiter, {binDir() + "/quorate-arbiter", "--config", dir_ + "/arbiter.yaml"},
                  logPath(kArbiter));
}

void DirectorCluster::startDirector(const std::string& host) {
  pids_[host] = topo_.spawn(
      host, {binDir() + "/" + options_.directorBinary, "--config", dir_ + "/" + host + ".yaml"},
      logPath(host));
}

void DirectorCluster::startAll() {
  startArbiter();
  startDirector(kAlpha);
  // A preferred director wins a cold start only by a head start of one renewal interval; on a
  // loaded machine beta sometimes wins. Tests want a known holder: alpha first, beta once
  // alpha holds (with the arbiter's vote).
  if (!waitUntilHolds(kAlpha, Ms(10'000))) {
    throw std::runtime_error("alpha did not acquire the lease alone with the arbiter");
  }
  startDirector(kBeta);
}

std::optional<pid_t> DirectorCluster::pid(const std::string& host) const {
  auto it = pids_.find(host);
  if (it == pids_.end()) return std::nullopt;
  return it->second;
}

void DirectorCluster::signal(const std::string& host, int sig) {
  auto it = pids_.find(host);
  if (it == pids_.end()) throw std::runtime_error(host + " runs no daemon");
  topo_.kill(it->second, sig);
  if (sig == SIGKILL) {
    topo_.waitExit(it->second, Ms(5000));
    pids_.erase(it);
  }
}

std::optional<ExitStatus> DirectorCluster::terminate(const std::string& host, Ms timeout) {
  auto it = pids_.find(host);
  if (it == pids_.end()) return std::nullopt;
  topo_.kill(it->second, SIGTERM);
  auto st = topo_.waitExit(it->second, timeout);
  if (st) pids_.erase(it);
  return st;
}

CommandResult DirectorCluster::ctl(const std::string& director, const std::string& args) const {
  auto r = topo_.run(
      kClient,
      binDir() + "/quoratectl --endpoint unix:" + stateDir(director) + "/director.sock " + args,
      options_.ctlTimeout);
  expectNoSanitizerReport("quoratectl " + args, r.err);
  return r;
}

std::optional<std::string> DirectorCluster::statusJson(const std::string& director) const {
  auto r = ctl(director, "status --json");
  if (!r.ok()) return std::nullopt;
  return r.out;
}

std::optional<nlohmann::json> DirectorCluster::status(const std::string& director) const {
  const auto text = statusJson(director);
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::optional<std::string> DirectorCluster::holderSeenBy(const std::string& director,
                                                         const std::string& lease) const {
  const auto parsed = status(director);
  if (!parsed) return std::nullopt;
  const nlohmann::json& j = *parsed;
  auto holderOf = [](const nlohmann::json& o) -> std::string {
    const auto& h = o["holder"];
    return h.is_string() ? h.get<std::string>() : "";
  };
  if (lease.empty()) return holderOf(j);
  if (j.contains("leases") && j["leases"].is_array()) {
    for (const auto& l : j["leases"]) {
      if (l.value("name", "") == lease) return holderOf(l);
    }
  }
  return std::nullopt;
}

std::optional<std::string> DirectorCluster::waitForHolder(Ms timeout,
                                                          const std::string& lease) const {
  std::optional<std::string> agreed;
  waitUntil(
      [&] {
        std::optional<std::string> seen;
        for (const auto& d : {kAlpha, kBeta}) {
          if (!pid(d)) continue;
          const auto h = holderSeenBy(d, lease);
          if (!h || h->empty()) return false;
          if (seen && *seen != *h) return false;
          seen = h;
        }
        agreed = seen;
        return seen.has_value();
      },
      timeout, Ms(20));
  return agreed;
}

bool DirectorCluster::waitUntilHolds(const std::string& director, Ms timeout,
                                     const std::string& lease) const {
  return waitUntil([&] { return holderSeenBy(director, lease) == director; }, timeout, Ms(20));
}

std::string DirectorCluster::logTail(const std::string& host, std::size_t lines) const {
  std::ifstream f(logPath(host));
  std::vector<std::string> all;
  for (std::string line; std::getline(f, line);) all.push_back(line);
  std::string out;
  for (std::size_t k = all.size() > lines ? all.size() - lines : 0; k < all.size(); ++k) {
    out += all[k] + "\n";
  }
  return out;
}

}  // namespace quorate::netns
