// The director's configuration file (quorate-director --config FILE), parsed and checked.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics/config.h"
#include "common/net_types.h"
#include "lease/director_node.h"
#include "lease/timing.h"
#include "lease/types.h"
#include "server/fencing/fence_agent.h"
#include "server/grpc/operator_auth.h"
#include "server/hooks/hooks_config.h"
#include "server/ipvs/config.h"

namespace quorate::server {

struct PeerAddress {
  std::string id;
  std::string address;  // host:port
};

// VRRPv3 adverts sent by the holder (optional), so routers and monitoring see one master.
struct VrrpConfig {
  std::uint8_t vrid = 0;        // 1..255, unique per director
  std::uint8_t priority = 100;  // what the holder advertises (1..254)
  std::chrono::milliseconds advertInterval{1000};
  // keepalived's use_vmac: the VIPs live on a macvlan "vrrp.<vrid>" of their device with the
  // virtual router MAC (00:00:5e:00:01:<vrid>, IPv6 00:00:5e:00:02:<vrid>), so neighbours need
  // no update when the VIPs move. One family and one device per instance.
  bool useVmac = false;
  // The macvlan's name with use_vmac, as keepalived names it: "vrrp.<vrid>".
  std::string vmacName() const { return "vrrp." + std::to_string(vrid); }
};

// Gratuitous ARP / unsolicited NA on claim (keepalived's garp_master_repeat and
// garp_interval), periodic refresh (garp_master_refresh), and again when a partition heals.
struct AnnounceConfig {
  int repeat = 5;
  std::chrono::milliseconds interval{100};
  std::optional<std::chrono::milliseconds> refresh;  // unset: no periodic refresh
  bool operator==(const AnnounceConfig&) const = default;
};

// One thing a lease tracks (an instance's or sync group's track_interfaces, track_scripts or
// track_files entry). keepalived's weight moves a VRRP priority; quorate has no priority
// contest, so weight 0 (the default) makes a failure fatal for the lease (this director does not
// campaign for it, and steps down if it holds it), and any other weight only reports it
// (server/track_set.h; docs/health-checks.md).
struct TrackItem {
  std::string name;  // an interface, a top-level track script's name, or a file's path
  int weight = 0;    // -253..253 (a track file's -254..254)
  bool operator==(const TrackItem&) const = default;
};

// What one lease tracks beyond the director-wide track_interfaces and track_scripts.
struct LeaseTrack {
  std::vector<TrackItem> interfaces;
  std::vector<TrackItem> scripts;
  std::vector<TrackItem> files;
  bool empty() const { return interfaces.empty() && scripts.empty() && files.empty(); }
  bool operator==(const LeaseTrack&) const = default;
};

// Like one keepalived vrrp_instance: a set of VIPs that one director owns at a time.
struct InstanceConfig {
  std::string name;
  std::vector<net::Vip> vips;
  std::optional<VrrpConfig> vrrp;
};

// One lease: a sync group of instances that move together, an instance of its own, or (with no
// instances configured) the cluster's "default" lease with no VIPs.
struct LeaseConfig {
  std::string name;
  std::vector<std::string> instances;
  std::optional<std::string> preferred;
  std::optional<std::chrono::milliseconds> preemptDelay;
  hooks::HooksConfig hooks;  // its own `hooks:` over the file's top-level ones
  bool syncGroup = false;    // a sync_groups entry (hooks see keepalived's GROUP)
  // Its own tracking (a sync group's: its own and its instances'), on top of the global lists.
  LeaseTrack track;
  AnnounceConfig announce;  // its own `announce:` key by key over the top-level one
};

// The director's own health (keepalived's track_interface and track_script).
struct TrackScript {
  std::string name;
  std::vector<std::string> argv;  // run directly, no shell
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds timeout{1000};
  int fall = 2;  // failures in a row that make the director unhealthy
  int rise = 2;  // successes in a row that make it healthy again
};

enum class FenceMode { kNftables, kNone };

// Watchdog self-fencing (optional): the director pets `device` every `interval` while its loop
// runs and, while it holds a lease, only while that lease outlasts the device's timeout plus the
// margin (server/watchdog.h), so a hung holder's host reboots before its lease ends.
struct WatchdogConfig {
  std::string device = "/dev/watchdog";
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds interval{0};
  // The part of the margin not due to clock drift: the delay of a pet after its clock read, the
  // device's lateness and the reset itself (docs/timing.md, "Watchdog").
  std::chrono::milliseconds margin{100};
};

// The event log (server/events): JSON lines of starts, stops, role changes, hook and fence runs.
struct EventLogConfig {
  bool enabled = true;
  // Absolute; the parser's default is <state_dir>/events.jsonl, and the daemon takes an empty
  // one (a config built in code) to mean the same.
  std::string path;
  std::uint64_t maxBytes = 16u << 20;  // rotate before the file grows past this
  int keep = 5;                        // rotated files kept (path.1 .. path.<keep>)
};

// Mutual TLS on the peer protocol (docs/security.md). The director presents `cert`
// (quorate://<cluster>/<node>); its server and its channel to the other director trust `ca` only,
// its channel to the arbiter `arbiterCa` only and wants quorate-arbiter://<arbiterName> there.
struct TlsConfig {
  std::string ca;           // tls.ca: the cluster's CA bundle
  std::string cert;         // tls.cert
  std::string key;          // tls.key
  std::string arbiterName;  // arbiter.name, default the arbiter's id
  std::string arbiterCa;    // arbiter.ca, default tls.ca
};

struct DirectorConfig {
  std::string path;  // the file it came from
  std::string cluster;
  std::vector<std::string> secrets;      // the cluster keys: the first signs, all are accepted
  std::string node;                      // this director's id
  lease::NodeId self = 0;                // index of `node` in directors
  std::string listen;                    // host:port for the peer protocol and the operator API
  std::string stateDir;                  // absolute
  std::array<PeerAddress, 2> directors;  // index = protocol node id
  PeerAddress arbiter;
  std::optional<std::string> preferred;
  std::optional<std::chrono::milliseconds> preemptDelay;  // unset: never preempt
  lease::Timing timing;                                   // checked with lease::validate
  std::string logLevel = "info";
  std::string logTarget = "auto";  // auto, journal, syslog, stderr (common/logging.h)
  std::vector<InstanceConfig> instances;
  std::vector<LeaseConfig> leases;  // never empty
  AnnounceConfig announce;
  FenceMode fence = FenceMode::kNftables;
  // Fence-before-claim: how to fence the other director when it held a lease and vanished
  // without releasing it; the claim waits for this to succeed (docs/fence-agents.md).
  std::optional<fencing::FenceAction> fenceBeforeClaim;
  std::vector<std::string> trackInterfaces;
  std::vector<TrackScript> trackScripts;
  std::optional<WatchdogConfig> watchdog;  // unset: no watchdog
  // Virtual servers (IPVS) and, for each, the index in `leases` of the lease it follows.
  ipvs::IpvsConfig ipvs;
  std::vector<std::size_t> virtualServerLease;
  // The lease the IPVS sync daemon follows (master on its holder): the first virtual server's.
  std::size_t syncLease = 0;
  EventLogConfig eventLog;
  std::optional<TlsConfig> tls;  // unset: no TLS (the shared secret only)
  // The user programs run as unless they name one (script_user; default: defaultScriptUser()
  // of server/script_runner.h, "" when the director does not run as root).
  std::string scriptUser;
  OperatorConfig operatorApi;  // `operator:` (the Unix socket, roles, optional TLS TCP)
  std::optional<metrics::MetricsConfig> metrics;  // `metrics: {listen}`; unset: no endpoint
  // Test only, never read from a file: planted bugs for the tests that must see them caught.
  struct TestFaults {
    // Frames leave whether or not the lease has ended (the check before each send is skipped):
    // the netns freeze test's broken daemon (quorate-director-ungated-frames).
    bool ungatedFrames = false;
    // The watchdog is petted whether or not a held lease outlasts it: the netns watchdog test's
    // broken daemon (quorate-director-ungated-watchdog).
    bool ungatedWatchdog = false;
    // Any certificate of a trusted CA passes for any node: the peer service does not compare it
    // with the request's sender, nor the peer clients with the node they called. The TLS
    // test's broken daemon (quorate-director-unchecked-peer).
    bool uncheckedPeerIdentity = false;
    // The loop thread blocks while this file exists (a test's way to freeze the loop alone):
    // quorate-director-freezable, quorate-director-pets-anyway.
    std::string freezeLoopFile;
    // systemd's watchdog is petted from a thread of its own whatever the loop does: the notify
    // test's broken daemon (quorate-director-pets-anyway).
    bool petFromAnyThread = false;
  } testFaults;

  // The lease core's view of `l`: self, timing, preferred (as a NodeId) and preemptDelay. The
  // seed is left at its default; the daemon should set it.
  lease::NodeConfig nodeConfig(const LeaseConfig& l) const;
  // The first lease's (the only one in a single-lease setup).
  lease::NodeConfig nodeConfig() const { return nodeConfig(leases.front()); }
  const InstanceConfig& instance(const std::string& name) const;  // throws std::out_of_range
  bool hasDataPlane() const { return !instances.empty() || !ipvs.virtualServers.empty(); }
  // trackInterfaces plus every VIP's device (like keepalived, which puts an instance whose
  // interface is down or missing in FAULT): the interfaces whose state gates this director.
  std::vector<std::string> watchedInterfaces() const;
  // The above plus every lease's own track_interfaces: the interfaces the link watcher follows.
  std::vector<std::string> linkWatchList() const;
  // Directors 0 and 1, arbiter 2 (lease::kArbiter). Throws std::out_of_range otherwise.
  const PeerAddress& peer(lease::NodeId id) const;
  // This director's view of who is who (common/membership.h), sent with every lease message.
  std::string membership() const;
};

// Reads and parses `path`. Throws quorate::ConfigError, with file, line and key, on any problem.
DirectorConfig loadDirectorConfig(const std::string& path);

// Whether two director config texts differ only in `virtual_servers` and `ipvs` (what a
// SIGHUP reload may change). Texts that do not parse as YAML mappings are never the same.
bool sameExceptVirtualServers(const std::string& a, const std::string& b);

// Parses `text` as if read from `path` (used in messages; relative paths in the file are
// resolved against its directory). Throws quorate::ConfigError.
DirectorConfig parseDirectorConfig(const std::string& text, const std::string& path);

}  // namespace quorate::server
