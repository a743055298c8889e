// `quorate-director --check`: the parsed configuration checked against this host.
#include "server/preflight.h"

#include <grp.h>
#include <net/if.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <ostream>

#include "common/config_error.h"
#include "common/yaml_config.h"
#include "server/ipvs/drains.h"
#include "server/kernel/feature_probe.h"
#include "server/privileges.h"
#include "server/script_runner.h"

namespace quorate::server::preflight {
namespace {

using quorate::preflight::fail;
using quorate::preflight::ok;
using quorate::preflight::skipped;

// "up" or "down" from the interface's flags; empty when they cannot be read.
std::string linkState(const std::string& name) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  ifreq req{};
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  const int rc = ::ioctl(fd, SIOCGIFFLAGS, &req);
  ::close(fd);
  if (rc != 0) return "";
  return (req.ifr_flags & IFF_UP) != 0 ? "up" : "down";
}

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Who runs a program: uid, primary gid and supplementary groups of `user` ("": this process).
struct RunAs {
  uid_t uid = 0;
  std::vector<gid_t> gids;
  std::string name;
};

std::optional<RunAs> runAs(const std::string& user) {
  RunAs out;
  if (user.empty()) {
    out.uid = ::geteuid();
    out.gids.push_back(::getegid());
    const int n = ::getgroups(0, nullptr);
    if (n > 0) {
      std::vector<gid_t> more(static_cast<std::size_t>(n));
      if (::getgroups(n, more.data()) == n)
        out.gids.insert(out.gids.end(), more.begin(), more.end());
    }
    out.name = "the director's user";
    return out;
  }
  const long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  out.uid = pw.pw_uid;
  int n = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  if (::getgrouplist(user.c_str(), pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<std::size_t>(n));
    ::getgrouplist(user.c_str(), pw.pw_gid, groups.data(), &n);
  }
  groups.resize(static_cast<std::size_t>(std::max(n, 0)));
  out.gids = std::move(groups);
  out.name = user;
  return out;
}

// Whether `who` may execute a file of `st`, by its permission bits (root: any x bit).
bool mayExecute(const struct stat& st, const RunAs& who) {
  if (who.uid == 0) return (st.st_mode & 0111) != 0;
  if (st.st_uid == who.uid) return (st.st_mode & S_IXUSR) != 0;
  if (std::find(who.gids.begin(), who.gids.end(), st.st_gid) != who.gids.end()) {
    return (st.st_mode & S_IXGRP) != 0;
  }
  return (st.st_mode & S_IXOTH) != 0;
}

// The first directory above `path` that `who` may not search (x), if any.
std::optional<std::string> unsearchableParent(const std::string& path, const RunAs& who) {
  std::string dir = path;
  for (;;) {
    const auto slash = dir.find_last_of('/');
    if (slash == std::string::npos) return std::nullopt;
    dir = slash == 0 ? "/" : dir.substr(0, slash);
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && !mayExecute(st, who)) {
      return dir + " (mode " + octal(st.st_mode) + ")";
    }
    if (dir == "/") return std::nullopt;
  }
}

// `program` as the runner finds it: as given with a '/', else the first match on kScriptPath.
std::optional<std::string> locate(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  std::string dirs = kScriptPath;
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const auto end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), F_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

// The fence is installed when the daemon opens the kernel's addresses (VIPs or tracked
// interfaces) with fence: nftables; see kernelNeeds() in server/daemon.cc.
bool usesFence(const DirectorConfig& c) {
  return c.fence == FenceMode::kNftables && (c.hasDataPlane() || !c.trackInterfaces.empty());
}

}  // namespace

std::vector<Finding> checkInterfaces(const DirectorConfig& c) {
  // Each interface once, with every reason it is named.
  std::vector<std::pair<std::string, std::string>> named;
  auto add = [&](const std::string& name, const std::string& why) {
    for (auto& [n, reasons] : named) {
      if (n == name) {
        if (reasons.find(why) == std::string::npos) reasons += "; " + why;
        return;
      }
    }
    named.emplace_back(name, why);
  };
  for (const auto& inst : c.instances) {
    const bool vmac = inst.vrrp && inst.vrrp->useVmac;
    for (const auto& vip : inst.vips) {
      add(vip.device, vmac ? "parent of " + inst.vrrp->vmacName() + " of instance " + inst.name
                           : "VIPs and announcements of instance " + inst.name);
    }
  }
  for (const auto& t : c.trackInterfaces) add(t, "track_interfaces");
  for (const auto& l : c.leases) {
    for (const auto& t : l.track.interfaces) add(t.name, "track_interfaces of lease " + l.name);
  }
  if (c.ipvs.sync) add(c.ipvs.sync->interface, "ipvs.sync_daemon");
  std::vector<Finding> out;
  for (const auto& [name, why] : named) {
    const std::string subject = "interface " + name;
    const unsigned index = ::if_nametoindex(name.c_str());
    if (index == 0) {
      out.push_back(fail(subject, "no such interface in this network namespace (" + why + ")"));
      continue;
    }
    const std::string state = linkState(name);
    out.push_back(ok(subject, "exists (index " + std::to_string(index) +
                                  (state.empty() ? "" : ", " + state) + "; " + why + ")"));
  }
  return out;
}

std::vector<Finding> checkPrograms(const DirectorConfig& c) {
  // One finding per program and user; a notify script of 1,000 real servers is checked once.
  std::map<std::pair<std::string, std::string>, std::pair<std::string, int>> seen;
  std::vector<std::pair<std::string, std::string>> order;
  for (const auto& s : configuredScripts(c)) {
    const auto key = std::make_pair(s.program, s.user);
    auto [it, fresh] = seen.emplace(key, std::make_pair(s.where, 0));
    if (fresh) {
      order.push_back(key);
    } else {
      ++it->second.second;
    }
  }
  std::vector<Finding> out;
  for (const auto& key : order) {
    const auto& [program, user] = key;
    const auto& [where, more] = seen[key];
    const std::string subject = "program " + program;
    const std::string context = where + (more > 0 ? " and " + std::to_string(more) + " more" : "") +
                                ", runs as " + (user.empty() ? "the director's user" : user);
    const auto path = locate(program);
    if (!path) {
      out.push_back(
          fail(subject, "not found on " + std::string(kScriptPath) + " (" + context + ")"));
      continue;
    }
    struct stat st {};
    if (::stat(path->c_str(), &st) != 0) {
      out.push_back(fail(subject, *path + ": " + std::strerror(errno) + " (" + context + ")"));
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      out.push_back(fail(subject, *path + " is not a regular file (" + context + ")"));
      continue;
    }
    const auto who = runAs(user);
    if (!who) {
      out.push_back(fail(subject, "no user " + user + " on this host (" + context + ")"));
      continue;
    }
    if (!mayExecute(st, *who)) {
      out.push_back(fail(subject, *path + " is not executable by " + who->name + " (mode " +
                                      octal(st.st_mode) + ") (" + context + ")"));
      continue;
    }
    if (const auto dir = unsearchableParent(*path, *who)) {
      out.push_back(fail(subject, who->name + " cannot reach " + *path + ": it may not enter " +
                                      *dir + " (" + context + ")"));
      continue;
    }
    if (const Status sec = checkScriptSecurity(program, user); !sec) {
      out.push_back(fail(subject, sec.what() + " (" + context + ")"));
      continue;
    }
    out.push_back(ok(subject, "executable (mode " + octal(st.st_mode) +
                                  "), safe from others' changes (" + context + ")"));
  }
  return out;
}

std::vector<Finding> checkDirectories(const DirectorConfig& c) {
  using quorate::preflight::checkWritableDirectory;
  std::vector<Finding> out;
  out.push_back(checkWritableDirectory("state_dir", c.stateDir, true));
  if (c.eventLog.enabled && !c.eventLog.path.empty()) {
    const auto slash = c.eventLog.path.find_last_of('/');
    const std::string dir = slash == 0 ? "/" : c.eventLog.path.substr(0, slash);
    if (dir != c.stateDir) out.push_back(checkWritableDirectory("event_log directory", dir, false));
  }
  // A socket in state_dir: made with it (0700) before the listener opens.
  const auto slash = c.operatorApi.socket.find_last_of('/');
  const std::string socketDir = slash == 0 ? "/" : c.operatorApi.socket.substr(0, slash);
  if (socketDir != c.stateDir) out.push_back(checkSocketDirectory(socketDir));
  if (!c.ipvs.virtualServers.empty()) {
    // quoratectl drain's record: a file the director could not read would stop its start.
    const std::string drains = c.stateDir + "/" + std::string(ipvs::kDrainsFile);
    const auto d = ipvs::loadDrains(drains);
    out.push_back(d ? ok(drains, std::to_string(d->size()) + " real servers drained")
                    : fail(drains, d.status().message()));
  }
  return out;
}

Finding checkSocketDirectory(const std::string& dir) {
  const std::string subject = "operator socket directory " + dir;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return fail(subject, std::strerror(errno));
    // The listener makes the last component only (server/grpc/operator_listener.cc).
    const auto slash = dir.find_last_of('/');
    const std::string parent = slash == 0 ? "/" : dir.substr(0, slash);
    struct stat up {};
    if (::stat(parent.c_str(), &up) != 0 || !S_ISDIR(up.st_mode)) {
      return fail(subject, "does not exist, and the director creates only its last component: " +
                               parent + " is not a directory");
    }
    const Finding probe = quorate::preflight::checkWritableDirectory(subject, dir, true);
    if (probe.verdict != quorate::preflight::Verdict::kOk) return probe;
    return ok(subject, "does not exist yet; the director creates it (0755) in " + parent);
  }
  if (!S_ISDIR(st.st_mode)) return fail(subject, "exists but is not a directory");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || (st.st_uid != 0 && st.st_uid != ::geteuid())) {
    return fail(subject, "writable by its group or others (mode " + octal(st.st_mode) +
                             "), or owned by another user: the director refuses it, since whoever "
                             "may write it may swap the socket for their own");
  }
  auto probe = quorate::preflight::checkWritableDirectory("", dir, false);
  if (probe.verdict != quorate::preflight::Verdict::kOk) return fail(subject, probe.detail);
  return ok(subject, "a directory only its owner may write, writable");
}

std::vector<Finding> checkFiles(const DirectorConfig& c, const std::string& text) {
  using namespace quorate::preflight;
  std::vector<Finding> out;
  try {
    const config::Document doc(c.path, text);
    out.push_back(checkSecrets("cluster key", doc, YAML::Load(text), ""));
  } catch (const std::exception& e) {
    out.push_back(fail("cluster key", e.what()));
  }
  if (c.tls) {
    const TlsConfig& t = *c.tls;
    out.push_back(checkCaBundle("tls.ca", t.ca));
    out.push_back(
        checkCertificate("tls.cert", t.cert, t.ca, tls::Identity::director(c.cluster, c.node)));
    out.push_back(checkPrivateKey("tls.key", t.key, t.cert));
    if (t.arbiterCa != t.ca) out.push_back(checkCaBundle("arbiter.ca", t.arbiterCa));
  }
  if (const auto& tcp = c.operatorApi.tcp) {
    out.push_back(checkCaBundle("operator.tcp.ca", tcp->ca));
    out.push_back(checkCertificate("operator.tcp.cert", tcp->cert, std::nullopt, std::nullopt));
    out.push_back(checkPrivateKey("operator.tcp.key", tcp->key, tcp->cert));
  }
  return out;
}

Finding ipvsFinding(const Status& probe) {
  const std::string subject = "kernel IPVS";
  if (probe) return ok(subject, "the generic netlink family IPVS answers (virtual servers)");
  if (probe.err() == ENOENT) {
    return fail(subject,
                "no IPVS in this kernel (modprobe ip_vs), and the file has virtual servers; "
                "under systemd load it at boot: /etc/modules-load.d/quorate.conf");
  }
  return skipped(subject, "cannot ask the kernel: " + probe.what());
}

Finding nftablesFinding(const Status& probe) {
  const std::string subject = "kernel nf_tables";
  if (probe) return ok(subject, "nf_tables answers over nfnetlink (the fence)");
  switch (probe.err()) {
    case EPERM:
    case EACCES:
      return skipped(subject, "nfnetlink answers root only (CAP_NET_ADMIN): run --check as root");
    case EPROTONOSUPPORT:
    case EINVAL:
    case ENOENT:
    case EOPNOTSUPP:
      return fail(subject,
                  "no nf_tables in this kernel (modprobe nf_tables), and the fence needs it "
                  "(fence: nftables); " +
                      probe.what());
    default:
      return skipped(subject, "cannot ask the kernel: " + probe.what());
  }
}

std::vector<Finding> checkKernel(const DirectorConfig& c) {
  std::vector<Finding> out;
  if (!c.ipvs.virtualServers.empty()) out.push_back(ipvsFinding(kernel::probeIpvs()));
  if (usesFence(c)) out.push_back(nftablesFinding(kernel::probeNftables()));
  return out;
}

std::vector<Finding> checkListeners(const DirectorConfig& c) {
  std::vector<Finding> out;
  out.push_back(quorate::preflight::checkListen("listen", c.listen));
  std::vector<std::pair<std::string, std::string>> all = {{"listen", c.listen}};
  if (c.operatorApi.tcp) {
    out.push_back(
        quorate::preflight::checkListen("operator.tcp.listen", c.operatorApi.tcp->listen));
    all.emplace_back("operator.tcp.listen", c.operatorApi.tcp->listen);
  }
  if (c.metrics) {
    out.push_back(quorate::preflight::checkListen("metrics.listen", c.metrics->listen));
    all.emplace_back("metrics.listen", c.metrics->listen);
  }
  for (auto& f : quorate::preflight::checkListenClashes(all)) out.push_back(std::move(f));
  return out;
}

std::optional<Finding> checkWatchdog(const DirectorConfig& c) {
  if (!c.watchdog) return std::nullopt;
  const std::string subject = "watchdog " + c.watchdog->device;
  struct stat st {};
  if (::stat(c.watchdog->device.c_str(), &st) != 0) {
    return fail(subject, std::string(std::strerror(errno)) +
                             " (load a driver, e.g. modprobe softdog, or fix watchdog.device)");
  }
  if (S_ISCHR(st.st_mode)) {
    return ok(subject, "a character device; not opened here, since opening arms it");
  }
  return ok(subject, "not a device (a test double: the director warns and assumes the timeout)");
}

std::vector<Finding> checkAll(const DirectorConfig& c, const std::string& text) {
  std::vector<Finding> out;
  auto append = [&](std::vector<Finding> more) {
    out.insert(out.end(), std::make_move_iterator(more.begin()),
               std::make_move_iterator(more.end()));
  };
  append(checkInterfaces(c));
  append(checkPrograms(c));
  append(checkDirectories(c));
  append(checkFiles(c, text));
  append(checkKernel(c));
  append(checkListeners(c));
  if (auto w = checkWatchdog(c)) out.push_back(std::move(*w));
  return out;
}

int runCheck(const std::string& path, std::ostream& out, std::ostream& err) {
  std::string text;
  DirectorConfig config;
  try {
    text = config::readConfigFile(path);
    if (const auto other =
            quorate::preflight::otherDaemonsFile(text, quorate::preflight::Daemon::kDirector)) {
      err << "quorate-director: " << path << ": " << *other << "\n";
      return 2;
    }
    config = parseDirectorConfig(text, path);
  } catch (const ConfigError& e) {
    err << "quorate-director: " << e.what() << "\n";
    return 2;
  }
  return quorate::preflight::printReport(
      out, path, "cluster " + config.cluster + ", node " + config.node, checkAll(config, text));
}

}  // namespace quorate::server::preflight
