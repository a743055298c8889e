// keepalived.conf to quorate (convert.h): globals, VRRP instances and sync groups, the files
// and the report; virtual servers are convert_services.cc's.
#include "client/keepalived/convert.h"

#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <set>

#include "client/keepalived/convert_internal.h"
#include "client/keepalived/script_words.h"
#include "client/keepalived/yaml_writer.h"
#include "common/net_types.h"

namespace quorate::keepalived {
namespace detail {
namespace {

constexpr const char* kSelfPlaceholder = "192.0.2.1";  // RFC 5737 documentation addresses
constexpr const char* kPeerPlaceholder = "192.0.2.2";
constexpr const char* kArbiterPlaceholder = "192.0.2.3";
constexpr int kDirectorPort = 7101;
constexpr int kArbiterPort = 7100;

const Reasons& globalReasons() {
  static const Reasons r = [] {
    Reasons m;
    for (const char* k :
         {"notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout",
          "smtp_helo_name", "email_faults", "no_email_faults"}) {
      m[k] = "quorate sends no e-mail: run a mailer from a notify hook";
    }
    for (const char* k : {"vrrp_mcast_group4",
                          "vrrp_mcast_group6",
                          "vrrp_skip_check_adv_addr",
                          "vrrp_strict",
                          "vrrp_check_unicast_src",
                          "vrrp_version",
                          "vrrp_iptables",
                          "vrrp_ipsets",
                          "vrrp_nftables",
                          "vrrp_no_swap",
                          "vrrp_priority",
                          "vrrp_rt_priority",
                          "vrrp_cpu_affinity",
                          "vrrp_rlimit_rttime",
                          "vrrp_rx_bufs_policy",
                          "vrrp_rx_bufs_multiplier",
                          "vrrp_startup_delay",
                          "vrrp_min_garp",
                          "vrrp_lower_prio_no_advert",
                          "vrrp_higher_prio_send_advert",
                          "vrrp_netlink_cmd_rcv_bufs",
                          "vrrp_netlink_monitor_rcv_bufs",
                          "vrrp_garp_lower_prio_delay",
                          "vrrp_garp_lower_prio_repeat",
                          "vrrp_garp_master_delay",
                          "vrrp_garp_master_refresh_repeat",
                          "vrrp_garp_extra_if",
                          "vrrp_gna_interval_extra_if",
                          "vrrp_notify_fifo_script",
                          "vrrp_notify_priority_changes",
                          "vrrp_track_process_timer",
                          "default_interface",
                          "dynamic_interfaces",
                          "max_auto_priority",
                          "min_auto_priority_delay"}) {
      m[k] = "VRRP transport or tuning: quorate's lease runs over gRPC, no equivalent";
    }
    for (const char* k : {"checker_priority",
                          "checker_rt_priority",
                          "checker_no_swap",
                          "checker_cpu_affinity",
                          "checker_rlimit_rttime",
                          "bfd_priority",
                          "bfd_rt_priority",
                          "bfd_no_swap",
                          "bfd_cpu_affinity",
                          "bfd_rlimit_rttime",
                          "lvs_id",
                          "lvs_flush",
                          "lvs_flush_onstop",
                          "lvs_timeouts",
                          "lvs_notify_fifo",
                          "lvs_notify_fifo_script",
                          "notify_fifo_script",
                          "process_names",
                          "process_name",
                          "vrrp_process_name",
                          "checker_process_name",
                          "bfd_process_name",
                          "umask",
                          "startup_script",
                          "startup_script_timeout",
                          "shutdown_script",
                          "shutdown_script_timeout",
                          "script_security",
                          "linkbeat_use_polling",
                          "net_namespace",
                          "instance",
                          "use_pid_dir",
                          "child_wait_time",
                          "reload_time_file",
                          "reload_check_config",
                          "config_save_dir",
                          "tmp_config_directory",
                          "random_seed",
                          "data_use_instance",
                          "snmp_socket",
                          "enable_snmp_vrrp",
                          "enable_snmp_checker",
                          "enable_snmp_rfc",
                          "enable_snmp_rfcv2",
                          "enable_snmp_rfcv3",
                          "enable_snmp_keepalived",
                          "enable_traps",
                          "enable_dbus",
                          "dbus_service_name",
                          "vrrp_owner_ignore_priority",
                          "local_name",
                          "fifo_write_vrrp_states_on_reload"}) {
      m[k] = "keepalived process tuning: no quorate equivalent";
    }
    return m;
  }();
  return r;
}

const Reasons& instanceReasons() {
  static const Reasons r = [] {
    Reasons m;
    m["authentication"] = "quorate authenticates its peers with the cluster secret or TLS";
    m["virtual_routes"] = "routes that follow the master: not supported; add them in a hook";
    m["virtual_rules"] = "rules that follow the master: not supported; add them in a hook";
    m["smtp_alert"] = "quorate sends no e-mail: run a mailer from a notify hook";
    m["dont_track_primary"] = "quorate always tracks every VIP's device";
    m["track_process"] = std::string("track_process: ") + kNotYet + " (use a track script)";
    m["track_bfd"] = "BFD: not supported";
    for (const char* k : {"native_ipv6",
                          "version",
                          "accept",
                          "no_accept",
                          "strict_mode",
                          "skip_check_adv_addr",
                          "check_unicast_src",
                          "unicast_ttl",
                          "mcast_dst",
                          "vmac_xmit_base",
                          "use_ipvlan",
                          "kernel_rx_buf_size",
                          "down_timer_adverts",
                          "notify_priority_changes",
                          "promote_secondaries",
                          "unicast_fault_no_peer",
                          "no_accept",
                          "higher_prio_send_advert",
                          "lower_prio_no_advert",
                          "linkbeat_use_polling",
                          "unicast_src_port",
                          "debug",
                          "garp_extra_if",
                          "old_unicast_checksum"}) {
      m[k] = "VRRP transport or tuning: quorate's lease runs over gRPC, no equivalent";
    }
    m["garp_master_delay"] =
        "quorate announces once on a claim and again when a partition heals; no delayed repeat";
    m["garp_master_refresh_repeat"] = "announcements per refresh: not supported (one burst)";
    m["garp_lower_prio_delay"] = "quorate has no priorities to lower";
    m["garp_lower_prio_repeat"] = "quorate has no priorities to lower";
    m["virtual_ipaddress_excluded"] = "";  // mapped; listed so it is not called unknown
    return m;
  }();
  return r;
}

const std::set<std::string>& instanceMapped() {
  static const std::set<std::string> s = {"state",
                                          "interface",
                                          "virtual_router_id",
                                          "priority",
                                          "advert_int",
                                          "virtual_ipaddress",
                                          "virtual_ipaddress_excluded",
                                          "track_interface",
                                          "track_script",
                                          "track_file",
                                          "notify",
                                          "notify_master",
                                          "notify_backup",
                                          "notify_fault",
                                          "notify_stop",
                                          "nopreempt",
                                          "preempt",
                                          "preempt_delay",
                                          "unicast_src_ip",
                                          "unicast_peer",
                                          "mcast_src_ip",
                                          "garp_master_repeat",
                                          "garp_master_refresh",
                                          "garp_interval",
                                          "gna_interval",
                                          "use_vmac",
                                          "lvs_sync_daemon_interface",
                                          "notify_master_rx_lower_pri"};
  return s;
}

const std::set<std::string> kHookKeys = {"notify", "notify_master", "notify_backup", "notify_fault",
                                         "notify_stop"};

}  // namespace

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::optional<std::int64_t> toInt(const std::string& s, std::int64_t min, std::int64_t max) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  std::size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  std::int64_t v = 0;
  for (std::size_t k = i; k < s.size(); ++k) {
    if (!std::isdigit(static_cast<unsigned char>(s[k]))) return std::nullopt;
    v = v * 10 + (s[k] - '0');
  }
  if (i == 1) v = -v;
  if (v < min || v > max) return std::nullopt;
  return v;
}

// keepalived's times are seconds, with a fraction where it allows one ("0.5").
std::optional<std::int64_t> secondsToMs(const std::string& s, std::int64_t minMs,
                                        std::int64_t maxMs) {
  const std::size_t dot = s.find('.');
  const std::string whole = s.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  if (whole.empty() && frac.empty()) return std::nullopt;
  if (whole.size() > 9 || frac.size() > 6) return std::nullopt;
  const std::optional<std::int64_t> w = whole.empty() ? 0 : toInt(whole, 0, 999'999'999);
  if (!w) return std::nullopt;
  if (!std::all_of(frac.begin(), frac.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  frac.resize(3, '0');
  const std::int64_t ms = *w * 1000 + std::stoll(frac);
  if (ms < minMs || ms > maxMs) return std::nullopt;
  return ms;
}

std::size_t editDistance(const std::string& a, const std::string& b) {
  if (a.size() > 64 || b.size() > 64) return 99;
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// quorate names: 1 to 64 of A-Z a-z 0-9 . _ -
std::string sanitizeName(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
    if (out.size() == 64) break;
  }
  return out.empty() ? "unnamed" : out;
}

// As the director takes them: at most 15 characters, no slash, colon or blank.
bool validInterface(const std::string& s) {
  return !s.empty() && s.size() <= 15 && s != "." && s != ".." &&
         s.find_first_of("/: \t") == std::string::npos;
}

std::optional<net::IpAddress> address(const std::string& s) { return net::IpAddress::parse(s); }

std::string hostPort(const std::string& ip, int port) {
  const auto a = address(ip);
  if (a && a->isV6()) return "[" + a->toString() + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

std::set<std::string> withCheckKeys(std::set<std::string> keys) {
  for (const char* k : {"connect_ip", "connect_port", "bind_to", "connect_timeout", "retry",
                        "nb_get_retry", "delay_before_retry", "warmup", "delay_loop", "bind_port",
                        "bind_if", "fwmark", "source_ip", "alpha"}) {
    keys.insert(k);
  }
  return keys;
}

void Converter::unknownOrUnsupported(const Node& n, const std::string& context,
                                     const Reasons& reasons, const std::set<std::string>& mapped) {
  if (const auto it = reasons.find(n.keyword); it != reasons.end() && !it->second.empty()) {
    report(Kind::kUnsupported, n, it->second);
    return;
  }
  if (!n.keyword.empty() && n.keyword[0] == '$') {
    report(Kind::kUnsupported, n,
           "keepalived variables are not expanded: replace each $NAME by its value and import "
           "again");
    return;
  }
  if (!n.keyword.empty() && n.keyword[0] == '@') {
    report(Kind::kUnsupported, n, "conditional lines (@name) are not supported: dropped");
    return;
  }
  std::string best;
  std::size_t bestDistance = 3;
  auto consider = [&](const std::string& k) {
    const std::size_t d = editDistance(n.keyword, k);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  };
  for (const auto& [k, v] : reasons) consider(k);
  for (const auto& k : mapped) consider(k);
  report(Kind::kUnknown, n,
         "not a keepalived keyword in " + context +
             (best.empty() ? "" : " (did you mean " + best + "?)"));
}

std::optional<std::int64_t> Converter::intArg(const Node& n, std::int64_t min, std::int64_t max) {
  const auto v = toInt(n.arg(0), min, max);
  if (!v) {
    report(Kind::kInvalid, n,
           "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
               ", got \"" + n.arg(0) + "\": dropped");
  }
  return v;
}

std::optional<std::int64_t> Converter::msArg(const Node& n, std::int64_t minMs,
                                             std::int64_t maxMs) {
  const auto v = secondsToMs(n.arg(0), minMs, maxMs);
  if (!v) {
    report(Kind::kInvalid, n, "expected seconds, got \"" + n.arg(0) + "\": dropped");
  }
  return v;
}

// A script line: `"/path/prog arg" [user [group]]` (quoted) or `/path/prog arg ...`. A program
// without a path is looked up where quorate's programs look (PATH=/usr/sbin:/usr/bin:/sbin:/bin);
// shell syntax runs under /bin/sh -c, which keepalived 2 would not do either.
std::optional<Program> Converter::program(const Node& n, const std::vector<std::string>& words,
                                          bool userAfter) {
  if (words.empty() || words[0].empty()) {
    report(Kind::kInvalid, n, "no program given: dropped");
    return std::nullopt;
  }
  Program p;
  std::string line;
  const bool firstQuoted = &words == &n.args && !n.quoted.empty() && n.quoted[0];
  if (userAfter && (firstQuoted || words[0].find_first_of(" \t") != std::string::npos)) {
    line = words[0];
    if (words.size() > 1) {
      p.user = words[1];
      checkUser(n, p.user);
    }
    if (words.size() > 2) {
      report(Kind::kUnsupported, n,
             "the group after the user (" + words[2] +
                 ") is not supported: the user's own group is used");
    }
  } else {
    for (const auto& w : words) line += (line.empty() ? "" : " ") + w;
  }
  if (isShellLine(line)) {
    // bash's /dev/tcp redirections ("</dev/tcp/127.0.0.1/80", a favourite port check) mean
    // nothing to dash, Debian's /bin/sh.
    const bool bash =
        line.find("/dev/tcp/") != std::string::npos || line.find("/dev/udp/") != std::string::npos;
    const std::string shell = bash ? "/bin/bash" : "/bin/sh";
    p.argv = {shell, "-c", line};
    report(Kind::kChanged, n, "shell syntax: runs as " + shell + " -c \"" + line + "\"");
    return p;
  }
  p.argv = splitScriptLine(line);
  if (p.argv.empty() || p.argv[0].empty()) {
    report(Kind::kInvalid, n, "no program given: dropped");
    return std::nullopt;
  }
  if (p.argv[0][0] != '/') {
    std::string found;
    for (const char* dir : {"/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"}) {
      struct stat st {};
      if (::stat((dir + p.argv[0]).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        found = dir + p.argv[0];
        break;
      }
    }
    if (found.empty()) {
      found = "/usr/bin/" + p.argv[0];
      report(Kind::kPlaceholder, n,
             p.argv[0] + " has no path and is not on this host: written as " + found +
                 " (quorate runs programs by absolute path)");
    } else {
      report(Kind::kChanged, n, p.argv[0] + " has no path: written as " + found);
    }
    p.argv[0] = found;
  }
  return p;
}

void Converter::checkUser(const Node& n, const std::string& user) {
  if (user.empty()) return;
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[16384];
  if (::getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &found) != 0 || found == nullptr) {
    report(Kind::kPlaceholder, n,
           "user " + user +
               " does not exist on this host: create it on both directors (the "
               "director refuses a file naming an unknown user)");
  }
}

YamlNode Converter::hookValue(const Program& p) {
  bool simple = p.user.empty();
  for (const auto& a : p.argv) {
    if (a.empty() || a.find_first_of(" \t\"'\\") != std::string::npos) simple = false;
  }
  if (simple) {
    std::string line;
    for (const auto& a : p.argv) line += (line.empty() ? "" : " ") + a;
    return YamlNode::str(line);
  }
  YamlNode argv = YamlNode::list().flow();
  for (const auto& a : p.argv) argv.push(YamlNode::str(a));
  YamlNode m = YamlNode::map().flow();
  m.set("command", std::move(argv));
  if (!p.user.empty()) m.set("user", YamlNode::str(p.user));
  return m;
}

void Converter::globalDefs(const Node& n) {
  static const std::set<std::string> mapped = {"router_id",
                                               "vrrp_garp_master_repeat",
                                               "vrrp_garp_interval",
                                               "vrrp_gna_interval",
                                               "vrrp_garp_master_refresh",
                                               "script_user",
                                               "enable_script_security",
                                               "lvs_sync_daemon",
                                               "notify_fifo",
                                               "vrrp_notify_fifo"};
  for (const Node& c : n.children) {
    const std::string& k = c.keyword;
    if (k == "router_id") {
      report(Kind::kChanged, c,
             "router_id names one keepalived; quorate's cluster id is the same on both directors "
             "and the arbiter: --cluster (default keepalived)");
    } else if (k == "vrrp_garp_master_repeat") {
      if (auto v = intArg(c, 1, 100)) globalAnnounce_.repeat = v;
    } else if (k == "vrrp_garp_interval" || k == "vrrp_gna_interval") {
      if (auto v = msArg(c)) {
        if (k == "vrrp_garp_interval" || !globalAnnounce_.intervalMs)
          globalAnnounce_.intervalMs = v;
        if (k == "vrrp_gna_interval") {
          report(Kind::kChanged, c,
                 "quorate has one interval for ARP and NA: announce.interval_ms");
        }
      }
    } else if (k == "vrrp_garp_master_refresh") {
      if (auto v = secondsToMs(c.arg(0), 0)) {
        if (*v > 0) globalAnnounce_.refreshMs = v;
      } else {
        report(Kind::kInvalid, c, "expected seconds, got \"" + c.arg(0) + "\": dropped");
      }
    } else if (k == "script_user") {
      scriptUser_ = c.arg(0);
      checkUser(c, scriptUser_);
      if (c.args.size() > 1) {
        report(Kind::kUnsupported, c, "the group is not supported: the user's own group is used");
      }
    } else if (k == "enable_script_security") {
      report(Kind::kChanged, c,
             "quorate always refuses programs that others than root or their user could change");
    } else if (k == "notify_fifo" || k == "vrrp_notify_fifo") {
      notifyFifo_ = c.arg(0);
      if (c.args.size() > 1) {
        report(Kind::kUnsupported, c, "the FIFO's owner and group are not set by quorate");
      }
    } else if (k == "lvs_sync_daemon") {
      // lvs_sync_daemon INTERFACE INSTANCE [id N] [maxlen N] [port N] [ttl N] [group IP]
      if (c.args.size() < 2 || !validInterface(c.arg(0))) {
        report(Kind::kInvalid, c, "expected an interface and a vrrp_instance: dropped");
        continue;
      }
      syncDaemon_.set("interface", YamlNode::str(c.arg(0)));
      report(Kind::kChanged, c,
             "the sync daemon is master on the holder of the first virtual server's lease, not "
             "of " +
                 c.arg(1));
      for (std::size_t i = 2; i + 1 < c.args.size(); i += 2) {
        const std::string& key = c.args[i];
        const std::string& value = c.args[i + 1];
        const std::map<std::string, std::pair<std::string, std::int64_t>> ints = {
            {"id", {"sync_id", 255}},
            {"maxlen", {"max_length", 65507}},
            {"port", {"port", 65535}},
            {"ttl", {"ttl", 255}}};
        if (const auto it = ints.find(key); it != ints.end()) {
          if (const auto v = toInt(value, 0, it->second.second)) {
            syncDaemon_.set(it->second.first, YamlNode::num(*v));
          } else {
            report(Kind::kInvalid, c, key + " " + value + ": not a number in range: dropped");
          }
        } else if (key == "group") {
          syncDaemon_.set("group", YamlNode::str(value));
        } else {
          report(Kind::kUnknown, c, "option " + key + ": dropped");
        }
      }
    } else {
      unknownOrUnsupported(c, "global_defs", globalReasons(), mapped);
    }
  }
}

void Converter::vip(Instance& inst, const Node& v) {
  const std::vector<std::string> w = v.words();
  const std::string& text = w[0];
  const auto slash = text.find('/');
  const std::string addr = text.substr(0, slash);
  if (addr.find('-') != std::string::npos) {
    report(Kind::kInvalid, v, "an address range is not a VIP in keepalived or quorate: dropped");
    return;
  }
  const auto prefix = net::IpPrefix::parse(text);
  if (!prefix) {
    report(Kind::kInvalid, v, "not an IPv4 or IPv6 address with an optional /prefix: dropped");
    return;
  }
  std::string device = inst.interface;
  std::string label;
  static const std::set<std::string> withValue = {"brd",         "broadcast",     "scope", "peer",
                                                  "track_group", "preferred_lft", "metric"};
  static const std::set<std::string> flags = {"home",          "-nodad",   "nodad",
                                              "noprefixroute", "autojoin", "no_track"};
  for (std::size_t i = 1; i < w.size(); ++i) {
    if (w[i] == "dev" && i + 1 < w.size()) {
      device = w[++i];
    } else if (w[i] == "label" && i + 1 < w.size()) {
      label = w[++i];
    } else if (withValue.count(w[i]) && i + 1 < w.size()) {
      report(Kind::kUnsupported, v, w[i] + " " + w[i + 1] + ": not supported, ignored");
      ++i;
    } else if (flags.count(w[i])) {
      if (w[i] == "-nodad" || w[i] == "nodad") continue;  // quorate adds IPv6 VIPs without DAD
      report(Kind::kUnsupported, v, w[i] + ": not supported, ignored");
    } else {
      // A misspelt option: name the nearest, and skip its value too.
      std::string best;
      for (const char* o : {"dev", "label", "brd", "scope", "peer", "home", "noprefixroute"}) {
        if (editDistance(w[i], o) <= 2 && w[i].size() > 2) best = o;
      }
      report(Kind::kUnknown, v,
             "\"" + w[i] + "\" is not an option of a virtual_ipaddress" +
                 (best.empty() ? "" : " (did you mean " + best + "?)") + ": ignored");
      if (!best.empty() &&
          (best == "dev" || best == "label" || best == "brd" || best == "scope" ||
           best == "peer") &&
          i + 1 < w.size()) {
        ++i;
      }
    }
  }
  if (device.empty()) {
    report(Kind::kInvalid, v, "no dev and no interface in its vrrp_instance: dropped");
    return;
  }
  if (!validInterface(device)) {
    report(Kind::kInvalid, v, "device \"" + device + "\" is not an interface name: dropped");
    return;
  }
  const std::string key = prefix->address.toString();
  if (!vipsSeen_.insert(key).second) {
    report(Kind::kInvalid, v, key + " is already a VIP of this file: dropped");
    return;
  }
  YamlNode y = YamlNode::map().flow();
  y.set("address", YamlNode::str(prefix->toString()));
  y.set("device", YamlNode::str(device));
  if (!label.empty()) {
    if (!prefix->address.isV4()) {
      report(Kind::kUnsupported, v, "label on an IPv6 address: ignored");
    } else if (label.size() > 15 || label.rfind(device + ":", 0) != 0) {
      report(Kind::kInvalid, v,
             "label " + label + ": quorate wants \"" + device +
                 ":<name>\" of at most 15 "
                 "characters: ignored");
    } else {
      y.set("label", YamlNode::str(label));
    }
  }
  inst.vipLabels = inst.vipLabels || y.has("label");
  inst.vips.push(std::move(y));
  inst.vipAddresses.push_back(prefix->address);
  inst.vipDevices.insert(device);
}

std::int64_t Converter::weightOf(const Node& n, const std::vector<std::string>& w, std::size_t at,
                                 std::int64_t fallback, std::int64_t limit) {
  if (w.size() <= at || w[at] != "weight") return fallback;
  const auto v = w.size() > at + 1 ? toInt(w[at + 1], -1'000'000, 1'000'000) : std::nullopt;
  if (!v) {
    report(Kind::kInvalid, n, "weight without a number: taken as 0 (a failure is fatal)");
    return 0;
  }
  std::int64_t weight = std::clamp<std::int64_t>(*v, -limit, limit);
  if (weight != *v) {
    report(Kind::kChanged, n, "weight " + w[at + 1] + " out of range: " + std::to_string(weight));
  }
  if (w.size() > at + 2 && w[at + 2] == "reverse") {
    report(Kind::kChanged, n, "reverse: not supported, the weight is taken as it is");
  }
  return weight;
}

void Converter::addTrack(const Node& at, Tracking& into, YamlNode& list, const std::string& kind,
                         const std::string& key, const std::string& name, std::int64_t weight) {
  if (!into.seen.insert(kind + " " + name).second) return;
  if (weight == 0) {
    list.push(YamlNode::str(name));
    return;
  }
  // keepalived moves a priority, which may or may not hand the instance over depending on the
  // peer's. In a pair, a weighted script or interface is there to hand the instance over when it
  // fails (a negative weight drops the master below the backup, a positive one lifts whoever
  // passes): quorate has no priority, so such a failure moves the lease, as it is meant to.
  if (kind != "file") {
    report(Kind::kChanged, at,
           "weight " + std::to_string(weight) + ": a failure of " + name +
               " moves the lease (quorate has no priority to lower; keepalived moved it only if "
               "the priority fell below the peer's). For a failure that is only reported, give it "
               "a non-zero weight in the quorate file");
    list.push(YamlNode::str(name));
    return;
  }
  report(Kind::kChanged, at,
         "weight " + std::to_string(weight) +
             ": the lease fails when the number times the weight is -254 or less (keepalived's "
             "FAULT); a smaller drop is only reported (no priority to lower)");
  YamlNode item = YamlNode::map().flow();
  item.set(key, YamlNode::str(name));
  item.set("weight", YamlNode::num(weight));
  list.push(std::move(item), "fails at value x weight <= -254, a smaller drop is reported only");
}

void Converter::trackInterfaces(const Node& n, Tracking& into) {
  for (const Node& c : n.children) {
    const std::string& name = c.keyword;
    if (!validInterface(name)) {
      report(Kind::kInvalid, c, "not an interface name: dropped");
      continue;
    }
    addTrack(c, into, into.interfaces, "interface", "name", name,
             weightOf(c, c.words(), 1, 0, 253));
  }
}

void Converter::trackScripts(const Node& n, Tracking& into) {
  // "track_script { chk [weight N] ... }", or "track_script chk" on one line.
  std::vector<std::pair<std::vector<std::string>, const Node*>> entries;
  for (const Node& c : n.children) entries.emplace_back(c.words(), &c);
  if (!n.block && !n.args.empty()) entries.emplace_back(n.args, &n);
  for (const auto& [w, at] : entries) {
    const auto it = scripts_.find(w[0]);
    if (it == scripts_.end()) {
      report(Kind::kInvalid, *at, "no vrrp_script " + w[0] + " in the file: dropped");
      continue;
    }
    // Its script line may be left out (an @ID line of another config id): nothing to run, so
    // nothing to track (scriptYaml reports the script itself).
    const auto& kids = it->second->children;
    if (std::none_of(kids.begin(), kids.end(),
                     [](const Node& c) { return c.keyword == "script"; })) {
      report(Kind::kInvalid, *at, "vrrp_script " + w[0] + " has no script: its track is dropped");
      continue;
    }
    // The vrrp_script's own weight (default 0) unless the instance gives one.
    std::int64_t own = 0;
    for (const Node& c : it->second->children) {
      if (c.keyword == "weight") own = weightOf(c, c.words(), 0, 0, 253);
    }
    if (std::find(usedScripts_.begin(), usedScripts_.end(), w[0]) == usedScripts_.end()) {
      usedScripts_.push_back(w[0]);
    }
    addTrack(*at, into, into.scripts, "script", "name", sanitizeName(w[0]),
             weightOf(*at, w, 1, own, 253));
  }
}

void Converter::trackFiles(const Node& n, Tracking& into) {
  // "track_file { name [weight N [reverse]] ... }", each naming a vrrp_track_file.
  std::vector<std::pair<std::vector<std::string>, const Node*>> entries;
  for (const Node& c : n.children) entries.emplace_back(c.words(), &c);
  if (!n.block && !n.args.empty()) entries.emplace_back(n.args, &n);
  for (const auto& [w, at] : entries) {
    const auto it = trackFiles_.find(w[0]);
    if (it == trackFiles_.end()) {
      report(Kind::kInvalid, *at, "no vrrp_track_file " + w[0] + " in the file: dropped");
      continue;
    }
    std::string path;
    std::int64_t own = 1;  // keepalived's default for a track file
    for (const Node& c : it->second->children) {
      if (c.keyword == "file") path = c.arg(0);
      if (c.keyword == "weight") own = weightOf(c, c.words(), 0, 1, 254);
    }
    if (path.empty() || path[0] != '/') {
      report(Kind::kInvalid, *it->second,
             "vrrp_track_file " + w[0] + " without an absolute file path: dropped");
      continue;
    }
    addTrack(*at, into, into.files, "file", "path", path, weightOf(*at, w, 1, own, 254));
  }
}

void Converter::emitTrack(Tracking& t, YamlNode& y) {
  if (!t.interfaces.isEmpty()) y.set("track_interfaces", std::move(t.interfaces));
  if (!t.scripts.isEmpty()) y.set("track_scripts", std::move(t.scripts));
  if (!t.files.isEmpty()) y.set("track_files", std::move(t.files));
}

void Converter::instance(const Node& n) {
  Instance inst;
  inst.node = &n;
  inst.name = sanitizeName(n.arg(0));
  if (n.arg(0).empty()) report(Kind::kInvalid, n, "a vrrp_instance without a name");
  if (inst.name != n.arg(0)) {
    report(Kind::kChanged, n, "named " + inst.name + " (quorate names: A-Z a-z 0-9 . _ -)");
  }
  for (const auto& other : instances_) {
    if (other.name == inst.name) {
      report(Kind::kInvalid, n, "a second vrrp_instance " + inst.name + ": dropped");
      return;
    }
  }
  for (const Node& c : n.children) {
    const std::string& k = c.keyword;
    if (k == "state") {
      inst.state = upper(c.arg(0));
      if (inst.state != "MASTER" && inst.state != "BACKUP") {
        report(Kind::kInvalid, c, "expected MASTER or BACKUP: ignored");
        inst.state.clear();
      }
    } else if (k == "interface") {
      inst.interface = c.arg(0);
    } else if (k == "virtual_router_id") {
      inst.vrid = intArg(c, 1, 255);
      report(Kind::kChanged, c,
             "the lease decides who holds the VIPs; quorate sends VRRP adverts only with "
             "instances[].vrrp (add vrrp: {vrid: " +
                 c.arg(0) +
                 "} for routers or monitoring "
                 "that watch VRRP)");
    } else if (k == "priority") {
      inst.priority = intArg(c, 1, 255);
      report(Kind::kChanged, c,
             "quorate has no priorities: the preferred director is taken from state (MASTER: "
             "this one)");
    } else if (k == "advert_int") {
      inst.advertMs = msArg(c, 10, 40950);
      report(Kind::kChanged, c,
             "failover time comes from the lease timers (timers.*), not from adverts");
    } else if (k == "virtual_ipaddress" || k == "virtual_ipaddress_excluded") {
      for (const Node& v : c.children) inst.vipNodes.push_back(&v);
      if (!c.block) report(Kind::kInvalid, c, "expected a block of addresses: dropped");
    } else if (k == "track_interface") {
      trackInterfaces(c, inst.track);
    } else if (k == "track_script") {
      trackScripts(c, inst.track);
    } else if (k == "track_file") {
      trackFiles(c, inst.track);
    } else if (kHookKeys.count(k)) {
      if (auto p = program(c, c.args, true)) {
        inst.hooks.set(k, hookValue(*p));
        inst.hookWhere[k] = c.where;
      }
    } else if (k == "nopreempt") {
      inst.nopreempt = true;
      inst.nopreemptWhere = c.where;
    } else if (k == "preempt") {
      // the default
    } else if (k == "preempt_delay") {
      inst.preemptDelayMs = msArg(c, 0, 86'400'000);
    } else if (k == "unicast_src_ip" || k == "mcast_src_ip") {
      if (!address(c.arg(0))) {
        report(Kind::kInvalid, c, "not an address: dropped");
      } else if (selfAddress_.empty() || k == "unicast_src_ip") {
        if (!selfAddress_.empty() && selfAddress_ != c.arg(0)) {
          report(Kind::kChanged, c, "a second source address: this director is " + selfAddress_);
        } else {
          selfAddress_ = c.arg(0);
        }
      }
    } else if (k == "unicast_peer") {
      for (const Node& p : c.children) {
        if (!address(p.keyword)) {
          report(Kind::kInvalid, p, "not an address: dropped");
        } else if (peerAddress_.empty()) {
          peerAddress_ = p.keyword;
        } else if (peerAddress_ != p.keyword) {
          report(Kind::kUnsupported, p,
                 "quorate has exactly two directors; the other is " + peerAddress_);
        }
      }
    } else if (k == "garp_master_repeat") {
      if (auto v = intArg(c, 1, 100)) inst.announce.repeat = v;
      inst.announce.where = c.where;
    } else if (k == "garp_interval" || k == "gna_interval") {
      if (auto v = msArg(c)) inst.announce.intervalMs = v;
      inst.announce.where = c.where;
    } else if (k == "garp_master_refresh") {
      if (auto v = secondsToMs(c.arg(0), 0)) {
        if (*v > 0) inst.announce.refreshMs = v;
      } else {
        report(Kind::kInvalid, c, "expected seconds: dropped");
      }
      inst.announce.where = c.where;
    } else if (k == "use_vmac") {
      inst.useVmac = true;
      if (!c.args.empty()) {
        report(Kind::kChanged, c, "the macvlan is named vrrp.<vrid>, not " + c.arg(0));
      }
    } else if (k == "lvs_sync_daemon_interface") {
      if (validInterface(c.arg(0))) {
        syncDaemon_.set("interface", YamlNode::str(c.arg(0)));
        report(Kind::kChanged, c,
               "ipvs.sync_daemon: master on the holder of the first virtual server's lease, not "
               "of " +
                   inst.name);
      } else {
        report(Kind::kInvalid, c, "not an interface name: dropped");
      }
    } else if (k == "notify_master_rx_lower_pri") {
      report(Kind::kUnsupported, c, "quorate has no priorities: dropped");
    } else {
      unknownOrUnsupported(c, "vrrp_instance", instanceReasons(), instanceMapped());
    }
  }
  for (const Node* v : inst.vipNodes) vip(inst, *v);
  if (inst.vips.isEmpty()) {
    report(Kind::kUnsupported, n,
           "no usable virtual_ipaddress: not converted (a quorate instance owns VIPs)");
    return;
  }
  if (inst.vrid && syncDaemon_.has("interface") && !syncDaemon_.has("sync_id")) {
    syncDaemon_.set("sync_id", YamlNode::num(*inst.vrid));
  }
  inst.converted = true;
  instances_.push_back(std::move(inst));
}

void Converter::syncGroup(const Node& n) {
  static const std::set<std::string> mapped = {"group",           "notify",       "notify_master",
                                               "notify_backup",   "notify_fault", "notify_stop",
                                               "track_interface", "track_script", "track_file"};
  static const Reasons reasons = {
      {"smtp_alert", "quorate sends no e-mail: run a mailer from a notify hook"},
      {"global_tracking", "quorate tracks per lease: the group's items and its instances'"},
      {"sync_group_tracking_weight", "quorate has no priorities"},
      {"track_process", std::string("track_process: ") + kNotYet},
      {"track_bfd", "BFD: not supported"},
      {"notify_priority_changes", "quorate has no priorities"}};
  Group g;
  g.node = &n;
  g.name = sanitizeName(n.arg(0));
  for (const auto& inst : instances_) {
    if (inst.name == g.name) {
      g.name += "-group";
      report(Kind::kChanged, n,
             "named " + g.name +
                 ": a sync group's name must differ from its "
                 "instances'");
    }
  }
  for (const Node& c : n.children) {
    const std::string& k = c.keyword;
    if (k == "group") {
      for (const Node& m : c.children) {
        for (const std::string& name : m.words()) {
          auto it = std::find_if(instances_.begin(), instances_.end(),
                                 [&](const Instance& i) { return i.name == sanitizeName(name); });
          if (it == instances_.end()) {
            report(Kind::kInvalid, m, "no converted vrrp_instance " + name + ": left out");
          } else if (!it->group.empty()) {
            report(Kind::kInvalid, m,
                   name + " is already in sync group " + it->group + ": left out");
          } else {
            it->group = g.name;
            g.members.push_back(it->name);
          }
        }
      }
    } else if (!c.block && c.args.empty() &&
               std::any_of(instances_.begin(), instances_.end(),
                           [&](const Instance& i) { return i.name == sanitizeName(k); })) {
      // The old form: the instances listed in the group's block without "group { }".
      auto it = std::find_if(instances_.begin(), instances_.end(),
                             [&](const Instance& i) { return i.name == sanitizeName(k); });
      if (!it->group.empty()) {
        report(Kind::kInvalid, c, k + " is already in sync group " + it->group + ": left out");
      } else {
        it->group = g.name;
        g.members.push_back(it->name);
      }
    } else if (kHookKeys.count(k)) {
      if (auto p = program(c, c.args, true)) g.hooks.set(k, hookValue(*p));
    } else if (k == "track_interface") {
      trackInterfaces(c, g.track);
    } else if (k == "track_script") {
      trackScripts(c, g.track);
    } else if (k == "track_file") {
      trackFiles(c, g.track);
    } else {
      unknownOrUnsupported(c, "vrrp_sync_group", reasons, mapped);
    }
  }
  if (g.members.empty()) {
    report(Kind::kUnsupported, n, "no converted instance in it: not converted");
    return;
  }
  // An instance in a group has no hooks of its own in quorate: they move to the group.
  for (auto& inst : instances_) {
    if (inst.group != g.name) continue;
    for (const auto& [key, where] : inst.hookWhere) {
      Node at;
      at.keyword = key;
      at.where = where;
      if (g.hooks.has(key)) {
        report(Kind::kUnsupported, at,
               "instance " + inst.name + " is in sync group " + g.name + ", which has its own " +
                   key + ": quorate runs the group's only, dropped");
      } else {
        g.hooks.set(key, std::move(*inst.hooks.find(key)));
        report(Kind::kChanged, at,
               "moved to sync group " + g.name +
                   " (quorate runs hooks per lease): it gets "
                   "GROUP " +
                   g.name + " instead of INSTANCE " + inst.name);
      }
    }
    inst.hooks = YamlNode::map();
  }
  groups_.push_back(std::move(g));
}

YamlNode Converter::scriptYaml(const Node& n) {
  YamlNode s = YamlNode::map();
  s.set("name", YamlNode::str(sanitizeName(n.arg(0))));
  static const std::set<std::string> mapped = {"script", "interval", "timeout", "weight",
                                               "rise",   "fall",     "user",    "init_fail"};
  std::string user;
  std::optional<Program> prog;
  std::int64_t interval = 1000;
  for (const Node& c : n.children) {
    const std::string& k = c.keyword;
    if (k == "script") {
      prog = program(c, c.args, true);
    } else if (k == "interval") {
      if (auto v = msArg(c)) {
        interval = *v;
        s.set("interval_ms", YamlNode::num(*v));
      }
    } else if (k == "timeout") {
      if (auto v = msArg(c)) s.set("timeout_ms", YamlNode::num(*v));
    } else if (k == "rise" || k == "fall") {
      if (auto v = intArg(c, 1, 1000)) s.set(k, YamlNode::num(*v));
    } else if (k == "weight") {
      // Taken per instance (trackScripts), where a failure moves the lease whatever the weight.
    } else if (k == "user") {
      user = c.arg(0);
    } else if (k == "init_fail") {
      report(Kind::kChanged, c, "quorate starts a script as passing until it fails");
    } else {
      unknownOrUnsupported(c, "vrrp_script", {}, mapped);
    }
  }
  if (!prog) {
    report(Kind::kInvalid, n, "vrrp_script without a script: dropped");
    return YamlNode::map();
  }
  YamlNode argv = YamlNode::list().flow();
  for (const auto& a : prog->argv) argv.push(YamlNode::str(a));
  s.set("command", std::move(argv));
  if (!user.empty() || !prog->user.empty()) {
    report(Kind::kUnsupported, n,
           "a track script runs as script_user; its own user (" +
               (user.empty() ? prog->user : user) + ") is not supported");
  }
  // keepalived: timeout defaults to the interval; rise and fall to 1.
  if (!s.has("timeout_ms")) s.set("timeout_ms", YamlNode::num(interval));
  if (!s.has("rise")) s.set("rise", YamlNode::num(1));
  if (!s.has("fall")) s.set("fall", YamlNode::num(1));
  return s;
}

namespace {

YamlNode announceYaml(const Announce& a) {
  YamlNode y = YamlNode::map().flow();
  if (a.repeat) y.set("repeat", YamlNode::num(*a.repeat));
  if (a.intervalMs) y.set("interval_ms", YamlNode::num(*a.intervalMs));
  if (a.refreshMs) y.set("refresh_ms", YamlNode::num(*a.refreshMs));
  return y;
}

}  // namespace

void Converter::finishLeases(YamlNode& root) {
  // Preference: the lease's state (MASTER here: this director), nopreempt: none.
  auto preference = [&](const Instance& inst, YamlNode& into) {
    if (inst.nopreempt) {
      Node at;
      at.keyword = "nopreempt";
      at.where = inst.nopreemptWhere;
      report(Kind::kChanged, at,
             "no preferred director: whoever holds " + inst.name + " keeps it, as with nopreempt");
      return;
    }
    if (inst.state.empty()) {
      report(Kind::kPlaceholder, *inst.node,
             "no state: no preferred director for " + inst.name +
                 " (set preferred and preempt_delay_ms to have one)");
      return;
    }
    into.set("preferred", YamlNode::str(inst.state == "MASTER" ? options_.node : options_.peer));
    into.set("preempt_delay_ms", YamlNode::num(inst.preemptDelayMs.value_or(0)),
             inst.preemptDelayMs ? "" : "keepalived preempts at once");
  };
  YamlNode instances = YamlNode::list();
  std::set<std::int64_t> vmacVrids;
  for (auto& inst : instances_) {
    YamlNode y = YamlNode::map();
    y.set("name", YamlNode::str(inst.name));
    y.set("vips", std::move(inst.vips));
    if (inst.useVmac) {
      const bool oneFamily = std::all_of(
          inst.vipAddresses.begin(), inst.vipAddresses.end(),
          [&](const net::IpAddress& a) { return a.family == inst.vipAddresses[0].family; });
      if (!inst.vrid) {
        report(Kind::kInvalid, *inst.node, "use_vmac without virtual_router_id: dropped");
      } else if (!vmacVrids.insert(*inst.vrid).second) {
        report(Kind::kInvalid, *inst.node,
               "use_vmac: virtual_router_id " + std::to_string(*inst.vrid) +
                   " is another instance's, and quorate's vrid is unique per director: dropped");
      } else if (inst.vipDevices.size() != 1 || !oneFamily || inst.vipLabels) {
        report(Kind::kInvalid, *inst.node,
               "use_vmac needs the VIPs on one device, of one family and without labels: dropped");
      } else {
        YamlNode vrrp = YamlNode::map().flow();
        vrrp.set("vrid", YamlNode::num(*inst.vrid));
        if (inst.priority && *inst.priority < 255)
          vrrp.set("priority", YamlNode::num(*inst.priority));
        if (inst.advertMs && *inst.advertMs % 10 == 0) {
          vrrp.set("advert_interval_ms", YamlNode::num(*inst.advertMs));
        }
        vrrp.set("use_vmac", YamlNode::boolean(true));
        y.set("vrrp", std::move(vrrp));
      }
    }
    if (inst.group.empty()) {
      preference(inst, y);
      if (!inst.hooks.isEmpty()) y.set("hooks", std::move(inst.hooks));
      if (inst.announce.any()) y.set("announce", announceYaml(inst.announce));
    }
    emitTrack(inst.track, y);
    instances.push(std::move(y));
    ++out_.instances;
  }
  if (!instances.isEmpty()) root.set("instances", std::move(instances));
  YamlNode groups = YamlNode::list();
  for (auto& g : groups_) {
    YamlNode y = YamlNode::map();
    y.set("name", YamlNode::str(g.name));
    YamlNode members = YamlNode::list().flow();
    for (const auto& m : g.members) members.push(YamlNode::str(m));
    y.set("instances", std::move(members));
    const Instance* first = nullptr;
    for (const auto& inst : instances_) {
      if (inst.group != g.name) continue;
      if (!first) {
        first = &inst;
      } else if (inst.state != first->state || inst.nopreempt != first->nopreempt ||
                 inst.preemptDelayMs != first->preemptDelayMs) {
        report(Kind::kChanged, *inst.node,
               "state, nopreempt or preempt_delay differ from " + first->name + "'s: sync group " +
                   g.name + " takes " + first->name + "'s");
      }
    }
    if (first) preference(*first, y);
    if (!g.hooks.isEmpty()) y.set("hooks", std::move(g.hooks));
    // The group's VIPs are announced together: its first member's own garp_* settings.
    const Instance* own = nullptr;
    for (const auto& inst : instances_) {
      if (inst.group != g.name || !inst.announce.any()) continue;
      if (!own) {
        own = &inst;
      } else if (!(inst.announce == own->announce)) {
        Node at;
        at.keyword = "garp_*";
        at.where = inst.announce.where;
        report(Kind::kChanged, at,
               "sync group " + g.name + " announces its VIPs together: with " + own->name +
                   "'s settings, not " + inst.name + "'s");
      }
    }
    if (own) y.set("announce", announceYaml(own->announce));
    emitTrack(g.track, y);
    groups.push(std::move(y));
    ++out_.syncGroups;
  }
  if (!groups.isEmpty()) root.set("sync_groups", std::move(groups));

  // Announcements: global_defs' at the top level; an instance's or group's own garp_* settings
  // in its announce (key by key over the top level's, as keepalived's).
  if (globalAnnounce_.any()) root.set("announce", announceYaml(globalAnnounce_));
  YamlNode scripts = YamlNode::list();
  for (const auto& name : usedScripts_) {
    const auto it = scripts_.find(name);
    if (it == scripts_.end()) continue;
    YamlNode s = scriptYaml(*it->second);
    if (!s.isEmpty()) {
      scripts.push(std::move(s));
      ++out_.trackScripts;
    }
  }
  for (const auto& [name, node] : scripts_) {
    if (std::find(usedScripts_.begin(), usedScripts_.end(), name) == usedScripts_.end()) {
      report(Kind::kUnsupported, *node,
             "vrrp_script " + name +
                 " is tracked by no instance: "
                 "not converted");
    }
  }
  if (!scripts.isEmpty()) {
    root.set("track_scripts", std::move(scripts),
             "each tracked by the instances or sync groups that name it (and only those)");
  }
}

Imported Converter::run() {
  static const std::set<std::string> topMapped = {
      "global_defs",    "vrrp_script",          "vrrp_instance",   "vrrp_sync_group",
      "virtual_server", "virtual_server_group", "vrrp_track_file", "track_file"};
  static const Reasons topReasons = {
      {"static_ipaddress", "addresses outside VRRP: configure them with the system's network"},
      {"static_routes", "routes outside VRRP: configure them with the system's network"},
      {"static_rules", "rules outside VRRP: configure them with the system's network"},
      {"vrrp_track_process", std::string("track_process: ") + kNotYet + " (use a track script)"},
      {"track_process", std::string("track_process: ") + kNotYet + " (use a track script)"},
      {"garp_group", std::string("announcement groups: ") + kNotYet},
      {"bfd_instance", "BFD: not supported"},
      {"SSL", "client certificates for SSL_GET: not supported"},
      {"linkbeat_use_polling", "quorate watches links by netlink"},
      {"net_namespace", "run quorate-director inside the namespace (ip netns exec)"}};
  std::vector<const Node*> instanceNodes, groupNodes;
  for (const Node& n : config_.root.children) {
    const std::string& k = n.keyword;
    if (k == "global_defs") {
      globalDefs(n);
    } else if (k == "vrrp_script") {
      if (n.arg(0).empty()) {
        report(Kind::kInvalid, n, "a vrrp_script without a name: dropped");
      } else if (!scripts_.emplace(n.arg(0), &n).second) {
        report(Kind::kInvalid, n, "a second vrrp_script " + n.arg(0) + ": dropped");
      }
    } else if (k == "vrrp_track_file" || k == "track_file") {
      if (n.arg(0).empty()) {
        report(Kind::kInvalid, n, "a " + k + " without a name: dropped");
      } else if (!trackFiles_.emplace(n.arg(0), &n).second) {
        report(Kind::kInvalid, n, "a second " + k + " " + n.arg(0) + ": dropped");
      }
      for (const Node& c : n.children) {
        if (c.keyword == "init_file") {
          report(Kind::kChanged, c,
                 "quorate does not create the file: while it is missing or unreadable, what "
                 "tracks it fails");
        } else if (c.keyword != "file" && c.keyword != "weight") {
          unknownOrUnsupported(c, k, {}, {"file", "weight", "init_file"});
        }
      }
    } else if (k == "vrrp_instance") {
      instanceNodes.push_back(&n);
    } else if (k == "vrrp_sync_group") {
      groupNodes.push_back(&n);
    } else if (k == "virtual_server_group") {
      vsGroups_.emplace(n.arg(0), &n);
    } else if (k == "virtual_server") {
      virtualServers_.push_back(&n);
    } else {
      unknownOrUnsupported(n, "the top level", topReasons, topMapped);
    }
  }
  for (const Node* n : instanceNodes) instance(*n);
  for (const Node* n : groupNodes) syncGroup(*n);

  out_.cluster = options_.cluster;
  if (out_.cluster.empty()) out_.cluster = "keepalived";
  const std::string secret = options_.secretFile.empty()
                                 ? "/etc/quorate/" + out_.cluster + ".secret"
                                 : options_.secretFile;

  YamlNode root = YamlNode::map();
  root.set("cluster", YamlNode::str(out_.cluster));
  root.set("node", YamlNode::str(options_.node));
  root.set("secret_file", YamlNode::str(secret),
           "make it once and copy it to the other director and the arbiter:\n"
           "sh scripts/make-secret.sh " +
               secret);
  const bool selfKnown = !selfAddress_.empty();
  const bool peerKnown = !peerAddress_.empty();
  const std::string self = selfKnown ? selfAddress_ : kSelfPlaceholder;
  const std::string peer = peerKnown ? peerAddress_ : kPeerPlaceholder;
  root.set("listen", YamlNode::str(hostPort(self, kDirectorPort)));
  root.set("state_dir", YamlNode::str(options_.stateDir));
  YamlNode directors = YamlNode::list();
  YamlNode me = YamlNode::map().flow();
  me.set("id", YamlNode::str(options_.node));
  me.set("address", YamlNode::str(hostPort(self, kDirectorPort)));
  YamlNode other = YamlNode::map().flow();
  other.set("id", YamlNode::str(options_.peer));
  other.set("address", YamlNode::str(hostPort(peer, kDirectorPort)));
  // In the order of their ids, so that importing the other director's keepalived.conf with
  // --node and --peer swapped lists them the same way (both files must agree on the order).
  const std::string meNote = selfKnown ? "" : "PLACEHOLDER: " + options_.node + "'s address";
  const std::string otherNote = peerKnown ? "" : "PLACEHOLDER: " + options_.peer + "'s address";
  if (options_.node < options_.peer) {
    directors.push(std::move(me), meNote);
    directors.push(std::move(other), otherNote);
  } else {
    directors.push(std::move(other), otherNote);
    directors.push(std::move(me), meNote);
  }
  root.set("directors", std::move(directors));
  YamlNode arbiter = YamlNode::map().flow();
  arbiter.set("id", YamlNode::str("arbiter"));
  arbiter.set("address", YamlNode::str(hostPort(kArbiterPlaceholder, kArbiterPort)));
  root.set("arbiter", std::move(arbiter),
           "PLACEHOLDER: keepalived has no third node. Run quorate-arbiter on a machine both\n"
           "directors reach (arbiter.yaml) and put its listen address here.");
  const Location top = config_.root.where;
  if (!selfKnown) {
    out_.report.push_back({Kind::kPlaceholder, top, "listen",
                           std::string("no unicast_src_ip: this director's address is ") +
                               kSelfPlaceholder + ", fill it in"});
  }
  if (!peerKnown) {
    out_.report.push_back({Kind::kPlaceholder, top, "directors",
                           std::string("no unicast_peer: the other director's address is ") +
                               kPeerPlaceholder + ", fill it in"});
  }
  out_.report.push_back({Kind::kPlaceholder, top, "arbiter",
                         std::string("keepalived has no arbiter: its address is ") +
                             kArbiterPlaceholder +
                             ", fill it in (both directors' files and "
                             "arbiter.yaml)"});
  finishLeases(root);
  if (!scriptUser_.empty()) root.set("script_user", YamlNode::str(scriptUser_));
  if (!notifyFifo_.empty()) {
    YamlNode hooks = YamlNode::map();
    hooks.set("notify_fifo", YamlNode::str(notifyFifo_));
    root.set("hooks", std::move(hooks));
  }
  YamlNode vsList = YamlNode::list();
  for (const Node* n : virtualServers_) virtualServer(*n, vsList);
  for (const auto& [name, node] : vsGroups_) {
    bool used = false;
    for (const Node* v : virtualServers_)
      used = used || (v->arg(0) == "group" && v->arg(1) == name);
    if (!used) report(Kind::kUnsupported, *node, "used by no virtual_server: not converted");
  }
  if (!vsList.isEmpty()) root.set("virtual_servers", std::move(vsList));
  if (!serviceGroups_.isEmpty()) root.set("virtual_server_groups", std::move(serviceGroups_));
  if (syncDaemon_.has("interface")) {
    if (!syncDaemon_.has("sync_id")) syncDaemon_.set("sync_id", YamlNode::num(0));
    if (vsList.isEmpty() && !root.has("virtual_servers")) {
      out_.report.push_back({Kind::kUnsupported, top, "lvs_sync_daemon",
                             "no virtual server: the sync daemon is not converted"});
    } else {
      YamlNode ipvs = YamlNode::map();
      syncDaemon_.flow();
      ipvs.set("sync_daemon", std::move(syncDaemon_));
      root.set("ipvs", std::move(ipvs));
    }
  }

  const std::string header =
      "# quorate director " + options_.node + ", imported from " +
      (options_.source.empty() ? std::string("keepalived.conf") : options_.source) +
      " by quoratectl import-keepalived.\n"
      "# Read the import report before using it; docs/from-keepalived.md says what changes.\n";
  out_.directorYaml = header + root.render();
  root.set("node", YamlNode::str(options_.peer));
  root.set("listen", YamlNode::str(hostPort(peer, kDirectorPort)));
  out_.peerYaml = "# quorate director " + options_.peer +
                  ": the same file with node and listen "
                  "changed.\n" +
                  root.render();

  YamlNode arb = YamlNode::map();
  arb.set("listen", YamlNode::str(hostPort(kArbiterPlaceholder, kArbiterPort)),
          "PLACEHOLDER: an address of the arbiter's machine that both directors reach");
  arb.set("state_dir", YamlNode::str(options_.arbiterStateDir));
  arb.set("quarantine_ms", YamlNode::num(1800),
          "at least the directors' timers.acceptor_lease_ms (default 1700)");
  YamlNode clusters = YamlNode::list();
  YamlNode c = YamlNode::map();
  c.set("id", YamlNode::str(out_.cluster));
  c.set("secret_file", YamlNode::str(secret));
  clusters.push(std::move(c));
  arb.set("clusters", std::move(clusters));
  out_.arbiterYaml = "# quorate arbiter for cluster " + out_.cluster +
                     " (keepalived has none): run it on a third machine.\n" + arb.render();

  for (const auto& note : config_.notes) {
    out_.report.push_back({Kind::kUnsupported, note.where, note.keyword, note.text});
  }
  std::stable_sort(out_.report.begin(), out_.report.end(), [](const Finding& a, const Finding& b) {
    if (a.where.file != b.where.file) return a.where.file < b.where.file;
    return a.where.line < b.where.line;
  });
  return std::move(out_);
}

}  // namespace detail

using detail::Kind;

const char* kindName(Finding::Kind kind) {
  switch (kind) {
    case Kind::kUnknown:
      return "unknown";
    case Kind::kUnsupported:
      return "not mapped";
    case Kind::kChanged:
      return "changed";
    case Kind::kPlaceholder:
      return "fill in";
    case Kind::kInvalid:
      return "invalid";
  }
  return "?";
}

Imported convert(const Config& config, const ImportOptions& options) {
  return detail::Converter(config, options).run();
}

std::string formatReport(const Imported& imported) {
  std::string out =
      "imported: cluster " + imported.cluster + ", " + std::to_string(imported.instances) +
      " instances, " + std::to_string(imported.syncGroups) + " sync groups, " +
      std::to_string(imported.trackScripts) + " track scripts, " +
      std::to_string(imported.virtualServers) + " virtual servers, " +
      std::to_string(imported.realServers) + " real servers, " + std::to_string(imported.checks) +
      " checks; " + std::to_string(imported.report.size()) + " findings\n";
  for (const auto& f : imported.report) {
    out += f.where.str() + ": " + kindName(f.kind) + ": " + f.keyword + ": " + f.why + "\n";
  }
  return out;
}

}  // namespace quorate::keepalived
