// Least privilege for the daemons: narrowing the capability sets of every thread of the process
// to a few kept capabilities (no_new_privs set, ambient and inheritable cleared), and reading a
// task's sets back from /proc for checks and tests.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace quorate::privileges {

// A set of capabilities as the kernel's bit mask (bit n is capability n of linux/capability.h).
using CapMask = std::uint64_t;

constexpr CapMask capBit(int cap) { return CapMask{1} << cap; }

// "cap_net_admin,cap_net_raw" (names of the kernel's capabilities, lower case, in bit order;
// an unknown bit is "cap_<n>"); "none" for the empty set.
std::string capNames(CapMask mask);

// One task's sets, as /proc/<pid>/task/<tid>/status shows them.
struct TaskCaps {
  CapMask inheritable = 0;
  CapMask permitted = 0;
  CapMask effective = 0;
  CapMask bounding = 0;
  CapMask ambient = 0;
  bool noNewPrivs = false;
  bool operator==(const TaskCaps&) const = default;
};

// Parses the text of a status file (the CapInh..CapAmb and NoNewPrivs lines).
Result<TaskCaps> parseTaskStatus(std::string_view text);

// Reads `path`, a /proc/.../status file.
Result<TaskCaps> readTaskCaps(const std::string& path);

// What a task must show once restricted to `kept`: permitted = effective = bounding = kept,
// inheritable and ambient empty, no_new_privs set. Returns the differences, one phrase each
// ("CapEff has cap_sys_admin (not kept)", "NoNewPrivs is 0"), empty when none.
std::string differencesFrom(const TaskCaps& task, CapMask kept);

// Every thread of process `pid` checked against `kept` as above: one line per thread that
// differs ("task 1234: CapEff has ..."), empty when every thread matches. A thread that exits
// while being read is skipped.
std::string checkProcess(pid_t pid, CapMask kept);

struct RestrictOptions {
  // Test only: restrict the calling thread alone, as a broken implementation would (the other
  // threads keep what they had). The checks of tests/ must catch it.
  bool callingThreadOnly = false;
};

// Restricts every thread of this process to `kept` (what it holds of it): the bounding set,
// permitted and effective sets become `kept`, the inheritable and ambient sets are emptied, and
// no_new_privs is set, so that no later execve() gains a capability or a set-user-ID identity.
// Capabilities and no_new_privs belong to each thread, so the other threads are made to apply the
// same change to themselves (a real-time signal whose handler makes raw syscalls only); the call
// returns once /proc shows every thread restricted, and fails (naming the threads) if some thread
// does not get there within a few seconds. Threads started later inherit the restricted sets.
// Dropping from the bounding set needs CAP_SETPCAP: without it (an unprivileged daemon, or a
// service manager that already narrowed the set) the bounding set is left as it is and
// `boundingKept` (if given) is set to what stays in it beyond `kept`.
Status restrictAllThreads(CapMask kept, RestrictOptions options = {},
                          CapMask* boundingKept = nullptr);

}  // namespace quorate::privileges
