// Unit tests of the keepalived-compatible renderings of a HookEvent: argv, environment, the
// notify_fifo line, and names that try to break out of them.
#include "server/hooks/hook_event.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace quorate::server::hooks {
namespace {

using Strings = std::vector<std::string>;

HookEvent holderEvent() {
  HookEvent e;
  e.lease = "web";
  e.kind = HookKind::kBecameHolder;
  e.epoch = 42;
  e.previousHolder = "beta";
  e.reason = "won the lease";
  e.priority = 100;
  return e;
}

TEST(HookEventTest, KeepalivedStatesAndEventNames) {
  EXPECT_EQ(keepalivedState(HookKind::kBecameHolder), "MASTER");
  EXPECT_EQ(keepalivedState(HookKind::kBecameStandby), "BACKUP");
  EXPECT_EQ(keepalivedState(HookKind::kFault), "FAULT");
  EXPECT_EQ(keepalivedState(HookKind::kQuorumLost), "FAULT");
  EXPECT_EQ(keepalivedState(HookKind::kStopping), "STOP");
  EXPECT_EQ(kindName(HookKind::kQuorumLost), "quorum-lost");
  EXPECT_EQ(kindName(HookKind::kBecameStandby), "became-standby");
}

TEST(HookEventTest, ArgvIsKeepalivedsForAnInstanceAndAGroup) {
  HookEvent e = holderEvent();
  EXPECT_EQ(notifyArgv({"/etc/quorate/notify.sh"}, e),
            (Strings{"/etc/quorate/notify.sh", "INSTANCE", "web", "MASTER", "100"}));
  // A configured command with its own arguments keeps them first, as keepalived does.
  e.kind = HookKind::kBecameStandby;
  e.syncGroup = "lvs";
  e.priority = 50;
  EXPECT_EQ(notifyArgv({"/x.sh", "backup"}, e),
            (Strings{"/x.sh", "backup", "GROUP", "lvs", "BACKUP", "0"}));  // keepalived's 0
}

TEST(HookEventTest, EnvironmentCarriesEpochPreviousHolderAndReason) {
  HookEvent e = holderEvent();
  EXPECT_EQ(notifyEnvironment(e),
            (Strings{"QUORATE_LEASE=web", "QUORATE_GROUP=", "QUORATE_EVENT=became-holder",
                     "QUORATE_STATE=MASTER", "QUORATE_EPOCH=42", "QUORATE_PREVIOUS_HOLDER=beta",
                     "QUORATE_REASON=won the lease", "QUORATE_PRIORITY=100"}));
  e.kind = HookKind::kQuorumLost;
  e.syncGroup = "lvs";
  e.previousHolder.clear();
  const Strings env = notifyEnvironment(e);
  EXPECT_NE(std::find(env.begin(), env.end(), "QUORATE_GROUP=lvs"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "QUORATE_EVENT=quorum-lost"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "QUORATE_STATE=FAULT"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "QUORATE_PREVIOUS_HOLDER="), env.end());
}

TEST(HookEventTest, FifoLineIsKeepalivedsFormat) {
  HookEvent e = holderEvent();
  EXPECT_EQ(notifyFifoLine(e), "INSTANCE \"web\" MASTER 100\n");
  e.kind = HookKind::kStopping;
  e.syncGroup = "lvs";
  EXPECT_EQ(notifyFifoLine(e), "GROUP \"lvs\" STOP 0\n");  // a group's priority is 0, as keepalived's
}

// A name with quotes, newlines, a NUL and an escape sequence stays one field of one line.
TEST(HookEventTest, HostileNameCannotAddLinesOrFields) {
  HookEvent e = holderEvent();
  e.lease = std::string("a\" BACKUP 1\nINSTANCE \"b\\", 24) + std::string(1, '\0') + "\x1b[2J";
  e.reason = "x\ny";
  const std::string line = notifyFifoLine(e);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\0'), std::string::npos);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_EQ(line, "INSTANCE \"a%22 BACKUP 1%0AINSTANCE %22b%5C%00%1B[2J\" MASTER 100\n");
  // The name is everything between the first two quotes: exactly two quotes on the line.
  EXPECT_EQ(std::count(line.begin(), line.end(), '"'), 2);

  const Strings argv = notifyArgv({"/n.sh"}, e);
  ASSERT_EQ(argv.size(), 5u);
  EXPECT_EQ(argv[2], "a\" BACKUP 1%0AINSTANCE \"b%5C%00%1B[2J");
  for (const std::string& entry : notifyEnvironment(e)) {
    EXPECT_EQ(entry.find('\n'), std::string::npos) << entry;
    EXPECT_EQ(entry.find('\0'), std::string::npos) << entry;
  }
}

// Review (issue 14): a hook's output goes to the log through escapeControl. C1 controls
// encoded in UTF-8 (U+009B is CSI to xterm and others: "\xc2\x9b2J" clears the screen of
// whoever tails the log) passed through; other UTF-8 text must stay as it is.
TEST(HookEventTest, Utf8EncodedC1ControlsAreEscapedAndOtherUtf8Kept) {
  EXPECT_EQ(escapeControl("a\xc2\x9b"
                          "2Jb\xc2\x85"),
            "a%C2%9B2Jb%C2%85");
  EXPECT_EQ(escapeControl("caf\xc3\xa9 \xe2\x80\x94 \xc2\xa0\xc2\xbf"),
            "caf\xc3\xa9 \xe2\x80\x94 \xc2\xa0\xc2\xbf");
  EXPECT_EQ(escapeControl("end\xc2"), "end\xc2");
}

TEST(HookEventTest, EscapesAreUnambiguousAndPlainNamesUntouched) {
  EXPECT_EQ(escapeControl("web-1_a.b:c/d"), "web-1_a.b:c/d");
  EXPECT_EQ(escapeControl("tab\there\r"), "tab%09here%0D");
  EXPECT_EQ(escapeControl("del\x7f"), "del%7F");
  // '%' and '\\' are encoded too: a literal "%0A" or "\\n" in a name is not read as a newline
  // (by a decoder, or by dash's echo, which expands backslash escapes).
  EXPECT_EQ(escapeControl("a%0Ab"), "a%250Ab");
  EXPECT_EQ(escapeControl("a\\nb"), "a%5Cnb");
  EXPECT_NE(escapeControl("a%0Ab"), escapeControl("a\nb"));
  EXPECT_EQ(escapeControl("say \"hi\""), "say \"hi\"");
  EXPECT_EQ(escapeQuoted("say \"hi\""), "say %22hi%22");
}

}  // namespace
}  // namespace quorate::server::hooks
