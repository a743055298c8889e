// keepalived's pool semantics for one virtual server: which real servers are alive, whether the
// pool has quorum (with hysteresis), and the kernel table that follows from both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/ipvs/config.h"
#include "server/ipvs/plan.h"

namespace quorate::server::ipvs {

// One transition of a pool, for the caller's log ("one line per transition, with its reason")
// and counters.
struct PoolEvent {
  enum class Kind {
    kRealServerUp,      // a real server became alive
    kRealServerDown,    // a real server died
    kRealServerWeight,  // a check set a real server's weight (keepalived's misc_dynamic)
    kQuorumUp,          // the alive weight reached quorum + hysteresis: real servers serve
    kQuorumDown,        // the alive weight fell below quorum - hysteresis: the sorry server serves
  };
  Kind kind;
  std::string virtualServer;     // its name
  std::string endpoint;          // the real server, for kRealServer*; empty otherwise
  std::string reason;            // what the caller gave, or the weights for quorum changes
  std::int64_t aliveWeight = 0;  // the sum of the weights of alive real servers, afterwards
  std::int32_t weight = 0;       // kRealServerWeight: the weight now in effect

  // "web: real server 198.18.0.21:80 down: connect timeout",
  // "web: quorum lost: alive weight 1 < quorum 3 - hysteresis 1 (sorry server 198.18.0.30:80)".
  std::string toString() const;
};

// A real server's state as the pool sees it.
struct RealServerState {
  RealServerConfig config;
  bool alive = true;        // what health checks say
  bool checked = true;      // whether a health check drives it
  std::int32_t weight = 0;  // in effect: the configured one unless a check set another
  std::string reason;       // of the last change (a check's verdict)
};

class Pool {
 public:
  // `checked[i]` says whether a health check drives real server i; empty means all are. A
  // real server starts alive unless it is alpha and checked: with no check nothing would ever
  // bring it up. The pool starts with quorum iff the alive weight reaches the quorum.
  explicit Pool(VirtualServerConfig config, std::vector<bool> checked = {});

  const VirtualServerConfig& config() const { return config_; }
  const std::vector<RealServerState>& realServers() const { return servers_; }
  // The index of the real server at (address, port), or nullopt.
  std::optional<std::size_t> indexOf(const net::IpAddress& address, std::uint16_t port) const;

  // Marks real server `index` alive or dead (`reason` goes into the events, e.g. the check's
  // verdict). Returns what changed: nothing when the state was already so, else the real
  // server's transition and, when it moved the alive weight across the thresholds, the pool's
  // quorum transition after it. An index out of range changes nothing.
  // `weight`, when given, replaces the weight in effect (a check's dynamic weight, 0..65535);
  // nullopt goes back to the configured one.
  std::vector<PoolEvent> setAlive(std::size_t index, bool alive, const std::string& reason = {},
                                  std::optional<std::int32_t> weight = std::nullopt);
  // The same by endpoint; an unknown endpoint changes nothing.
  std::vector<PoolEvent> setAlive(const net::IpAddress& address, std::uint16_t port, bool alive,
                                  const std::string& reason = {},
                                  std::optional<std::int32_t> weight = std::nullopt);

  bool quorumUp() const { return quorumUp_; }
  // The sum of the weights of the alive real servers.
  std::int64_t aliveWeight() const { return aliveWeight_; }

  // The table this pool wants in the kernel. With quorum: every alive real server with its
  // weight, every dead one absent or, if inhibit_on_failure, present with weight 0 (quiescent:
  // its established connections live on); no sorry server. Without quorum: every real server as
  // if dead (keepalived takes the alive ones out too) and the sorry server, if any.
  DesiredService desired() const;

 private:
  // Appends the quorum transition, if the alive weight crossed a threshold.
  void updateQuorum(std::vector<PoolEvent>& events);

  VirtualServerConfig config_;
  std::vector<RealServerState> servers_;
  std::int64_t aliveWeight_ = 0;
  bool quorumUp_ = false;
};

}  // namespace quorate::server::ipvs
