// The watchdog device over Linux's watchdog API (linux/watchdog.h): open, set and read back the
// timeout, pet by ioctl or write, magic close.
#include "server/kernel/watchdog_device.h"

#include <fcntl.h>
#include <linux/watchdog.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace quorate::kernel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A pet byte: anything but 'V', which the watchdog core takes as the magic close.
constexpr char kPetByte = '.';
constexpr char kMagicClose = 'V';

Status writeByte(int fd, char c, const std::string& what) {
  ssize_t n;
  do {
    n = ::write(fd, &c, 1);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::fail(errno, what);
  if (n != 1) return Status::fail(EIO, what + " (nothing written)");
  return Status::ok();
}

class LinuxWatchdog final : public WatchdogDevice {
 public:
  LinuxWatchdog(int fd, std::string path, milliseconds timeout, bool ioctls)
      : fd_(fd), path_(std::move(path)), timeout_(timeout), ioctls_(ioctls) {}
  ~LinuxWatchdog() override {
    // Not disarmed: closing without the magic 'V' leaves the countdown running, which is what a
    // director that did not stop cleanly should get.
    if (fd_ >= 0) ::close(fd_);
  }
  LinuxWatchdog(const LinuxWatchdog&) = delete;
  LinuxWatchdog& operator=(const LinuxWatchdog&) = delete;

  Status pet() override {
    if (fd_ < 0) return Status::fail(EBADF, "pet watchdog " + path_ + " (disarmed)");
    if (ioctls_ && keepaliveIoctl_) {
      int unused = 0;
      if (::ioctl(fd_, WDIOC_KEEPALIVE, &unused) == 0) return Status::ok();
      // A driver without WDIOF_KEEPALIVEPING: every write pets it too.
      if (errno != EOPNOTSUPP && errno != ENOTTY && errno != EINVAL) {
        return Status::fail(errno, "pet watchdog " + path_ + " (WDIOC_KEEPALIVE)");
      }
      keepaliveIoctl_ = false;
    }
    return writeByte(fd_, kPetByte, "pet watchdog " + path_);
  }

  Status disarm() override {
    if (fd_ < 0) return Status::fail(EBADF, "disarm watchdog " + path_ + " (already closed)");
    const Status st = writeByte(fd_, kMagicClose, "disarm watchdog " + path_ + " (magic close)");
    ::close(fd_);
    fd_ = -1;
    return st;
  }

  milliseconds timeout() const override { return timeout_; }
  bool takesIoctls() const override { return ioctls_; }
  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
  milliseconds timeout_;
  bool ioctls_;
  bool keepaliveIoctl_ = true;
};

}  // namespace

Result<OpenedWatchdog> openWatchdog(const std::string& path, milliseconds timeout) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::fail(errno, "open watchdog " + path);
  // Any failure from here on: the countdown started at the open, so stop it before giving up.
  auto giveUp = [&](int err, const std::string& what) -> Result<OpenedWatchdog> {
    (void)LinuxWatchdog(fd, path, timeout, false).disarm();
    return Status::fail(err, "watchdog " + path + ": " + what);
  };

  int current = 0;
  if (::ioctl(fd, WDIOC_GETTIMEOUT, &current) != 0) {
    const int err = errno;
    if (err != ENOTTY) return giveUp(err, "WDIOC_GETTIMEOUT");
    // A character device without the ioctls is some other device (a typo: /dev/null, a tty):
    // pets would go nowhere while the operator believes the host self-fences. Refused, and
    // closed without writing to it.
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode)) {
      ::close(fd);
      return Status::fail(ENOTTY, "watchdog " + path +
                                      ": a character device that takes no watchdog ioctls: "
                                      "not a watchdog");
    }
    // Not a watchdog: a FIFO or a file (a test double). Nothing in the kernel counts; the
    // requested timeout is what the caller must assume.
    OpenedWatchdog out;
    out.device = std::make_unique<LinuxWatchdog>(fd, path, timeout, false);
    out.warning = "watchdog " + path +
                  " takes no watchdog ioctls (not a watchdog device: a FIFO or a file); "
                  "assuming its timeout is the configured " +
                  std::to_string(timeout.count()) +
                  " ms. Nothing reboots this host unless whatever reads it does";
    return out;
  }
  int secs = static_cast<int>(std::chrono::duration_cast<seconds>(timeout).count());
  if (secs < 1) {
    return giveUp(EINVAL, "a timeout of " + std::to_string(timeout.count()) +
                              " ms is under the device's granularity of 1 s");
  }
  // EOPNOTSUPP: a driver with a fixed timeout; what it counts is read back below.
  if (::ioctl(fd, WDIOC_SETTIMEOUT, &secs) != 0 && errno != EOPNOTSUPP) {
    return giveUp(errno, "WDIOC_SETTIMEOUT " + std::to_string(secs) + " s");
  }
  int granted = 0;
  if (::ioctl(fd, WDIOC_GETTIMEOUT, &granted) != 0) return giveUp(errno, "WDIOC_GETTIMEOUT");
  const milliseconds grantedMs = seconds(granted);
  if (granted <= 0) {
    return giveUp(EINVAL, "the driver reports a timeout of " + std::to_string(granted) + " s");
  }
  if (grantedMs > timeout) {
    return giveUp(ERANGE, "the driver granted a timeout of " + std::to_string(granted) +
                              " s, longer than the configured " + std::to_string(timeout.count()) +
                              " ms the lease timing was checked for");
  }
  OpenedWatchdog out;
  out.device = std::make_unique<LinuxWatchdog>(fd, path, grantedMs, true);
  return out;
}

}  // namespace quorate::kernel
