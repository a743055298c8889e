// Real quorate daemons on the netns test bed: writes the arbiter's and both directors' configs,
// starts and faults the processes by PID, and asks them for their status through quoratectl
// from the client's namespace.
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "netns/topology.h"
#include "support/temp_dir.h"

namespace quorate::netns {

struct InstanceSpec {
  std::string name;
  std::vector<std::string> vips;  // "198.18.0.10/24" (all on eth0)
  std::string preferred;          // empty: the cluster default (only outside sync groups)
  int vrid = 0;                   // 0: no VRRP adverts
  bool useVmac = false;           // with vrid: VIPs on the macvlan vrrp.<vrid>
  int advertIntervalMs = 0;       // with vrid: 0 is the daemon's default
};

struct SyncGroupSpec {
  std::string name;
  std::vector<std::string> instances;
  std::string preferred;
};

struct ClusterOptions {
  // Fast LAN timers (as deploy/examples/netns).
  int holderLeaseMs = 600;
  int acceptorLeaseMs = 650;
  int quarantineMs = 700;
  int renewIntervalMs = 150;
  std::string preferred = kAlpha;  // empty: none
  std::optional<int> preemptDelayMs;
  std::vector<InstanceSpec> instances = {{"web", {kVip + "/24"}, "", 0}};
  std::vector<SyncGroupSpec> syncGroups;
  std::string fence = "nftables";  // or "none": the unfenced build the checker must catch
  std::vector<std::string> trackInterfaces = {"eth0"};
  std::string extraDirectorYaml;  // appended to both directors' files (e.g. track_scripts)
  // Appended to one director's file only, after extraDirectorYaml (key: "alpha" or "beta").
  std::map<std::string, std::string> extraYamlFor;
  // More keys of an instance (by its name) in both directors' files, one "key: value" a line.
  std::map<std::string, std::vector<std::string>> instanceKeys;
  int announceRepeat = 3;
  int announceIntervalMs = 50;
  int announceRefreshMs = 0;  // 0: no periodic refresh after the burst
  // The director binary in binDir(): "quorate-director-ungated-frames" runs the test-only
  // build whose frames ignore the lease end (tests/netns/CMakeLists.txt).
  std::string directorBinary = "quorate-director";
  std::string logLevel = "info";
  // How long ctl() (and so statusJson, holderSeenBy, waitUntilHolds) lets one quoratectl run;
  // slow machines (a TCG VM) need more.
  Ms ctlTimeout{5000};
};

// Directors run in hosts alpha and beta (listening on their eth0 address, port 7101), the
// arbiter in host arbiter (port 7100). Binaries come from QUORATE_BIN_DIR. Logs and state live
// in a temporary directory that is kept when a test fails or QUORATE_KEEP_LOGS is set (the
// ends of the logs are printed then).
class DirectorCluster {
 public:
  DirectorCluster(Topology& topo, ClusterOptions options = {});
  ~DirectorCluster();

  void startArbiter();
  void startDirector(const std::string& host);
  // Arbiter and alpha, then beta once alpha holds the first lease: alpha is the holder.
  void startAll();

  // The daemon's PID in `host` (alpha, beta, arbiter), if started and not reaped.
  std::optional<pid_t> pid(const std::string& host) const;
  // Signals the daemon; SIGKILL also reaps it (so it can be started again).
  void signal(const std::string& host, int sig);
  // SIGTERM and wait for a clean exit (the holder hands over first); returns its exit status.
  std::optional<ExitStatus> terminate(const std::string& host, Ms timeout = Ms(5000));

  // `quoratectl status --json` against a director, run in the client's namespace; nullopt when
  // it cannot be reached. Returns the raw JSON text.
  std::optional<std::string> statusJson(const std::string& director) const;
  // statusJson() parsed (nullopt: unreachable, or not JSON).
  std::optional<nlohmann::json> status(const std::string& director) const;
  // The holder of `lease` ("" = the first lease) as `director` reports it ("" = nobody, nullopt
  // = unreachable).
  std::optional<std::string> holderSeenBy(const std::string& director,
                                          const std::string& lease = "") const;
  // Waits until both directors that are running agree on a holder of `lease`; returns it.
  std::optional<std::string> waitForHolder(Ms timeout, const std::string& lease = "") const;
  // Waits until `director` reports itself as holder of `lease`.
  bool waitUntilHolds(const std::string& director, Ms timeout, const std::string& lease = "") const;
  // Runs quoratectl with `args` against `director` from the client namespace.
  CommandResult ctl(const std::string& director, const std::string& args) const;

  const std::string& dir() const { return dir_; }
  std::string logPath(const std::string& host) const { return dir_ + "/" + host + ".log"; }
  std::string configPath(const std::string& host) const { return dir_ + "/" + host + ".yaml"; }
  std::string logTail(const std::string& host, std::size_t lines = 30) const;
  // Marks the run as failed: the directory is kept for inspection.
  void keepFiles() { keep_ = true; }
  const ClusterOptions& options() const { return options_; }

  // --- For the soak (leave every other behaviour as above) ---
  // `host`'s state_dir (alpha, beta, arbiter).
  std::string stateDir(const std::string& host) const { return dir_ + "/state/" + host; }
  // Rewrites `host`'s config file from `options` (e.g. other timers) in place of the cluster's
  // own; takes effect at its next start. The cluster's options() stay as they were.
  void writeDirectorConfig(const std::string& host, const ClusterOptions& options);

 private:
  void writeConfigs();
  std::string directorYaml(const std::string& self) const;

  Topology& topo_;
  ClusterOptions options_;
  testutil::TempDir tmp_{"quorate-netns-test"};  // removed at the end unless kept
  std::string dir_ = tmp_.path();
  bool keep_ = false;
  std::map<std::string, pid_t> pids_;
};

// Where the daemons and quoratectl are (the build tree's bin/).
std::string binDir();

}  // namespace quorate::netns
