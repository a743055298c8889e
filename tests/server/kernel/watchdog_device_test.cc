// The watchdog port against its test double (a FIFO read by tests/support/watchdog_double.h) and
// against what is not a watchdog: a regular file (ENOTTY), a directory, a missing path, a FIFO
// nobody reads. Never a real watchdog device: opening one would arm it.
#include "server/kernel/watchdog_device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "tests/support/temp_dir.h"
#include "tests/support/watchdog_double.h"

namespace quorate::kernel {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

// Polls `pred` every millisecond for up to `limit`.
template <class Pred>
bool eventually(Pred pred, milliseconds limit = milliseconds(5000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return pred();
}

std::string contents(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(WatchdogDevice, AFifoIsAcceptedWithTheConfiguredTimeoutAndAWarningAndCountsEachPet) {
  testutil::TempDir dir;
  testutil::WatchdogDouble dbl(dir.file("watchdog"), milliseconds(2000));
  auto opened = openWatchdog(dbl.path(), milliseconds(1500));
  ASSERT_TRUE(opened) << opened.status().message();
  ASSERT_TRUE(opened->warning);
  EXPECT_THAT(*opened->warning, HasSubstr(dbl.path()));
  EXPECT_THAT(*opened->warning, HasSubstr("1500 ms"));
  auto& dev = *opened.value().device;
  EXPECT_FALSE(dev.takesIoctls());
  EXPECT_EQ(dev.timeout(), milliseconds(1500));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(dev.pet());
  ASSERT_TRUE(eventually([&] { return dbl.petCount() == 3; })) << dbl.petCount();
  ASSERT_TRUE(dev.disarm());
  ASSERT_TRUE(eventually([&] { return dbl.disarmed(); }));
  EXPECT_FALSE(dbl.firedNs());
  EXPECT_EQ(dbl.petCount(), 3u);
  // Disarmed means closed: nothing more reaches the device.
  const Status again = dev.pet();
  EXPECT_FALSE(again);
  EXPECT_EQ(again.err(), EBADF);
  EXPECT_THAT(again.message(), HasSubstr(dbl.path()));
}

TEST(WatchdogDevice, ClosingWithoutTheMagicCloseLeavesTheCountdownRunningAndTheDoubleFires) {
  testutil::TempDir dir;
  testutil::WatchdogDouble dbl(dir.file("watchdog"), milliseconds(50));
  {
    auto opened = openWatchdog(dbl.path(), milliseconds(50));
    ASSERT_TRUE(opened) << opened.status().message();
    ASSERT_TRUE(opened.value().device->pet());
    ASSERT_TRUE(eventually([&] { return dbl.petCount() == 1; }));
  }  // destroyed without disarm(): a director that died
  ASSERT_TRUE(eventually([&] { return dbl.firedNs().has_value(); }));
  EXPECT_FALSE(dbl.disarmed());
  EXPECT_EQ(*dbl.firedNs(), dbl.pets().back() + 50'000'000);
}

TEST(WatchdogDevice, PetsKeepTheDoubleFromFiringAndItFiresOnceThePetsStop) {
  testutil::TempDir dir;
  testutil::WatchdogDouble dbl(dir.file("watchdog"), milliseconds(500));
  auto opened = openWatchdog(dbl.path(), milliseconds(500));
  ASSERT_TRUE(opened) << opened.status().message();
  auto& dev = *opened.value().device;
  // Ten pets 10 ms apart: far inside the countdown each time.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(dev.pet());
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_TRUE(eventually([&] { return dbl.petCount() == 10; }));
  EXPECT_FALSE(dbl.firedNs()) << "fired while petted";
  ASSERT_TRUE(eventually([&] { return dbl.firedNs().has_value(); }));
  EXPECT_EQ(*dbl.firedNs(), dbl.pets().back() + 500'000'000);
  (void)dev.disarm();
}

TEST(WatchdogDevice, ARegularFileTakesNoIoctlsAndGetsThePetBytesAndTheMagicClose) {
  testutil::TempDir dir;
  const std::string path = dir.write("not-a-watchdog", "");
  auto opened = openWatchdog(path, milliseconds(3000));
  ASSERT_TRUE(opened) << opened.status().message();
  ASSERT_TRUE(opened->warning);
  EXPECT_THAT(*opened->warning, HasSubstr("takes no watchdog ioctls"));
  auto& dev = *opened.value().device;
  EXPECT_EQ(dev.timeout(), milliseconds(3000));
  ASSERT_TRUE(dev.pet());
  ASSERT_TRUE(dev.pet());
  ASSERT_TRUE(dev.disarm());
  EXPECT_EQ(contents(path), "..V");
}

// Review (issue 14): a device that is not a watchdog (a typo'd /dev/null, a tty) was taken as
// a test double with only a warning: pets went nowhere and the operator believed the host
// self-fenced. A character device that takes no watchdog ioctls is refused, and nothing (no
// magic 'V') is written to it.
TEST(WatchdogDevice, ACharacterDeviceThatIsNoWatchdogIsRefused) {
  auto opened = openWatchdog("/dev/null", milliseconds(3000));
  ASSERT_FALSE(opened) << "/dev/null taken as a watchdog";
  EXPECT_EQ(opened.status().err(), ENOTTY);
  EXPECT_THAT(opened.status().message(), HasSubstr("/dev/null"));
  EXPECT_THAT(opened.status().message(), HasSubstr("not a watchdog"));
}

TEST(WatchdogDevice, WhatCannotBeOpenedIsAnErrorNamingTheDevice) {
  testutil::TempDir dir;
  const std::string missing = dir.file("missing");
  auto a = openWatchdog(missing, milliseconds(1000));
  ASSERT_FALSE(a);
  EXPECT_EQ(a.status().err(), ENOENT);
  EXPECT_THAT(a.status().message(), HasSubstr(missing));

  auto b = openWatchdog(dir.path(), milliseconds(1000));
  ASSERT_FALSE(b);
  EXPECT_EQ(b.status().err(), EISDIR);
  EXPECT_THAT(b.status().message(), HasSubstr(dir.path()));

  // A FIFO nobody reads: at once, not a start that hangs.
  const std::string fifo = dir.file("unread");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto c = openWatchdog(fifo, milliseconds(1000));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.status().err(), ENXIO);
  EXPECT_THAT(c.status().message(), HasSubstr(fifo));
}

TEST(WatchdogDevice, APetIntoAFifoWhoseReaderIsGoneFailsWithoutKillingTheProcess) {
  testutil::TempDir dir;
  std::optional<testutil::WatchdogDouble> dbl;
  dbl.emplace(dir.file("watchdog"), milliseconds(1000));
  const std::string path = dbl->path();
  auto opened = openWatchdog(path, milliseconds(1000));
  ASSERT_TRUE(opened) << opened.status().message();
  dbl.reset();  // the reader closes
  // The daemon ignores SIGPIPE (common/signals.cc); so does this test, for this write.
  struct sigaction ignore {};
  struct sigaction old {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &old), 0);
  const Status st = opened.value().device->pet();
  ::sigaction(SIGPIPE, &old, nullptr);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.err(), EPIPE);
  EXPECT_THAT(st.message(), HasSubstr(path));
}

}  // namespace
}  // namespace quorate::kernel
