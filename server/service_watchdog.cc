// The service watchdog's tick: is the loop on time, did the checks' thread answer, then pet.
#include "server/service_watchdog.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <string>

namespace quorate::server {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

std::int64_t toMs(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

ServiceWatchdog::ServiceWatchdog(boost::asio::io_context& loop, Options options)
    : options_(std::move(options)),
      timer_(loop),
      freezeTimer_(loop),
      checksAnswered_(std::make_shared<std::atomic<std::int64_t>>(nowNs())) {}

ServiceWatchdog::~ServiceWatchdog() {
  stopThread_ = true;
  if (anyThread_.joinable()) anyThread_.join();
}

void ServiceWatchdog::start() {
  running_ = true;
  checksAnswered_->store(nowNs());
  if (!options_.freezeLoopFile.empty()) scheduleFreezeCheck();
  if (options_.petFromAnyThread) {
    spdlog::critical("TEST BUILD: systemd's watchdog is petted from its own thread");
    anyThread_ = std::thread([this] {
      while (!stopThread_) {
        options_.pet();
        counters_.pets.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::sleep_for(petEvery());
      }
    });
    return;
  }
  tick();
  schedule();
}

void ServiceWatchdog::stop() {
  running_ = false;
  timer_.cancel();
  freezeTimer_.cancel();
  stopThread_ = true;
}

void ServiceWatchdog::schedule() {
  timer_.expires_after(petEvery());
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    tick();
    schedule();
  });
}

bool ServiceWatchdog::tick() {
  const auto now = SteadyClock::now();
  const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.interval);
  std::string why;
  if (options_.leaseTimerDue) {
    const auto due = options_.leaseTimerDue();
    if (now - due > interval) {
      why = "the lease timer is " + std::to_string(toMs(now - due)) + " ms overdue";
    }
  }
  if (options_.toChecks) {
    const auto silent = std::chrono::nanoseconds(nowNs() - checksAnswered_->load());
    if (why.empty() && silent > interval) {
      why =
          "the health checks' thread has not answered for " + std::to_string(toMs(silent)) + " ms";
    }
    options_.toChecks([answered = checksAnswered_] { answered->store(nowNs()); });
  }
  if (!why.empty()) {
    counters_.withheld.fetch_add(1, std::memory_order_relaxed);
    if (withheldRun_++ == 0) {
      spdlog::error("not telling systemd we are alive (WATCHDOG=1): {}", why);
    }
    return false;
  }
  if (withheldRun_ > 0) {
    spdlog::warn("telling systemd we are alive again after {} withheld pets", withheldRun_);
    withheldRun_ = 0;
  }
  options_.pet();
  counters_.pets.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void ServiceWatchdog::scheduleFreezeCheck() {
  freezeTimer_.expires_after(std::chrono::milliseconds(20));
  freezeTimer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    if (::access(options_.freezeLoopFile.c_str(), F_OK) == 0) {
      spdlog::critical("TEST BUILD: the loop thread is frozen while {} exists",
                       options_.freezeLoopFile);
      while (::access(options_.freezeLoopFile.c_str(), F_OK) == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      spdlog::critical("TEST BUILD: the loop thread thaws");
    }
    scheduleFreezeCheck();
  });
}

}  // namespace quorate::server
