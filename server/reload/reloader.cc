// Re-reads the director's file and applies what may change: the one path of SIGHUP and of the
// operator API's Reload.
#include "server/reload/reloader.h"

#include <spdlog/spdlog.h>

#include "common/config_error.h"
#include "common/yaml_config.h"
#include "server/daemon.h"
#include "server/privileges.h"
#include "server/reload/plan.h"

namespace quorate::server::reload {

Reloader::Reloader(Daemon& daemon, std::string path, DirectorConfig running,
                   std::string runningText, privileges::CapMask kept)
    : daemon_(daemon),
      path_(std::move(path)),
      kept_(kept),
      running_(std::move(running)),
      runningText_(std::move(runningText)) {}

v1::ReloadReply Reloader::reload(const std::string& via) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::ReloadReply reply;
  auto refuse = [&](const std::string& why) {
    reply.set_applied(false);
    reply.add_refused(why);
  };
  std::string text;
  ReloadPlan plan;
  DirectorConfig next;
  try {
    text = config::readConfigFile(path_);
    next = parseDirectorConfig(text, path_);
    plan = planReload(running_, runningText_, next, text);
    // What was dropped cannot come back: scripts as another user need what was kept for them.
    if (const auto need = directorCapabilities(next) & ~kept_; need != 0) {
      plan.refused.push_back("its scripts run as another user, which needs " +
                             privileges::capNames(need) +
                             " (dropped at start); restart the director");
    }
  } catch (const ConfigError& e) {
    plan.refused.push_back(e.what());
  }
  std::string detail;  // what the virtual servers' reconciliation did
  bool partial = false;
  if (!plan.accepted()) {
    for (const auto& r : plan.refused) refuse(r);
  } else {
    const ReloadResult r = daemon_.applyReload(next, plan);
    reply.set_applied(r.applied);
    if (!r.applied) reply.add_refused(r.text);
    if (r.applied) {
      for (const auto& c : plan.changes) reply.add_changes(c);
      detail = r.text;
    }
    // Applied in part, the director runs the new file but for the leases named: compared with
    // the old one, a reload of the old file would find nothing to undo.
    partial = r.partial;
    if (r.applied || r.partial) {
      running_ = std::move(next);
      runningText_ = std::move(text);
    }
  }
  if (reply.applied()) {
    std::string s = plan.changes.empty() ? "reload: no change" : "reload " + plan.summary();
    if (!detail.empty()) s += plan.changes.empty() ? " (" + detail + ")" : "; " + detail;
    reply.set_summary(s);
  } else {
    std::string all;
    for (const auto& r : reply.refused()) all += (all.empty() ? "" : "; ") + r;
    reply.set_summary(partial ? "reload applied in part, the new file runs but for: " + all
                              : "reload refused, running configuration kept: " + all);
  }
  if (reply.applied()) {
    spdlog::info("{}: {}", via, reply.summary());
  } else {
    spdlog::error("{}: {}", via, reply.summary());
  }
  if (auto* log = daemon_.events()) {
    log->append({{"event", "reload"},
                 {"via", via},
                 {"applied", reply.applied()},
                 {"summary", reply.summary()}});
  }
  return reply;
}

}  // namespace quorate::server::reload
