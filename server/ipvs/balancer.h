// The load balancer as the lease moves: which virtual servers are in IPVS on this director, and
// the kernel's connection sync daemon's role. The holder of a lease programs the virtual
// servers that follow it (before its VIPs go up) and the standby removes them (standby:
// remove, the default) or keeps a warm copy (standby: warm). The pools' health decides each
// service's destinations; the reconciler writes the difference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/ipvs/config.h"
#include "server/ipvs/drains.h"
#include "server/ipvs/pool.h"
#include "server/ipvs/reconciler.h"
#include "server/kernel/ipvs.h"

namespace quorate::server::ipvs {

// What an operator sees of one virtual server (quoratectl status).
struct RealServerView {
  std::string endpoint;             // "198.18.0.21:80"
  std::int32_t weight = 0;          // configured
  std::int32_t weightInEffect = 0;  // or what a dynamic check set; 0 when drained
  bool alive = false;               // health's verdict
  bool checked = false;             // health checks drive `alive`
  std::string health;               // the last verdict's reason
  bool installed = false;           // in the kernel as desired (weight 0 when quiescent)
  bool sorry = false;               // the sorry server
  bool drained = false;             // an operator's drain: weight 0 in the kernel until enabled
  std::uint32_t activeConnections = 0, inactiveConnections = 0;
  kernel::ipvs::Stats stats;
};
struct VirtualServerView {
  std::string name;
  std::size_t lease = 0;
  std::string service;      // "tcp 198.18.0.10:80 wlc"
  std::string group;        // of a member of a virtual_server_group: the group ("" = none)
  bool programmed = false;  // wanted in the kernel on this director now
  bool quorumUp = false;
  std::int64_t aliveWeight = 0;
  std::optional<std::string> lastError;
  std::vector<RealServerView> realServers;
  kernel::ipvs::Stats stats;
};

class Balancer {
 public:
  // `leaseOf[i]` is the index of the lease virtual server i follows; the sync daemon (if
  // configured) follows the lease of `syncLease`.
  Balancer(IpvsConfig config, std::vector<std::size_t> leaseOf, std::size_t syncLease,
           kernel::ipvs::Ipvs& ipvs);

  // Start-up, before any lease is held: the configured services a killed earlier run may have
  // left are removed (standby: remove) or programmed (warm), and the sync daemon runs as
  // backup. A failure means the director must not run (e.g. no IPVS in this kernel).
  Status start();
  // Lease `lease` is held now: its virtual servers go into IPVS; the sync daemon becomes master
  // if it follows this lease. Failures are logged and retried by resync().
  void activate(std::size_t lease);
  // Lease `lease` is lost: its virtual servers leave IPVS unless warm; the sync daemon goes back
  // to backup. Idempotent.
  void deactivate(std::size_t lease);
  // A health verdict on real server `rs` of virtual server `vs`; the table follows at once if
  // the service is programmed. Returns the transitions (logged here too).
  std::vector<PoolEvent> setAlive(std::size_t vs, std::size_t rs, bool alive,
                                  const std::string& reason,
                                  std::optional<std::int32_t> weight = std::nullopt);
  // The same by virtual server name and real server endpoint (a health check's verdict), for
  // every virtual server of that name (the members of a group); an unknown one changes nothing.
  std::vector<PoolEvent> setAlive(const std::string& vs, const net::IpAddress& address,
                                  std::uint16_t port, bool alive, const std::string& reason,
                                  std::optional<std::int32_t> weight = std::nullopt);
  // Re-reads the kernel's table and repairs any drift (someone ran ipvsadm); view() shows the
  // counters of that read. Periodic.
  Status resync();
  // Shutdown: removes every service this director owns and stops its sync daemon.
  void stop();
  // A new set of virtual servers (SIGHUP): only the difference reaches the kernel, so every
  // unchanged entry keeps its connections and counters. A real server that stays (same
  // virtual server name and endpoint) keeps its health; a removed virtual server is deleted;
  // a changed sync daemon restarts in its current role. Returns a one-line summary.
  std::string reload(IpvsConfig config, std::vector<std::size_t> leaseOf, std::size_t syncLease);

  // The operator's drains: a drained real server stays in the kernel (when it would be there)
  // with weight 0, so its connections finish and no new one comes, until enabled. Kept across
  // reloads by name; a drain of a real server a reload removed waits for it to come back.
  // loadDrains() is for start-up (nothing written); setDrains() writes the difference now.
  void loadDrains(DrainSet drains) { drains_ = std::move(drains); }
  void setDrains(DrainSet drains);
  const DrainSet& drains() const { return drains_; }
  const IpvsConfig& config() const { return config_; }

  bool active(std::size_t lease) const;
  std::vector<VirtualServerView> view() const;
  const Reconciler::Counters& counters() const { return reconciler_.counters(); }

 private:
  static std::vector<Pool> makePools(const IpvsConfig& config);
  // Enough slots for every lease a virtual server or the sync daemon follows (and those held).
  std::size_t leaseCount() const;
  bool hasServices(std::size_t lease) const;
  std::vector<DesiredService> desired() const;
  bool wanted(std::size_t vs) const;
  void reconcile(const char* why, bool readKernel);
  void syncRole(std::optional<kernel::ipvs::SyncRole> role);

  IpvsConfig config_;
  std::vector<std::size_t> leaseOf_;
  std::size_t syncLease_;
  kernel::ipvs::Ipvs& ipvs_;
  Reconciler reconciler_;
  std::vector<Pool> pools_;
  std::vector<bool> activeLeases_;
  std::optional<kernel::ipvs::SyncRole> syncRole_;
  DrainSet drains_;
};

}  // namespace quorate::server::ipvs
