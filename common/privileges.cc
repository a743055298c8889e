// Capability sets are per thread in Linux, and capset(2) and prctl(2) change the calling thread
// only; glibc broadcasts setuid() to every thread but has nothing of the kind for capabilities.
// So the calling thread restricts itself, then signals each other thread (found in
// /proc/self/task) until /proc shows all of them restricted: the handler makes raw syscalls only
// (async-signal-safe), and the check reads the kernel's own view rather than trusting the
// handler ran. Threads created meanwhile are found by the next scan.
#include "common/privileges.h"

#include <dirent.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

namespace quorate::privileges {
namespace {

constexpr std::array<const char*, 41> kNames = {"chown",
                                                "dac_override",
                                                "dac_read_search",
                                                "fowner",
                                                "fsetid",
                                                "kill",
                                                "setgid",
                                                "setuid",
                                                "setpcap",
                                                "linux_immutable",
                                                "net_bind_service",
                                                "net_broadcast",
                                                "net_admin",
                                                "net_raw",
                                                "ipc_lock",
                                                "ipc_owner",
                                                "sys_module",
                                                "sys_rawio",
                                                "sys_chroot",
                                                "sys_ptrace",
                                                "sys_pacct",
                                                "sys_admin",
                                                "sys_boot",
                                                "sys_nice",
                                                "sys_resource",
                                                "sys_time",
                                                "sys_tty_config",
                                                "mknod",
                                                "lease",
                                                "audit_write",
                                                "audit_control",
                                                "setfcap",
                                                "mac_override",
                                                "mac_admin",
                                                "syslog",
                                                "wake_alarm",
                                                "block_suspend",
                                                "audit_read",
                                                "perfmon",
                                                "bpf",
                                                "checkpoint_restore"};

// What every thread applies; written before any thread is signalled.
std::atomic<CapMask> gKept{0};
std::atomic<int> gLastCap{CAP_LAST_CAP};

// The highest capability this kernel knows (newer kernels than our headers may know more).
int lastCap() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int n = -1;
  if (in >> n && n >= 0 && n < 64) return n;
  return CAP_LAST_CAP;
}

// Restricts the calling thread. Raw syscalls only: it also runs in a signal handler. Returns 0,
// or the errno of the capset that failed (dropping from the bounding set without CAP_SETPCAP
// is not an error: the bounding set then stays as it is).
int restrictThisThread() {
  const CapMask kept = gKept.load(std::memory_order_acquire);
  const int last = gLastCap.load(std::memory_order_relaxed);
  for (int cap = 0; cap <= last; ++cap) {
    if ((kept & capBit(cap)) != 0) continue;
    if (::syscall(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0) == 1) {
      (void)::syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
    }
  }
  (void)::syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, 2> data{};
  int err = 0;
  if (::syscall(SYS_capget, &header, data.data()) != 0) return errno;
  const CapMask permitted = (CapMask{data[1].permitted} << 32) | data[0].permitted;
  const CapMask now = kept & permitted;  // capset can only take away
  for (int i = 0; i < 2; ++i) {
    const auto word = static_cast<std::uint32_t>(now >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    data[i].inheritable = 0;
  }
  header = {_LINUX_CAPABILITY_VERSION_3, 0};
  if (::syscall(SYS_capset, &header, data.data()) != 0) err = errno;
  if (::syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 && err == 0) err = errno;
  return err;
}

void onRestrictSignal(int) {
  const int saved = errno;
  (void)restrictThisThread();
  errno = saved;
}

// glibc keeps the first real-time signals for itself; SIGRTMIN is the first one left to us.
// Nothing else in quorate (or gRPC, Asio, spdlog) uses real-time signals.
int restrictSignal() { return SIGRTMIN + 5; }

std::vector<pid_t> threadsOf(const std::string& taskDir) {
  std::vector<pid_t> out;
  DIR* d = ::opendir(taskDir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    pid_t tid = 0;
    const std::string_view name = e->d_name;
    const auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), tid);
    if (ec == std::errc() && p == name.data() + name.size() && tid > 0) out.push_back(tid);
  }
  ::closedir(d);
  return out;
}

bool parseHex(std::string_view s, CapMask& out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string readAll(const std::string& path, int& err) {
  std::ifstream in(path);
  if (!in) {
    err = errno != 0 ? errno : ENOENT;
    return {};
  }
  std::ostringstream s;
  s << in.rdbuf();
  err = 0;
  return s.str();
}

}  // namespace

std::string capNames(CapMask mask) {
  if (mask == 0) return "none";
  std::string out;
  for (int cap = 0; cap < 64; ++cap) {
    if ((mask & capBit(cap)) == 0) continue;
    if (!out.empty()) out += ',';
    out += "cap_";
    out += cap < static_cast<int>(kNames.size()) ? kNames[static_cast<std::size_t>(cap)]
                                                 : std::to_string(cap);
  }
  return out;
}

Result<TaskCaps> parseTaskStatus(std::string_view text) {
  TaskCaps t;
  const std::map<std::string_view, CapMask*> fields = {{"CapInh", &t.inheritable},
                                                       {"CapPrm", &t.permitted},
                                                       {"CapEff", &t.effective},
                                                       {"CapBnd", &t.bounding},
                                                       {"CapAmb", &t.ambient}};
  std::size_t seen = 0;
  bool nnp = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    if (const auto it = fields.find(key); it != fields.end()) {
      if (!parseHex(value, *it->second)) {
        return Status::fail(EINVAL, "status line " + std::string(line) + ": not a hex mask");
      }
      ++seen;
    } else if (key == "NoNewPrivs") {
      if (value != "0" && value != "1") {
        return Status::fail(EINVAL, "status line " + std::string(line) + ": not 0 or 1");
      }
      t.noNewPrivs = value == "1";
      nnp = true;
    }
  }
  if (seen != fields.size() || !nnp) {
    return Status::fail(EINVAL,
                        "status: CapInh, CapPrm, CapEff, CapBnd, CapAmb or NoNewPrivs "
                        "missing");
  }
  return t;
}

Result<TaskCaps> readTaskCaps(const std::string& path) {
  int err = 0;
  const std::string text = readAll(path, err);
  if (err != 0) return Status::fail(err, "read " + path);
  auto caps = parseTaskStatus(text);
  if (!caps) return caps.status().withWhat(path + ": " + caps.status().what());
  return caps;
}

std::string differencesFrom(const TaskCaps& task, CapMask kept) {
  std::string out;
  auto add = [&](const std::string& phrase) {
    if (!out.empty()) out += "; ";
    out += phrase;
  };
  auto compare = [&](const char* name, CapMask have, CapMask want) {
    if (const CapMask extra = have & ~want; extra != 0) {
      add(std::string(name) + " has " + capNames(extra) + " (not kept)");
    }
    if (const CapMask missing = want & ~have; missing != 0) {
      add(std::string(name) + " lacks " + capNames(missing));
    }
  };
  compare("CapEff", task.effective, kept);
  compare("CapPrm", task.permitted, kept);
  compare("CapBnd", task.bounding, kept);
  compare("CapInh", task.inheritable, 0);
  compare("CapAmb", task.ambient, 0);
  if (!task.noNewPrivs) add("NoNewPrivs is 0");
  return out;
}

std::string checkProcess(pid_t pid, CapMask kept) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  const auto tids = threadsOf(dir);
  if (tids.empty()) return "process " + std::to_string(pid) + ": no threads found in " + dir;
  std::string out;
  for (const pid_t tid : tids) {
    const auto caps = readTaskCaps(dir + "/" + std::to_string(tid) + "/status");
    if (!caps) {
      if (caps.status().err() == ENOENT || caps.status().err() == ESRCH) continue;  // gone
      out += "task " + std::to_string(tid) + ": " + caps.status().message() + "\n";
      continue;
    }
    if (const std::string d = differencesFrom(*caps, kept); !d.empty()) {
      out += "task " + std::to_string(tid) + ": " + d + "\n";
    }
  }
  return out;
}

Status restrictAllThreads(CapMask kept, RestrictOptions options, CapMask* boundingKept) {
  gLastCap.store(lastCap(), std::memory_order_relaxed);
  gKept.store(kept, std::memory_order_release);
  const int sig = restrictSignal();
  // Installed for good: a late, queued signal must find the handler, never the default action
  // (which would end the process); running it again changes nothing.
  struct sigaction sa {};
  sa.sa_handler = onRestrictSignal;
  sa.sa_flags = SA_RESTART;
  ::sigemptyset(&sa.sa_mask);
  if (::sigaction(sig, &sa, nullptr) != 0) return Status::fail(errno, "sigaction");

  if (const int err = restrictThisThread(); err != 0) {
    return Status::fail(err, "restrict capabilities to " + capNames(kept));
  }
  const pid_t self = static_cast<pid_t>(::syscall(SYS_gettid));
  const std::string selfStatus = "/proc/self/task/" + std::to_string(self) + "/status";
  const auto target = readTaskCaps(selfStatus);
  if (!target) return target.status();
  if (boundingKept != nullptr) *boundingKept = target->bounding & ~kept;
  if (options.callingThreadOnly) return Status::ok();

  // Every other thread must come to show what this one shows now.
  const pid_t pid = ::getpid();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::map<pid_t, std::chrono::steady_clock::time_point> signalled;
  for (;;) {
    std::vector<pid_t> behind;
    for (const pid_t tid : threadsOf("/proc/self/task")) {
      if (tid == self) continue;
      const auto caps = readTaskCaps("/proc/self/task/" + std::to_string(tid) + "/status");
      if (!caps) continue;  // exited meanwhile
      if (*caps == *target) continue;
      behind.push_back(tid);
      const auto now = std::chrono::steady_clock::now();
      const auto it = signalled.find(tid);
      // Again only now and then: a thread that has the signal blocked gets it when it unblocks.
      if (it == signalled.end() || now - it->second > std::chrono::milliseconds(200)) {
        if (::syscall(SYS_tgkill, pid, tid, sig) == 0 || errno != ESRCH) signalled[tid] = now;
      }
    }
    if (behind.empty()) return Status::ok();
    if (std::chrono::steady_clock::now() > deadline) {
      std::string list;
      for (const pid_t tid : behind) list += (list.empty() ? "" : ", ") + std::to_string(tid);
      return Status::fail(ETIMEDOUT, "threads " + list + " did not give up their capabilities");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace quorate::privileges
