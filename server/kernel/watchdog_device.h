// The watchdog device (/dev/watchdog, Linux's watchdog API): opened once, petted while the
// director may live, disarmed on a clean stop. The only code that talks to it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"

namespace quorate::kernel {

class WatchdogDevice {
 public:
  virtual ~WatchdogDevice() = default;
  // Restarts the device's countdown (WDIOC_KEEPALIVE, or a one-byte write on a device without
  // the ioctl). Fails with the errno of the write (e.g. EPIPE when a FIFO lost its reader,
  // EAGAIN when its buffer is full), naming the device; the countdown then runs on.
  virtual Status pet() = 0;
  // Clean stop: writes the magic 'V' and closes, which stops the countdown, except on a driver
  // with nowayout (built in, or softdog's nowayout=1), which ignores it and will reboot the host
  // once the last pet's timeout passes. Fails with the errno of the write, naming the device;
  // the descriptor is closed either way. pet() and disarm() fail with EBADF afterwards.
  virtual Status disarm() = 0;
  // The timeout the device counts: what the driver granted (WDIOC_GETTIMEOUT), or the
  // requested one on a device without the ioctls.
  virtual std::chrono::milliseconds timeout() const = 0;
  // False on a device without the watchdog ioctls (a FIFO, a regular file: a test double).
  virtual bool takesIoctls() const = 0;
  virtual const std::string& path() const = 0;
};

struct OpenedWatchdog {
  std::unique_ptr<WatchdogDevice> device;
  // Set when the device was accepted with a caveat (no ioctls: the requested timeout is
  // assumed, nothing in the kernel counts it); for the log.
  std::optional<std::string> warning;
};

// Opens `path` (O_WRONLY|O_CLOEXEC|O_NONBLOCK: a FIFO without a reader fails with ENXIO instead
// of blocking the start) and sets its timeout to `timeout` rounded down to whole seconds, the
// ioctl's unit (WDIOC_SETTIMEOUT), then reads back what the driver granted (WDIOC_GETTIMEOUT).
// Opening a real device starts its countdown: pet it within timeout() from here on.
// Fails, naming the device, with the errno of open (ENOENT, EACCES, EBUSY: another process
// holds it, ENXIO), of an ioctl other than ENOTTY, with EINVAL when `timeout` is under 1 s on
// a device that counts seconds, and with ERANGE when the driver granted more than `timeout`
// (the lease timing was checked for `timeout`; a longer countdown may reboot too late). On a
// failure after the open the device is disarmed before the error is returned.
Result<OpenedWatchdog> openWatchdog(const std::string& path, std::chrono::milliseconds timeout);

}  // namespace quorate::kernel
