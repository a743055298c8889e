// sd_notify over libsystemd; silent and successful outside systemd.
#include "common/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <ctime>

namespace quorate::systemd {
namespace {

Status send(const std::string& state) {
  if (!notifying()) return Status::ok();
  // unset_environment = 0: every later message goes to the same socket.
  const int r = sd_notify(0, state.c_str());
  if (r < 0) return Status::fail(-r, "sd_notify(" + state.substr(0, state.find('\n')) + ")");
  return Status::ok();
}

}  // namespace

bool notifying() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return socket != nullptr && *socket != '\0';
}

Status ready(std::string_view status) {
  std::string state = "READY=1";
  if (!status.empty()) state += "\nSTATUS=" + std::string(status);
  return send(state);
}

Status status(std::string_view text) { return send("STATUS=" + std::string(text)); }

Status stopping() { return send("STOPPING=1"); }

Status reloading() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const long long usec = static_cast<long long>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1'000;
  return send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

Status pet() { return send("WATCHDOG=1"); }

std::chrono::microseconds watchdogInterval() {
  std::uint64_t usec = 0;
  // > 0: enabled for us; 0: off or meant for another process; < 0: malformed variables.
  if (sd_watchdog_enabled(0, &usec) <= 0) return std::chrono::microseconds(0);
  return std::chrono::microseconds(usec);
}

}  // namespace quorate::systemd
