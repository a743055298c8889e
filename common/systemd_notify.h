// Telling systemd how the daemon is doing (sd_notify): ready, reloading, stopping, alive.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"

namespace quorate::systemd {

// Every call below does nothing and succeeds when $NOTIFY_SOCKET is unset (not started by
// systemd as Type=notify); otherwise it fails with the errno of the send, never aborts.

// Whether $NOTIFY_SOCKET is set, i.e. someone listens to what we say.
bool notifying();
// "READY=1", with "STATUS=<status>" when status is not empty: start-up is over.
Status ready(std::string_view status = {});
// "STATUS=<text>": a line `systemctl status` shows.
Status status(std::string_view text);
// "STOPPING=1": a planned stop has begun.
Status stopping();
// "RELOADING=1" (with MONOTONIC_USEC, which systemd 253's Type=notify-reload wants): a reload
// has begun; send ready() once it is over, whatever its outcome.
Status reloading();
// A reload from construction to destruction: RELOADING=1, then READY=1 whatever the outcome.
class ReloadNotice {
 public:
  ReloadNotice() { (void)reloading(); }
  ~ReloadNotice() { (void)ready(); }
  ReloadNotice(const ReloadNotice&) = delete;
  ReloadNotice& operator=(const ReloadNotice&) = delete;
};
// "WATCHDOG=1": the daemon is alive. Only sent by code that has checked that it is.
Status pet();
// How often systemd expects pet() at the latest ($WATCHDOG_USEC, for this process when
// $WATCHDOG_PID is set); zero when the watchdog is off or the variables are malformed.
std::chrono::microseconds watchdogInterval();

}  // namespace quorate::systemd
