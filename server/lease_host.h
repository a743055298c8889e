// The director's loop-thread logic: one DirectorNode per lease, each step persisted before
// anything of it is sent, the data plane following each lease, eligibility and identity
// conflicts. Driven through injected clock, transport and state store; no gRPC, no Asio.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/state_file.h"
#include "lease/director_node.h"
#include "server/config.h"
#include "server/ipvs/balancer.h"
#include "server/lease_events.h"
#include "server/metrics/lease_stats.h"

namespace quorate::server {

class DataPlane;
class OwnHealth;

// Carries lease messages to the other nodes. Outcomes come back through the host's
// delivered()/undelivered()/refusedIdentity(), on the host's thread.
class LeaseTransport {
 public:
  virtual ~LeaseTransport() = default;
  // Sends `m` (about lease `lease`, index into the host's leases) to m.to. Never blocks.
  virtual void send(std::size_t lease, const lease::Message& m) = 0;
  // A quarantine ping: only a refusal (identity) matters; no reply is stepped.
  virtual void probe(std::size_t lease, const lease::Message& m) = 0;
};

// Where each lease's durable state lives.
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  // Throws std::runtime_error naming the file when it exists but cannot be read.
  virtual lease::DurableState load(std::size_t lease) = 0;
  // Durable once it returns ok; a failure means nothing of the step may leave.
  virtual Status save(std::size_t lease, const lease::DurableState& s) = 0;
};

// One StateFile per lease under config.stateDir, found by the lease's name.
class FileLeaseStore final : public LeaseStore {
 public:
  explicit FileLeaseStore(const DirectorConfig& config);
  lease::DurableState load(std::size_t lease) override;
  Status save(std::size_t lease, const lease::DurableState& s) override;
  // A lease added by a reload takes the next index; its file is the one its name gives (an
  // earlier tenure's, if it ran before: never a fresh one over it).
  void add(const LeaseConfig& lease);

 private:
  std::string stateDir_;
  std::vector<StateFile> files_;
};

// What an operator sees of one lease.
struct LeaseSnapshot {
  std::string name;
  std::string role;  // "holder" only while the lease is held now
  std::string reason;
  std::string holder;  // "" when none is known
  std::uint64_t epoch = 0;
  std::int64_t remainingMs = 0;
  std::string preferred;
  std::vector<std::string> instances;
  std::vector<std::string> vips;
  bool claimed = false;
  bool eligible = true;
  std::string state;                 // keepalived's: "MASTER", "BACKUP", "FAULT" (as hooks see it)
  bool quorumLost = false;           // a loss of quorum is in force (until the majority is heard)
  std::string gate;                  // what the claim waits for ("" none): fence, pre-claim hooks
  std::int64_t holdRemainingMs = 0;  // step-down --hold: no preemption back for this long
  bool operator==(const LeaseSnapshot&) const = default;
};

struct NodeSnapshot {
  std::string id;
  std::string address;
  bool self = false;
  bool reachable = false;
  std::int64_t lastSeenMs = -1;  // 0 for ourselves, -1: never heard
};

// The whole state an operator sees, as domain values (server/grpc/status_builder.h makes the
// proto of it).
struct HostSnapshot {
  std::string cluster;
  std::string node;
  std::vector<LeaseSnapshot> leases;  // never empty
  std::vector<NodeSnapshot> nodes;    // by NodeId
  bool healthy = true;
  std::vector<std::string> problems;
  bool hasDataPlane = false;
  std::uint64_t framesSuppressed = 0;
  std::uint64_t lapses = 0;
  std::vector<ipvs::VirtualServerView> virtualServers;
  std::uint64_t version = 0;
};

// What a step-down request came to.
struct StepDownResult {
  enum class Code { kOk, kNoSuchLease, kNotHolder, kPeerUnreachable };
  Code code = Code::kOk;
  std::string why;  // for the refusals
  std::uint64_t releasedEpoch = 0;
  std::string handedTo;
  std::vector<std::string> leases;
  std::int64_t holdRemainingMs = 0;  // the hold set (or left) by the request
  bool afterPreRelease = false;      // the release waits for the pre-release hooks
};

class LeaseHost {
 public:
  using Clock = std::function<lease::Time()>;
  // Seeds the campaign back-off and draws each lease's instance (this process).
  using Random = std::function<std::uint64_t()>;

  struct Counters {
    std::atomic<std::uint64_t> sendFailures{0};
    std::atomic<std::uint64_t> persistFailures{0};
    std::atomic<std::uint64_t> rejectedRequests{0};
    std::atomic<std::uint64_t> identityConflicts{0};  // refused by, or refusing, a peer
  };

  // Loads every lease's state and records this start at once (the next start must use a new
  // incarnation even if this one dies before saying anything); throws std::runtime_error when
  // that fails. `config.leases` must not be empty. `dataPlane` and `health` may be null (no
  // VIPs; nothing tracked). Everything given must outlive the host; `random` is kept (a lease
  // added by a reload draws from it too).
  LeaseHost(const DirectorConfig& config, Clock clock, LeaseTransport& transport, LeaseStore& store,
            DataPlane* dataPlane, const OwnHealth* health, Random random);

  // All below: on the host's thread only (the daemon's loop thread), except where said.

  // Steps lease `lease` with a request from a peer; messages back to m.from go into `reply`.
  void receive(std::size_t lease, const lease::Message& m, std::vector<lease::Message>* reply);
  // The transport's outcomes of send(): the peer's replies, or none (down, refused, silent).
  void delivered(std::size_t lease, const std::vector<lease::Message>& replies);
  void undelivered(std::size_t lease, const lease::Message& sent);
  // `peer` refused one of our messages: its view of who is who differs. Counted and noted
  // without stopping (the refusal only takes its vote away).
  void refusedIdentity(lease::NodeId peer, const std::string& why);
  // A request whose sender disagrees with us on who is who (identityConflict()); with `stop`
  // (the views name different arbiters) we neither campaign nor hold for a while.
  void noteConflict(const std::string& why, bool stop);
  // Timers: call at nextWake(); ticks each lease whose deadline passed.
  void onTimer();
  // While quarantined, pings the other nodes so that a differing view of who is who is refused
  // before anyone campaigns. Returns whether to ping again a renewal interval later.
  bool probeIdentity();
  // The director's own health changed.
  void updateEligibility();
  // With `hold` > 0 this director then does not preempt the lease back for that long; with
  // `clearHold` nothing is released and the holds of the named lease (or all) end now.
  StepDownResult stepDown(bool force, const std::string& leaseName,
                          std::chrono::milliseconds hold = std::chrono::milliseconds(0),
                          bool clearHold = false);
  // Hands every held lease over (planned stop), after its pre-release hooks if it has any.
  void stepDownAll(const std::string& reason);
  // Whether any lease is held now (a stop waits for the pre-release hooks, bounded).
  bool holdsAny() const;
  // The director stops: each lease reports kStopping (after stepDownAll()).
  void stopping();
  // Where transitions go, and what must pass before a won lease is claimed (both optional,
  // set before the first step, outliving the host).
  void setTransitionSink(TransitionSink* sink) { sink_ = sink; }
  void setClaimGate(ClaimGate* gate) { gate_ = gate; }
  // When onTimer() next has work (the daemon's timer wakes a little early, see daemon.cc).
  lease::Time nextWake() const;

  HostSnapshot snapshot() const;
  // The earliest lease end among the leases this director holds: a node in the holder role, or
  // whose VIPs the data plane still has claimed, counts even just past its end (before the timer
  // withdraws it), with that end. Nothing when it holds none. The watchdog pets only while this
  // is far enough ahead.
  std::optional<lease::Time> earliestHeldLeaseEnd() const;
  // Moves whenever something an operator sees changes (role, holder, epoch, eligibility,
  // reachability, VIPs claimed, health); never on a step that changes none of them.
  std::uint64_t version() const { return version_; }
  // Called after every step that moved version() (the daemon publishes status then).
  void onVersionChange(std::function<void()> fn) { versionChanged_ = std::move(fn); }
  // Called after every step: the next wake-up may have moved.
  void onDeadlineChange(std::function<void()> fn) { deadlineChanged_ = std::move(fn); }

  // A reload. addLease: `lease` (not one of ours) takes the next index, from the durable state
  // the store has for that index (the caller added it there first), and records this start
  // there at once, as at start-up; its node campaigns only after the start-up quarantine, so an
  // acceptor that forgot a promise with the lease cannot break it. A failed write leaves the
  // index retired (never stepped) and says why. The caller adds the lease to the data plane and
  // the hooks first, at the same index.
  Status addLease(const LeaseConfig& lease);
  // retireLease: lease `i` leaves for good (its index is never reused). A holder steps down at
  // once (no pre-release hooks: the lease is going), its VIPs withdrawn (fence closed first,
  // then the addresses) before anything tells the acceptors; it reports STOP; then it is never
  // stepped again and answers no request. Returns whether its VIPs are dark (see
  // DataPlane::withdraw()); its durable state stays on disk for a lease of that name later.
  bool retireLease(std::size_t i);
  bool retired(std::size_t i) const { return leases_.at(i).retired; }
  // The indices of the leases not retired, in order (never empty unless all are retired).
  std::vector<std::size_t> liveLeases() const;

  // Any thread: the live leases' names (a reload changes them under a mutex).
  std::optional<std::size_t> leaseIndex(const std::string& name) const;
  // Why a request from `fromName` carrying `m` and `membership` disagrees with us on who is
  // who, or nothing when it agrees.
  std::optional<std::string> identityConflict(const std::string& membership,
                                              const std::string& fromName,
                                              const lease::Message& m) const;
  const std::string& membership() const { return membership_; }
  // The host's thread (the name of a retired lease stays).
  const std::string& leaseName(std::size_t i) const { return leases_.at(i).cfg->name; }
  std::size_t leaseCount() const { return leases_.size(); }
  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }
  const lease::DirectorNode& node(std::size_t i) const { return *leases_.at(i).node; }
  // Elections, tenures and renewal times per lease, for the metrics (the host's thread).
  const LeaseStats& stats() const { return stats_; }

 private:
  // What the host remembers of a lease beyond its node: for transitions and the claim gate.
  struct Track {
    LeaseState reported = LeaseState::kNone;
    std::string lastHolder;                   // the latest holder known, "" none
    std::optional<lease::LeaseView> foreign;  // the latest other holder known
    std::uint64_t releasedEpoch = 0;          // the other director released up to this
    std::optional<lease::Time> quorumLostAt;  // a loss of quorum in force since then
    // A lapse whose VIPs may still answer (the fence did not close): reported once they are dark.
    std::optional<lease::RoleChange> lapseNotDark;
    bool hadMajority = false;       // heard from a majority since the start
    std::uint64_t gateRunning = 0;  // epoch whose gate runs (0 none)
    std::uint64_t gatePassed = 0;   // epoch whose gate passed
    std::string gateWhat;
    std::uint64_t releasing = 0;  // epoch whose pre-release hooks run (0 none)
    bool gateFailed = false;      // our claim failed and nobody else holds yet: FAULT
    std::string gateFailure;
  };
  struct Lease {
    // A copy: the daemon's configuration changes under a reload.
    std::shared_ptr<const LeaseConfig> cfg;
    std::unique_ptr<lease::DirectorNode> node;
    Track track;
    bool retired = false;  // removed by a reload: never stepped again
  };
  // What version() follows: the operator-visible domain state, without timers and counters.
  struct Visible {
    std::vector<LeaseSnapshot> leases;
    std::vector<bool> reachable;
    bool healthy = true;
    std::vector<std::string> problems;
    bool operator==(const Visible&) const = default;
  };

  using Step = std::function<lease::Output(lease::DirectorNode&)>;
  // Steps lease i's node and carries out the output: persist first, and if the write fails the
  // node goes back to its copy from before the step and nothing of it is sent (what is not on
  // disk never happened). Messages for `replyTo` go into `reply`, the rest to the transport.
  void step(std::size_t i, const Step& fn, std::optional<lease::NodeId> replyTo = std::nullopt,
            std::vector<lease::Message>* reply = nullptr);
  // The data plane follows lease i. False: not held, and its VIPs may still answer (the fence
  // did not close), so nothing may tell the acceptors it is free.
  bool followLease(std::size_t i, lease::Time now);
  // Whether lease i, held at its node's epoch, may claim its VIPs now; starts its gate if not.
  bool claimAllowed(std::size_t i);
  void gateDone(std::size_t i, std::uint64_t epoch, bool ok, const std::string& why);
  // Releases lease i (handing it over), after its pre-release hooks when it has any; `hold`
  // then keeps us from preempting it back. True when the release waits for hooks.
  bool release(std::size_t i, const std::string& reason, std::chrono::milliseconds hold);
  void releaseNow(std::size_t i, std::uint64_t epoch, const std::string& reason,
                  std::chrono::milliseconds hold);
  // The holder before us if it never released: the fence-before-claim target.
  std::optional<std::string> unreleasedPrevious(const Lease& l) const;
  // Follows lease i's state after a step (`out`: that step's output; `dark`: its VIPs cannot
  // answer) and reports transitions.
  void track(std::size_t i, const lease::Output& out, lease::Time now, bool dark);
  void report(std::size_t i, LeaseState to, bool quorumLost, const std::string& reason,
              lease::Time now, std::optional<std::uint64_t> epoch = std::nullopt);
  void warnIfMisconfigured(const lease::Message& reply);
  bool conflicted(lease::Time now) const { return conflictUntil_ && now < *conflictUntil_; }
  bool healthy(lease::Time now) const;
  std::vector<std::string> problems(lease::Time now) const;
  // Whether this director may hold lease i now (its global health, no identity conflict, the
  // lease's own tracking), and why (the eligibility's reason).
  std::pair<bool, std::string> eligibility(std::size_t i, lease::Time now) const;
  bool reachable(lease::NodeId n, lease::Time now) const;
  std::optional<lease::Time> lastSeen(lease::NodeId n) const;  // by any lease's messages
  std::vector<LeaseSnapshot> leaseSnapshots(lease::Time now) const;
  // Bumps version() when the visible state moved; tells the data plane of a peer heard again.
  void noteVisibleChange(lease::Time now);
  const std::string& name(lease::NodeId n) const { return config_.peer(n).id; }
  // Builds lease `lc`'s node at the next index and records this start in its durable state.
  Status appendLease(const LeaseConfig& lc, Random& random);
  void publishNames();  // leaseIndex()'s copy of the live names
  std::optional<std::size_t> firstLive() const;

  const DirectorConfig& config_;
  Clock clock_;
  LeaseTransport& transport_;
  LeaseStore& store_;
  DataPlane* dataPlane_;
  const OwnHealth* health_;
  std::string membership_;  // config_.membership(), sent and expected
  std::vector<Lease> leases_;
  Random random_;
  mutable std::mutex namesMu_;
  std::map<std::string, std::size_t> names_;  // under namesMu_: live leases by name
  std::optional<lease::Time> lastMisconfigWarning_;
  std::optional<lease::Time> conflictUntil_;
  std::string conflictWhy_;
  std::optional<lease::Time> lastConflictLog_;
  std::optional<Visible> visible_;
  std::uint64_t version_ = 0;
  std::function<void()> versionChanged_;
  std::function<void()> deadlineChanged_;
  TransitionSink* sink_ = nullptr;
  ClaimGate* gate_ = nullptr;
  Counters counters_;
  LeaseStats stats_;
};

}  // namespace quorate::server
