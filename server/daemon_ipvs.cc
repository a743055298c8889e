// The director's IPVS calls for the operator API: the kernel's table read on the loop thread,
// and drains made durable before the balancer applies them.
#include <spdlog/spdlog.h>

#include <cerrno>
#include <future>

#include "server/daemon.h"
#include "server/ipvs/plan.h"

namespace quorate::server {

Result<IpvsTableView> Daemon::ipvsTable() {
  // Held for the call: stop() cannot stop the loop thread under it (it takes this mutex first).
  std::lock_guard<std::mutex> lock(reloadMu_);
  if (stopping_) return Status::fail(ESHUTDOWN, "the director is stopping");
  if (!dataPlane_ || !dataPlane_->balancer() || !ports_.ipvs) {
    return Status::fail(ENOTSUP, "this director runs no virtual servers");
  }
  std::promise<Result<IpvsTableView>> answer;
  post([&] {
    // The IPVS port is the loop thread's (not thread-safe), as the reconciler uses it.
    auto dump = ports_.ipvs->dump();
    if (!dump) {
      answer.set_value(
          dump.status().withWhat("cannot read the IPVS table: " + dump.status().what()));
      return;
    }
    IpvsTableView view;
    view.services = std::move(dump).value();
    for (const auto& vs : dataPlane_->balancer()->config().virtualServers) {
      view.names.emplace(ipvs::normalized(vs.service.key), vs.name);
    }
    answer.set_value(std::move(view));
  });
  return answer.get_future().get();
}

Result<ipvs::DrainOutcome> Daemon::changeDrain(const std::string& virtualServer,
                                               const std::string& realServer, bool drain) {
  // One change at a time, and none against a configuration a reload is replacing.
  std::lock_guard<std::mutex> lock(reloadMu_);
  if (stopping_) return Status::fail(ESHUTDOWN, "the director is stopping");
  if (!dataPlane_ || !dataPlane_->balancer()) {
    return Status::fail(ENOTSUP, "this director runs no virtual servers");
  }
  std::promise<Result<ipvs::DrainOutcome>> planned;
  post([&] {
    const ipvs::Balancer& b = *dataPlane_->balancer();
    planned.set_value(ipvs::changeDrain(b.config(), b.drains(), virtualServer, realServer, drain));
  });
  auto outcome = planned.get_future().get();
  if (!outcome || !outcome->changed) return outcome;
  // The file first: a drain the kernel has but the disk lacks would end at the next restart.
  const std::string path = config_.stateDir + "/" + std::string(ipvs::kDrainsFile);
  if (const Status st = ipvs::saveDrains(path, outcome->drains); !st) {
    return st.withWhat("nothing changed: cannot write " + path + ": " + st.what());
  }
  std::promise<void> applied;
  post([&] {
    dataPlane_->balancer()->setDrains(outcome->drains);
    publishStatus();  // watchers and the Status cache see it now
    applied.set_value();
  });
  applied.get_future().wait();
  spdlog::info("ipvs: {} {}", drain ? "drained" : "enabled", outcome->key.toString());
  return outcome;
}

}  // namespace quorate::server
