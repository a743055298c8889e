// What a SIGHUP changes in a running arbiter: the difference between two configurations, per
// cluster, and what cannot change without a restart.
#include "arbiter/reload.h"

#include <chrono>
#include <map>

namespace quorate::arbiter {
namespace {

std::string ids(const std::vector<std::string>& names) {
  std::string out;
  // A reload may add thousands of clusters: the log line names a few.
  constexpr std::size_t kNamed = 8;
  for (std::size_t i = 0; i < names.size() && i < kNamed; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kNamed) out += ", ...";
  return out;
}

std::vector<std::string> idsOf(const std::vector<ClusterEntry>& entries) {
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (const auto& e : entries) out.push_back(e.id);
  return out;
}

std::string what(const std::string& a, const std::string& b) {
  return "\"" + a + "\" -> \"" + b + "\"";
}

}  // namespace

ReloadPlan planReload(const ArbiterConfig& running, const ArbiterConfig& next) {
  ReloadPlan plan;
  const std::string restart = " cannot change while the arbiter runs (restart it)";
  if (running.listen != next.listen) {
    plan.refused.push_back("listen " + what(running.listen, next.listen) + restart);
  }
  if (running.stateDir != next.stateDir) {
    plan.refused.push_back("state_dir " + what(running.stateDir, next.stateDir) + restart);
  }
  if (running.quarantine != next.quarantine) {
    // Every acceptor caps its leases at the quarantine it started with; a shorter one would let
    // a re-added cluster's acceptor speak before an old, longer grant has run out.
    const auto ms = [](lease::Duration d) {
      return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
    };
    plan.refused.push_back("quarantine_ms " + what(ms(running.quarantine), ms(next.quarantine)) +
                           restart);
  }
  if (running.tls.has_value() != next.tls.has_value()) {
    plan.refused.push_back(std::string("tls ") + (next.tls ? "added" : "removed") + restart);
  } else if (running.tls &&
             (running.tls->cert != next.tls->cert || running.tls->key != next.tls->key)) {
    plan.refused.push_back(
        "tls cert/key paths" + restart +
        "; to renew the arbiter's certificate, replace the files in place (they are re-read)");
  }
  if (running.operatorApi != next.operatorApi) {
    plan.refused.push_back("operator" + restart);
  }
  if (running.metrics != next.metrics) {
    // The endpoint binds once, at start; the director refuses the same change.
    plan.refused.push_back("metrics" + restart);
  }
  if (running.logTarget != next.logTarget) {
    plan.refused.push_back("log_target " + what(running.logTarget, next.logTarget) + restart);
  }
  if (!plan.refused.empty()) return plan;

  std::map<std::string, const ClusterEntry*> before;
  for (const auto& c : running.clusters) before[c.id] = &c;
  for (const auto& c : next.clusters) {
    const auto it = before.find(c.id);
    if (it == before.end()) {
      plan.added.push_back(c);
      continue;
    }
    if (it->second->secrets != c.secrets || it->second->ca != c.ca) plan.rotated.push_back(c);
    before.erase(it);
  }
  // In the running file's order, so the log reads like the file did.
  for (const auto& c : running.clusters) {
    if (before.count(c.id)) plan.removed.push_back(c.id);
  }
  if (running.logLevel != next.logLevel) {
    plan.logLevelChanged = true;
    plan.logLevel = next.logLevel;
  }
  return plan;
}

std::string describe(const ReloadPlan& plan) {
  if (!plan.ok()) {
    std::string out = "refused:";
    for (const auto& r : plan.refused) out += " " + r + ";";
    out.pop_back();
    return out;
  }
  if (plan.changesNothing()) return "no change";
  std::vector<std::string> parts;
  const auto part = [&](std::size_t n, const char* verb, const std::vector<std::string>& names) {
    if (n > 0) parts.push_back(std::to_string(n) + " " + verb + " (" + ids(names) + ")");
  };
  part(plan.added.size(), plan.added.size() == 1 ? "cluster added" : "clusters added",
       idsOf(plan.added));
  part(plan.removed.size(), "removed", plan.removed);
  part(plan.rotated.size(), "with new credentials", idsOf(plan.rotated));
  if (plan.logLevelChanged) parts.push_back("log level " + plan.logLevel);
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out;
}

}  // namespace quorate::arbiter
