// Authenticates each request against its cluster, steps that cluster's acceptor,
// persists a new epoch before answering, and returns the acceptor's reply.
#include "arbiter/arbiter_service.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "common/clock.h"
#include "common/convert.h"
#include "common/membership.h"
#include "common/peer_auth.h"
#include "common/peer_client.h"
#include "common/state_file.h"
#include "common/tls/credentials.h"
#include "common/yaml_config.h"

namespace quorate::arbiter {
namespace {

// "<cluster>.state" for the default lease (as before leases had names), else
// "<cluster>@<lease>.state".
std::string statePath(const std::string& dir, const std::string& cluster,
                      const std::string& leaseName) {
  if (leaseName == kDefaultLease) return dir + "/" + cluster + ".state";
  return dir + "/" + cluster + "@" + leaseName + ".state";
}

std::string membershipPath(const std::string& dir, const std::string& cluster) {
  return dir + "/" + cluster + ".members";
}

// The pinned membership of a cluster, or "" when none was pinned yet.
std::string loadMembership(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) return "";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || !memberName(text.str(), lease::kArbiter)) {
    throw std::runtime_error(path +
                             ": not a membership pinned by quorate-arbiter; remove it to pin "
                             "the directors' view again");
  }
  return text.str();
}

grpc::Status conflict(const std::string& why) {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, why);
}

// A verified certificate is taken again without a chain check for this long (so a certificate
// that expires is refused at most this late).
constexpr auto kVerifiedFor = std::chrono::seconds(30);
constexpr std::size_t kMaxVerified = 8;  // per cluster: its two directors, and a rotation

}  // namespace

ArbiterService::ClusterCa::ClusterCa(std::string path) : path_(std::move(path)) {
  auto b = tls::CaBundle::load(path_);
  if (!b) throw std::runtime_error(b.status().what());
  bundle_ = std::move(b).value();
  if (const auto stamp = stampOf(path_)) stamp_ = *stamp;
  lastStat_ = std::chrono::steady_clock::now();
}

std::optional<ArbiterService::ClusterCa::FileStamp> ArbiterService::ClusterCa::stampOf(
    const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
      static_cast<std::int64_t>(st.st_size), static_cast<std::int64_t>(st.st_ino)};
}

void ArbiterService::ClusterCa::reloadIfChanged(std::chrono::steady_clock::time_point now,
                                                Counters& counters) {
  if (now - lastStat_ < std::chrono::seconds(1)) return;
  lastStat_ = now;
  const auto stamp = stampOf(path_);
  // Gone or unreadable: keep trusting what was loaded (a rename in progress, an operator slip).
  if (!stamp || *stamp == stamp_) return;
  stamp_ = *stamp;  // a bad file is reported once, not once a second
  auto b = tls::CaBundle::load(path_);
  if (!b) {
    counters.caReloadFailures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("CA bundle {} changed but cannot be used, keeping the old one: {}", path_,
                  b.status().what());
    return;
  }
  bundle_ = std::move(b).value();
  verified_.clear();
  counters.caReloads.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("CA bundle {} reloaded: {} certificates", path_, bundle_.fingerprints().size());
}

Result<tls::Identity> ArbiterService::ClusterCa::verify(const std::string& pem,
                                                        Counters& counters) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  reloadIfChanged(now, counters);
  if (auto it = verified_.find(pem); it != verified_.end() && now - it->second.at < kVerifiedFor) {
    return it->second.id;
  }
  auto id = bundle_.verifiedIdentity(pem);
  if (!id) return id;
  if (verified_.size() >= kMaxVerified) verified_.clear();
  verified_[pem] = Verified{*id, now};
  return id;
}

// Leases are capped at the quarantine (so a restart outwaits every lease granted before it).
ArbiterService::Slot::Slot(std::string path, lease::Duration quarantine, lease::Time startedAt,
                           const lease::AcceptorFaults& faults)
    : state(std::move(path)),
      acceptor(lease::kArbiter, quarantine, quarantine, state.loadOrThrow(), startedAt, faults) {}

ArbiterService::Credentials::Credentials(const ClusterEntry& e, bool tls) : keys(e.secrets) {
  if (tls) ca = std::make_unique<ClusterCa>(e.ca);
}

ArbiterService::Cluster::Cluster(const ClusterEntry& e, bool tls, const std::string& dir,
                                 lease::Duration q, lease::Time started,
                                 const lease::AcceptorFaults& f)
    : id(e.id),
      stateDir(dir),
      quarantine(q),
      startedAt(started),
      faults(f),
      creds(std::make_shared<Credentials>(e, tls)) {
  membership = loadMembership(membershipPath(stateDir, id));
  slot(kDefaultLease);
}

ArbiterService::Slot* ArbiterService::Cluster::slot(const std::string& leaseName) {
  auto it = leases.find(leaseName);
  if (it != leases.end()) return it->second.get();
  if (leases.size() >= kMaxLeasesPerCluster) return nullptr;
  auto s =
      std::make_unique<Slot>(statePath(stateDir, id, leaseName), quarantine, startedAt, faults);
  if (leaseName != kDefaultLease) spdlog::info("cluster {}: lease {} opened", id, leaseName);
  return leases.emplace(leaseName, std::move(s)).first->second.get();
}

std::optional<grpc::Status> ArbiterService::Cluster::checkIdentity(const v1::ExchangeRequest& req,
                                                                   lease::NodeId from) {
  const std::string& view = req.membership();
  const auto name = memberName(view, from);
  if (!name) {
    return conflict("membership: missing or malformed (a director older than this arbiter?)");
  }
  if (*name != req.from_name()) {
    return conflict("membership: node " + std::to_string(from) + " is \"" + *name +
                    "\" in the sender's own view, but it calls itself \"" +
                    req.from_name().substr(0, 64) + "\"");
  }
  if (membership.empty()) {
    // The first view is pinned, on disk before anyone hears an answer that depends on it.
    if (const Status st = writeFileDurably(membershipPath(stateDir, id), view); !st) {
      spdlog::error("cluster {}: cannot pin its membership: {}", id, st.message());
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "arbiter cannot persist state");
    }
    membership = view;
    spdlog::info("cluster {}: membership pinned: {}", id, oneLine(view));
    return std::nullopt;
  }
  if (view != membership) {
    // A misconfigured director asks several times a second: one line per 10 s is enough.
    const auto now = std::chrono::steady_clock::now();
    if (!lastRefusalLog || now - *lastRefusalLog >= std::chrono::seconds(10)) {
      lastRefusalLog = now;
      spdlog::error("cluster {}: refusing {} ({}): its membership [{}] is not the pinned [{}]", id,
                    req.from_name().substr(0, 64), from, oneLine(view), oneLine(membership));
    }
    return conflict("membership differs: the arbiter pinned [" + oneLine(membership) +
                    "], the request says [" + oneLine(view) +
                    "]; make every node's configuration agree (to re-pin, stop the arbiter and "
                    "remove " +
                    membershipPath(stateDir, id) + ")");
  }
  return std::nullopt;
}

ArbiterService::ArbiterService(const ArbiterConfig& config, lease::Time now)
    : tls_(config.tls.has_value()),
      stateDir_(config.stateDir),
      quarantine_(config.quarantine),
      faults_(config.testFaults) {
  std::vector<std::string> ids;
  for (const auto& e : config.clusters) ids.push_back(e.id);
  requestStats_ = std::make_unique<RequestStats>(ids);
  for (const auto& e : config.clusters) {
    clusters_.emplace(e.id,
                      std::make_shared<Cluster>(e, tls_, stateDir_, quarantine_, now, faults_));
  }
}

std::size_t ArbiterService::clusterCount() const {
  std::shared_lock lock(clustersMu_);
  return clusters_.size();
}

std::shared_ptr<ArbiterService::Cluster> ArbiterService::find(const std::string& id) const {
  std::shared_lock lock(clustersMu_);
  const auto it = clusters_.find(id);
  return it == clusters_.end() ? nullptr : it->second;
}

Status ArbiterService::apply(const ReloadPlan& plan, const Clock& clock) {
  if (!plan.ok()) return Status::fail(EINVAL, describe(plan));
  // Requests of every cluster wait while this runs: it reads only the added clusters' state
  // files and the new CA bundles, each a few hundred bytes.
  std::unique_lock lock(clustersMu_);
  // Read with the lock held, like a request's clock: a re-added cluster's removal (an earlier
  // reload) waited for its last acceptor step, so this quarantine starts after every lease the
  // removed acceptors granted.
  const lease::Time now = clock();
  // Everything that can fail first, so that a failure changes nothing.
  std::vector<std::shared_ptr<Cluster>> added;
  std::vector<std::shared_ptr<Credentials>> rotated;
  try {
    for (const auto& e : plan.added) {
      if (clusters_.count(e.id)) {
        return Status::fail(EEXIST, "cluster " + e.id + " is served already");
      }
      // Quiet until now + quarantine, like at a start: an acceptor that was removed may have
      // granted a lease it no longer remembers (only the epoch floor is on disk).
      added.push_back(std::make_shared<Cluster>(e, tls_, stateDir_, quarantine_, now, faults_));
    }
    for (const auto& e : plan.rotated) {
      if (!clusters_.count(e.id)) return Status::fail(ENOENT, "cluster " + e.id + " is not served");
      rotated.push_back(std::make_shared<Credentials>(e, tls_));
    }
  } catch (const std::exception& e) {
    return Status::fail(EIO, e.what());
  }
  for (const auto& id : plan.removed) {
    const auto it = clusters_.find(id);
    if (it == clusters_.end()) continue;
    {
      // Waits for a request in its acceptor step; one that holds the cluster but not yet its
      // lock finds it removed and is refused.
      std::lock_guard clusterLock(it->second->mu);
      it->second->removed = true;
    }
    clusters_.erase(it);
  }
  for (std::size_t i = 0; i < plan.rotated.size(); ++i) {
    Cluster& c = *clusters_.at(plan.rotated[i].id);
    std::lock_guard clusterLock(c.mu);
    c.creds = std::move(rotated[i]);
  }
  for (auto& c : added) {
    requestStats_->add(c->id);
    clusters_.emplace(c->id, std::move(c));
  }
  return Status::ok();
}

std::vector<ArbiterService::ClusterSnapshot> ArbiterService::snapshot(const Clock& clock) const {
  std::vector<std::shared_ptr<Cluster>> all;
  {
    std::shared_lock lock(clustersMu_);
    all.reserve(clusters_.size());
    for (const auto& [id, c] : clusters_) all.push_back(c);
  }
  std::vector<ClusterSnapshot> out;
  out.reserve(all.size());
  for (const auto& c : all) {
    ClusterSnapshot snap;
    snap.id = c->id;
    std::lock_guard lock(c->mu);
    const lease::Time now = clock();
    for (const auto& [name, slot] : c->leases) {
      LeaseSnapshot l;
      l.name = name;
      l.quarantine = slot->acceptor.inQuarantine(now);
      l.epoch = slot->acceptor.maxEpoch();
      if (const auto live = slot->acceptor.lease(now)) {
        l.epoch = live->epoch;
        l.remaining = live->remaining;
        // The pinned view names the owner; before any pin there is no live lease either.
        l.holder = memberName(c->membership, live->owner).value_or(std::to_string(live->owner));
      }
      snap.leases.push_back(std::move(l));
    }
    for (const auto& [node, at] : c->lastContact) snap.contacts.push_back({node, now - at});
    out.push_back(std::move(snap));
  }
  return out;
}

grpc::ServerUnaryReactor* ArbiterService::Exchange(grpc::CallbackServerContext* ctx,
                                                   const v1::ExchangeRequest* req,
                                                   v1::ExchangeReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  const auto auth = ctx->auth_context();
  reactor->Finish(handle(bootNow, *req, *reply, auth ? tls::peerCertificatePem(*auth) : ""));
  return reactor;
}

void ArbiterService::probeClusters() {
  // The map's lock too: a reload stuck while holding it stops the pets as well.
  std::vector<std::shared_ptr<Cluster>> clusters;
  {
    std::shared_lock lock(clustersMu_);
    for (const auto& [id, cluster] : clusters_) clusters.push_back(cluster);
  }
  for (const auto& cluster : clusters) {
    const std::lock_guard<std::mutex> lock(cluster->mu);
  }
}

grpc::Status ArbiterService::handle(const Clock& clock, const v1::ExchangeRequest& wire,
                                    v1::ExchangeReply& reply, const std::string& peerCertPem) {
  const auto started = std::chrono::steady_clock::now();
  grpc::Status st = handleRequest(clock, wire, reply, peerCertPem);
  requestStats_->record(wire.cluster(), st.error_code(),
                        std::chrono::steady_clock::now() - started);
  return st;
}

grpc::Status ArbiterService::handleRequest(const Clock& clock, const v1::ExchangeRequest& wire,
                                           v1::ExchangeReply& reply,
                                           const std::string& peerCertPem) {
  counters_.requests.fetch_add(1, std::memory_order_relaxed);
  const std::shared_ptr<Cluster> cluster = find(wire.cluster());
  if (!cluster) {
    counters_.unknownCluster.fetch_add(1, std::memory_order_relaxed);
    return unknownCluster(wire.cluster());
  }
  Cluster& c = *cluster;
  // Held to the end: the reply is signed with a key of this set, whatever a reload swaps in.
  const std::shared_ptr<Credentials> creds = c.credentials();
  std::optional<tls::Identity> certified;
  if (creds->ca) {
    // One handshake serves every tenant, so the client's certificate is checked here, against
    // the CA of the cluster the request names. A stranger gets the answer of an unknown cluster
    // (no name, no reason); the reason goes to this log.
    auto id = peerCertPem.empty() ? Result<tls::Identity>(Status::fail(0, "no client certificate"))
                                  : creds->ca->verify(peerCertPem, counters_);
    if (!id) {
      counters_.badCertificate.fetch_add(1, std::memory_order_relaxed);
      // A stranger can send these as fast as it likes: a reason is logged when it differs from
      // the last one logged, else once per 10 s; never more than 10 lines per 10 s (the counter
      // has them all).
      static std::mutex logMu;
      static std::string lastReason;
      static std::chrono::steady_clock::time_point windowStart{};
      static int linesInWindow = 0;
      const auto t = std::chrono::steady_clock::now();
      std::string reason = c.id + ": " + id.status().what();
      bool log = false;
      {
        std::lock_guard lock(logMu);
        const bool newWindow = t - windowStart >= std::chrono::seconds(10);
        if (newWindow) {
          windowStart = t;
          linesInWindow = 0;
        }
        if ((reason != lastReason || newWindow) && linesInWindow < 10) {
          log = true;
          lastReason = std::move(reason);
          ++linesInWindow;
        }
      }
      if (log)
        spdlog::warn("cluster {}: request refused: client certificate: {}", c.id,
                     id.status().what());
      return unknownCluster(wire.cluster());
    }
    certified = *id;
  }
  OpenedRequest opened;
  if (auto s = openRequest(wire, creds->keys, wallClockMicros(), opened); !s.ok()) {
    (s.error_code() == grpc::StatusCode::UNAUTHENTICATED ? counters_.badSecret
                                                         : counters_.badMessage)
        .fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  if (certified) {
    // The certificate is this cluster's; it must also be the sender's own.
    if (auto s = tls::checkSender(*certified, c.id, opened.body.from_name()); !s.ok()) {
      counters_.badCertificate.fetch_add(1, std::memory_order_relaxed);
      return s;
    }
  }
  // Before anything reads the request: a replay must not reach the acceptor, nor pin a view.
  if (auto s = c.replay.admit(c.id, opened.body.from_name(), opened.counter); !s.ok()) {
    counters_.replayed.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  const v1::ExchangeRequest& req = opened.body;
  auto parsed = fromProto(req.message());
  if (!parsed) {
    counters_.badMessage.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "message." + parsed.status().what());
  }
  const lease::Message& in = *parsed;
  if (in.to != lease::kArbiter || !lease::isDirector(in.from)) {
    counters_.badMessage.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "message must go from a director (0 or 1) to the arbiter (2)");
  }
  const std::string& leaseName = leaseOf(req);
  if (!config::isId(leaseName)) {
    counters_.badMessage.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "lease: expected a name of 1 to 64 characters from A-Z a-z 0-9 . _ -");
  }
  std::lock_guard lock(c.mu);
  if (c.removed) {
    // A reload removed it while this request was on its way: refused like an unknown cluster's.
    counters_.unknownCluster.fetch_add(1, std::memory_order_relaxed);
    return unknownCluster(wire.cluster());
  }
  if (auto refused = c.checkIdentity(req, in.from)) {
    counters_.identityConflicts.fetch_add(1, std::memory_order_relaxed);
    return *refused;
  }
  Slot* slot = nullptr;
  try {
    slot = c.slot(leaseName);
  } catch (const std::exception& e) {
    counters_.persistFailures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("cluster {}: lease {}: {}", c.id, leaseName, e.what());
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "arbiter cannot read its state");
  }
  if (!slot) {
    counters_.tooManyLeases.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        "cluster \"" + c.id + "\" already has " + std::to_string(kMaxLeasesPerCluster) + " leases");
  }
  // Under the lock: two requests read the clock in the order the acceptor handles them.
  const lease::Time now = clock();
  c.lastContact[req.from_name()] = now;
  const lease::Acceptor before = slot->acceptor;
  auto result = slot->acceptor.handle(now, in);
  if (result.persist) {
    // The epoch must be on disk before anyone hears that we accepted it.
    const auto writeStart = std::chrono::steady_clock::now();
    const Status saved = slot->state.save(slot->acceptor.durable());
    const auto took = std::chrono::steady_clock::now() - writeStart;
    if (took > std::chrono::milliseconds(50)) {
      spdlog::warn("cluster {} lease {}: writing epoch {} took {} ms", c.id, leaseName,
                   slot->acceptor.durable().maxEpoch,
                   std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
    }
    if (!saved) {
      counters_.persistFailures.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("cluster {} lease {}: cannot persist epoch {}: {}; the request is undone", c.id,
                    leaseName, slot->acceptor.durable().maxEpoch, saved.message());
      // What is not on disk was never granted: the next renewal must not find it in memory.
      slot->acceptor = before;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "arbiter cannot persist state");
    }
    // A promise may persist too (the round reserve); only a grant is worth a line.
    if (result.reply && std::holds_alternative<lease::Accepted>(result.reply->body)) {
      spdlog::info("cluster {} lease {}: epoch {} granted to director {}", c.id, leaseName,
                   slot->acceptor.maxEpoch(), in.from);  // disk: durable().maxEpoch reserved
    }
  }
  if (result.reply) toProto(*result.reply, *reply.add_messages());
  sealReply(reply, *opened.key, opened.mac);
  return grpc::Status::OK;
}

}  // namespace quorate::arbiter
