// One lease transition as a value, and the pure functions that turn it into what a notify program
// sees: keepalived-compatible arguments, QUORATE_* environment variables and a notify_fifo line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quorate::server::hooks {

// What happened to this director's hold on one lease.
enum class HookKind {
  kBecameHolder,   // keepalived MASTER
  kBecameStandby,  // keepalived BACKUP
  kFault,          // keepalived FAULT: own health failing, fence error, ...
  kStopping,       // keepalived STOP: the director shuts down
  kQuorumLost,     // keepalived FAULT too; QUORATE_EVENT tells the two apart
  kPreClaim,       // gating: the lease is won, its VIPs not claimed yet (state MASTER)
  kPreRelease,     // gating: a planned step-down, the VIPs not released yet (state BACKUP)
};

struct HookEvent {
  std::string lease;                     // the lease (keepalived: the vrrp_instance name)
  std::optional<std::string> syncGroup;  // set: the event is about a group (keepalived GROUP)
  HookKind kind = HookKind::kBecameStandby;
  std::uint64_t epoch = 0;     // the lease epoch the transition happened in (a fencing token)
  std::string previousHolder;  // node name of the holder before; empty when none was known
  std::string reason;          // free text for people ("renewal failed: no quorum")
  int priority = 0;            // keepalived's fourth argument
};

// "MASTER", "BACKUP", "FAULT" or "STOP": the state a keepalived notify script expects in $3.
std::string_view keepalivedState(HookKind kind);
// "became-holder", "became-standby", "fault", "stopping", "quorum-lost", "pre-claim",
// "pre-release" (QUORATE_EVENT).
std::string_view kindName(HookKind kind);

// Makes a name safe for line-oriented consumers: control characters (newline, NUL, ESC, ...),
// DEL, '%' and '\' become %HH (percent-encoding, as in URLs), so the result never spans two
// lines, never truncates at a NUL, and survives an `echo` that interprets backslash escapes
// (dash's does: a backslash-escaped "\n" would become a newline again). Quotes are kept:
// argv and environment values reach the program without a shell.
std::string escapeControl(std::string_view text);
// escapeControl() and a double quote as %22, for a value written between double quotes.
std::string escapeQuoted(std::string_view text);

// The argv of a keepalived-style notify program:
//   <program...> INSTANCE|GROUP <name> MASTER|BACKUP|FAULT|STOP <priority>
// `program` is the configured command (its own arguments first, as keepalived allows with
// "notify_master \"/x.sh arg\""); the name is one argument, escaped with escapeControl().
std::vector<std::string> notifyArgv(const std::vector<std::string>& program,
                                    const HookEvent& event);

// "KEY=value" entries: QUORATE_LEASE, QUORATE_GROUP (empty when none), QUORATE_EVENT,
// QUORATE_STATE, QUORATE_EPOCH, QUORATE_PREVIOUS_HOLDER, QUORATE_REASON, QUORATE_PRIORITY.
// Values are escaped with escapeControl() so each is a single line.
std::vector<std::string> notifyEnvironment(const HookEvent& event);

// The keepalived notify_fifo line: INSTANCE "name" MASTER 100\n (GROUP for a sync group). The
// name is escaped with escapeQuoted(), so a reader splitting on lines and on the closing quote
// sees exactly one record of four fields.
std::string notifyFifoLine(const HookEvent& event);

}  // namespace quorate::server::hooks
