// The arbiter: one acceptor per lease of each cluster, served over gRPC, keyed by cluster id
// and lease name. A cluster's default lease exists from the start; others are created on their
// first authenticated request (in quarantine, like any acceptor that starts). A reload adds,
// removes and re-keys clusters while the others keep serving.
#pragma once

#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "arbiter/config.h"
#include "arbiter/metrics_stats.h"
#include "arbiter/reload.h"
#include "common/peer_auth.h"
#include "common/state_file.h"
#include "common/status.h"
#include "common/tls/identity.h"
#include "lease/acceptor.h"
#include "quorate/v1/quorate.grpc.pb.h"

namespace quorate::arbiter {

class ArbiterService final : public v1::Peer::CallbackService {
 public:
  using Clock = std::function<lease::Time()>;

  // Loads every cluster's durable state (and pinned membership) from config.stateDir; throws
  // std::runtime_error naming the file when one cannot be read. `now` is the start: every
  // lease, whenever it is first used, stays quiet until now + quarantine.
  ArbiterService(const ArbiterConfig& config, lease::Time now);

  grpc::ServerUnaryReactor* Exchange(grpc::CallbackServerContext* ctx,
                                     const v1::ExchangeRequest* req,
                                     v1::ExchangeReply* reply) override;

  // Handles one request as received (sealed, common/peer_auth.h) and fills `reply` sealed with
  // the key the request used; the gRPC method is a thin wrapper so tests can call it. The clock is
  // read under the cluster's lock, so the acceptor sees time in the order it handles requests.
  // A state write that fails undoes the step: the acceptor is as before the request.
  // With TLS (config.tls), `peerCertPem` is the client's certificate as the handshake saw it:
  // it must chain to the cluster's CA bundle and name quorate://<cluster>/<from_name>.
  grpc::Status handle(const Clock& clock, const v1::ExchangeRequest& req, v1::ExchangeReply& reply,
                      const std::string& peerCertPem = "");
  grpc::Status handle(lease::Time now, const v1::ExchangeRequest& req, v1::ExchangeReply& reply,
                      const std::string& peerCertPem = "") {
    return handle([now] { return now; }, req, reply, peerCertPem);
  }

  struct Counters {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> unknownCluster{0};
    std::atomic<std::uint64_t> badSecret{0};  // unknown key, wrong MAC, clock skew
    std::atomic<std::uint64_t> replayed{0};   // a counter accepted before
    std::atomic<std::uint64_t> badMessage{0};
    std::atomic<std::uint64_t> persistFailures{0};
    std::atomic<std::uint64_t> tooManyLeases{0};
    std::atomic<std::uint64_t> identityConflicts{0};  // membership or name mismatch
    std::atomic<std::uint64_t> badCertificate{0};     // TLS: not the cluster's, or not the sender
    std::atomic<std::uint64_t> caReloads{0};          // CA bundles re-read after a change
    std::atomic<std::uint64_t> caReloadFailures{0};   // changed bundles refused (old one kept)
    std::atomic<std::uint64_t> reloads{0};            // configurations applied (SIGHUP)
    std::atomic<std::uint64_t> reloadFailures{0};     // refused: the running one kept
  };
  static constexpr std::size_t kMaxLeasesPerCluster = 64;
  const Counters& counters() const { return counters_; }
  // Takes and releases every cluster's lock in turn: returns only while no request is stuck
  // holding one (the watchdog's health check, arbiter/service_watchdog.h). Any thread.
  void probeClusters();
  std::size_t clusterCount() const;
  // Counts a reload that applied (`applied`) or was refused (bad file, refused change, failure).
  void countReload(bool applied) {
    (applied ? counters_.reloads : counters_.reloadFailures)
        .fetch_add(1, std::memory_order_relaxed);
  }

  // Applies `plan` (planReload from the configuration this service runs to the new one; an ok
  // plan only). All or nothing: when an added cluster's state or a new CA bundle cannot be read,
  // nothing changes and the failure says why. Removed clusters are refused from now on like an
  // unknown cluster, their state files left in place, so adding one back resumes from what it
  // promised; an added cluster's acceptors stay quiet for the quarantine from `clock()`, read
  // with the service's lock held (after the last step of a removed acceptor). A rotated
  // cluster's keys and CA bundle are swapped under its lock; its acceptors, leases and replay
  // memory stay, and a request already authenticated with the old keys completes.
  Status apply(const ReloadPlan& plan, const Clock& clock);

  // What the status API and the metrics show: per cluster (by id) its leases (by name) and the
  // directors it has heard valid requests from, with ages on `clock()`, read under each
  // cluster's lock (read before it, a request in between would make an age negative).
  struct LeaseSnapshot {
    std::string name;
    std::string holder;  // empty: no live lease on this acceptor
    std::uint64_t epoch = 0;
    lease::Duration remaining{0};
    bool quarantine = false;
  };
  struct ContactSnapshot {
    std::string node;
    lease::Duration age{0};
  };
  struct ClusterSnapshot {
    std::string id;
    std::vector<LeaseSnapshot> leases;
    std::vector<ContactSnapshot> contacts;
  };
  std::vector<ClusterSnapshot> snapshot(const Clock& clock) const;

  const RequestStats& requestStats() const { return *requestStats_; }

 private:
  struct Slot {
    Slot(std::string path, lease::Duration quarantine, lease::Time startedAt,
         const lease::AcceptorFaults& faults);
    StateFile state;
    lease::Acceptor acceptor;
  };
  // A cluster's CA bundle, re-read when its file changes (checked at most once a second); a bad
  // new file is logged and the old bundle kept. Verified certificates are remembered briefly,
  // so a renewal costs no chain check.
  class ClusterCa {
   public:
    explicit ClusterCa(std::string path);  // throws std::runtime_error when the file is bad
    // The sender's identity when `pem` chains to the bundle and is valid; else why not.
    Result<tls::Identity> verify(const std::string& pem, Counters& counters);

   private:
    void reloadIfChanged(std::chrono::steady_clock::time_point now, Counters& counters);
    std::string path_;
    std::mutex mu_;
    tls::CaBundle bundle_;  // guarded by mu_
    struct FileStamp {
      std::int64_t mtimeNs = 0, size = 0, inode = 0;
      bool operator==(const FileStamp&) const = default;
    };
    // The file's stamp now; nullopt when it cannot be stat'ed.
    static std::optional<FileStamp> stampOf(const std::string& path);
    FileStamp stamp_;                                 // guarded by mu_
    std::chrono::steady_clock::time_point lastStat_;  // guarded by mu_
    struct Verified {
      tls::Identity id;
      std::chrono::steady_clock::time_point at;
    };
    std::map<std::string, Verified> verified_;  // by PEM; guarded by mu_
  };

  // A cluster's keys and CA bundle: a request holds the set it was checked with (the key that
  // signs its reply points into it) while a reload swaps in another.
  struct Credentials {
    explicit Credentials(const ClusterEntry& e, bool tls);  // throws like ClusterCa
    KeyRing keys;
    std::unique_ptr<ClusterCa> ca;  // with TLS
  };

  struct Cluster {
    Cluster(const ClusterEntry& e, bool tls, const std::string& stateDir,
            lease::Duration quarantine, lease::Time startedAt, const lease::AcceptorFaults& faults);
    // The slot of `leaseName`, created (loading its state file) on first use; nullptr when the
    // cluster has kMaxLeasesPerCluster already. Throws like StateFile::loadOrThrow. Needs mu.
    // A slot opened late is quiet until the arbiter's start + quarantine all the same: whether
    // its state file exists says nothing about leases an earlier life granted.
    Slot* slot(const std::string& leaseName);
    // Refuses a request whose membership view is not the pinned one (pinning the first valid
    // view, durably, before it answers), or whose sender name is not its id's. Needs mu.
    std::optional<grpc::Status> checkIdentity(const v1::ExchangeRequest& req, lease::NodeId from);
    std::shared_ptr<Credentials> credentials() {
      std::lock_guard lock(mu);
      return creds;
    }
    std::string id;
    ReplayGuard replay;  // per director name
    std::string stateDir;
    lease::Duration quarantine;
    lease::Time startedAt;
    lease::AcceptorFaults faults;  // ArbiterConfig::testFaults
    mutable std::mutex mu;
    std::shared_ptr<Credentials> creds;  // guarded by mu
    bool removed = false;                // by a reload; guarded by mu
    // When each director (by name) last sent a valid request. Guarded by mu; only names of the
    // pinned membership get here, so it stays small.
    std::map<std::string, lease::Time> lastContact;
    std::map<std::string, std::unique_ptr<Slot>> leases;  // guarded by mu
    std::string membership;  // pinned view; empty until the first request. Guarded by mu.
    std::optional<std::chrono::steady_clock::time_point> lastRefusalLog;  // guarded by mu
  };
  grpc::Status handleRequest(const Clock& clock, const v1::ExchangeRequest& req,
                             v1::ExchangeReply& reply, const std::string& peerCertPem);

  // The cluster `id`, or null when this service does not serve it (now).
  std::shared_ptr<Cluster> find(const std::string& id) const;

  bool tls_ = false;
  std::string stateDir_;
  lease::Duration quarantine_;
  lease::AcceptorFaults faults_;
  // Requests take it shared only to look their cluster up; a reload takes it exclusively.
  mutable std::shared_mutex clustersMu_;
  std::map<std::string, std::shared_ptr<Cluster>> clusters_;  // guarded by clustersMu_
  Counters counters_;
  std::unique_ptr<RequestStats> requestStats_;  // by configured cluster: a fixed set
};

}  // namespace quorate::arbiter
