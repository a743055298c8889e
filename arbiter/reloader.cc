// SIGHUP in the arbiter: parse, plan, apply, log; the running configuration kept on any failure.
#include "arbiter/reloader.h"

#include <spdlog/spdlog.h>

#include "arbiter/reload.h"
#include "common/config_error.h"

namespace quorate::arbiter {

bool Reloader::reload() {
  ArbiterConfig next;
  try {
    next = loadArbiterConfig(running_.path);
  } catch (const ConfigError& e) {
    service_.countReload(false);
    spdlog::error("SIGHUP: reload refused, running configuration kept: {}", e.what());
    return false;
  }
  next.testFaults = running_.testFaults;  // never from a file
  const ReloadPlan plan = planReload(running_, next);
  if (!plan.ok()) {
    service_.countReload(false);
    spdlog::error("SIGHUP: reload of {} {}; running configuration kept", running_.path,
                  describe(plan));
    return false;
  }
  if (const Status st = service_.apply(plan, clock_); !st) {
    service_.countReload(false);
    spdlog::error("SIGHUP: reload of {} failed, running configuration kept: {}", running_.path,
                  st.what());
    return false;
  }
  for (const auto& id : plan.removed) {
    spdlog::info(
        "cluster {} removed: its requests are refused from now on; its state stays in {} (adding "
        "it back resumes from it)",
        id, running_.stateDir);
  }
  for (const auto& e : plan.added)
    spdlog::info("cluster {} added (quiet for the quarantine)", e.id);
  for (const auto& e : plan.rotated) spdlog::info("cluster {}: new keys or CA bundle in use", e.id);
  running_ = std::move(next);
  service_.countReload(true);
  spdlog::info("SIGHUP: reloaded {}: {}; serving {} clusters", running_.path, describe(plan),
               running_.clusters.size());
  // After the line above, so that it is logged even when the new level is quieter.
  if (plan.logLevelChanged) {
    // Checked by the parser already: a known level name.
    spdlog::default_logger()->set_level(spdlog::level::from_str(plan.logLevel));
  }
  return true;
}

}  // namespace quorate::arbiter
