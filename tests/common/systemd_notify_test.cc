// The sd_notify wrapper against a real datagram socket the test binds as $NOTIFY_SOCKET.
#include "common/systemd_notify.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "support/notify_socket.h"
#include "support/temp_dir.h"

namespace quorate::systemd {
namespace {

using std::chrono::milliseconds;
using testutil::NotifySocket;

// Sets or clears an environment variable for one test and puts it back afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(SystemdNotify, SendsReadyStatusAndPetsToTheSocket) {
  testutil::TempDir dir("notify");
  NotifySocket socket(dir.path() + "/notify");
  ScopedEnv env("NOTIFY_SOCKET", socket.path().c_str());
  ASSERT_TRUE(notifying());

  ASSERT_TRUE(ready("serving 2 leases").isOk());
  auto m = socket.receive(milliseconds(2000));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text, "READY=1\nSTATUS=serving 2 leases");
  EXPECT_EQ(m->pid, ::getpid());

  ASSERT_TRUE(pet().isOk());
  m = socket.receive(milliseconds(2000));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text, "WATCHDOG=1");

  ASSERT_TRUE(stopping().isOk());
  m = socket.receive(milliseconds(2000));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text, "STOPPING=1");
}

TEST(SystemdNotify, AReloadIsBracketedByReloadingAndReady) {
  testutil::TempDir dir("notify");
  NotifySocket socket(dir.path() + "/notify");
  ScopedEnv env("NOTIFY_SOCKET", socket.path().c_str());
  { const ReloadNotice reload; }
  auto m = socket.receive(milliseconds(2000));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << m->text;
  m = socket.receive(milliseconds(2000));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text, "READY=1");
}

TEST(SystemdNotify, NothingIsSentWithoutNotifySocket) {
  testutil::TempDir dir("notify");
  NotifySocket socket(dir.path() + "/notify");
  ScopedEnv env("NOTIFY_SOCKET", nullptr);
  EXPECT_FALSE(notifying());
  EXPECT_TRUE(ready("x").isOk());
  EXPECT_TRUE(pet().isOk());
  EXPECT_TRUE(reloading().isOk());
  EXPECT_FALSE(socket.receive(milliseconds(100)));
}

TEST(SystemdNotify, AnUnreachableSocketIsAnErrorValue) {
  testutil::TempDir dir("notify");
  const std::string missing = dir.path() + "/nobody-listens";
  ScopedEnv env("NOTIFY_SOCKET", missing.c_str());
  const Status st = pet();
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("WATCHDOG=1"), std::string::npos) << st.message();
}

TEST(SystemdNotify, WatchdogIntervalFollowsTheEnvironment) {
  {
    ScopedEnv usec("WATCHDOG_USEC", "600000");
    ScopedEnv pid("WATCHDOG_PID", nullptr);
    EXPECT_EQ(watchdogInterval(), std::chrono::microseconds(600000));
  }
  {
    // Meant for another process (a parent that started us): off for us.
    const std::string other = std::to_string(::getpid() + 1);
    ScopedEnv usec("WATCHDOG_USEC", "600000");
    ScopedEnv pid("WATCHDOG_PID", other.c_str());
    EXPECT_EQ(watchdogInterval().count(), 0);
  }
  {
    ScopedEnv usec("WATCHDOG_USEC", "soon");
    EXPECT_EQ(watchdogInterval().count(), 0);
  }
  ScopedEnv usec("WATCHDOG_USEC", nullptr);
  EXPECT_EQ(watchdogInterval().count(), 0);
}

}  // namespace
}  // namespace quorate::systemd
