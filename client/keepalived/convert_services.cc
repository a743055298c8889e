// keepalived's virtual_server, virtual_server_group, real_server and checker blocks to quorate's
// virtual_servers (part of the converter, convert_internal.h).
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "client/keepalived/convert_internal.h"

namespace quorate::keepalived::detail {
namespace {

constexpr int kMaxGroupRange = 256;  // addresses one virtual_server_group range may stand for

// `base`, or the first of base-2, base-3... no virtual server has yet (recorded in `taken`):
// keepalived tells services apart by protocol too (DNS on UDP and TCP at one address and port),
// and a group may be named like a plain service.
std::string uniqueName(std::vector<std::string>& taken, const std::string& base) {
  std::string name = base;
  for (int k = 2; std::find(taken.begin(), taken.end(), name) != taken.end(); ++k) {
    name = base + "-" + std::to_string(k);
  }
  taken.push_back(name);
  return name;
}

bool isHex(const std::string& s) {
  std::size_t digits = 0;
  for (char c : s) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      ++digits;
    } else if (c != ' ') {
      return false;
    }
  }
  return digits > 0 && digits % 2 == 0;
}

// The file of keepalived's top-level `track_file NAME { file PATH }` (or vrrp_track_file), or "".
std::string trackFilePath(const Node& root, const std::string& name) {
  for (const Node& t : root.children) {
    if ((t.keyword != "track_file" && t.keyword != "vrrp_track_file") || t.arg(0) != name) continue;
    for (const Node& c : t.children) {
      if (c.keyword == "file" && !c.arg(0).empty()) return c.arg(0);
    }
  }
  return "";
}

// quorate's group members (server/ipvs/groups.h) for `services` and `marks` as expandGroup gives
// them: runs of consecutive addresses on one port become ranges again ("198.18.1.2-3:80").
std::vector<std::string> groupMembers(
    const std::vector<std::pair<std::string, std::int64_t>>& services,
    const std::vector<std::int64_t>& marks) {
  std::vector<std::string> out;
  auto last = [](const net::IpAddress& a) {
    return a.isV4() ? unsigned{a.bytes[3]} : (unsigned{a.bytes[14]} << 8) | a.bytes[15];
  };
  auto sameBut = [](const net::IpAddress& a, const net::IpAddress& b) {
    const std::size_t n = a.isV4() ? 3 : 14;
    return a.family == b.family &&
           std::equal(a.bytes.begin(), a.bytes.begin() + n, b.bytes.begin());
  };
  for (std::size_t i = 0; i < services.size();) {
    const auto first = *net::IpAddress::parse(services[i].first);
    std::size_t j = i + 1;
    while (j < services.size() && services[j].second == services[i].second) {
      const auto next = *net::IpAddress::parse(services[j].first);
      if (!sameBut(first, next) || last(next) != last(first) + (j - i)) break;
      ++j;
    }
    std::string host = first.toString();
    if (j - i > 1) {
      const unsigned end = last(first) + static_cast<unsigned>(j - i - 1);
      char hex[8];
      std::snprintf(hex, sizeof hex, "%x", end);
      host += "-" + (first.isV4() ? std::to_string(end) : std::string(hex));
    }
    if (first.isV6()) host = "[" + host + "]";
    out.push_back(host + ":" + std::to_string(services[i].second));
    i = j;
  }
  for (const auto m : marks) out.push_back("fwmark:" + std::to_string(m));
  return out;
}

}  // namespace

std::string Converter::instanceFor(const std::string& addr, const Node& vsNode) {
  const auto a = address(addr);
  for (const auto& inst : instances_) {
    for (const auto& v : inst.vipAddresses) {
      if (a && v == *a) return inst.name;
    }
  }
  if (instances_.size() <= 1) return "";  // the only instance (or none): no key needed
  report(Kind::kPlaceholder, vsNode,
         "no instance has this address as a VIP: follows instance " + instances_.front().name +
             "; check virtual_servers[].instance");
  return instances_.front().name;
}

// "10.0.0.1-10 80": the last byte of IPv4, the last group of IPv6, from .. to.
std::vector<std::pair<std::string, std::int64_t>> Converter::expandGroup(
    const Node& vsNode, const std::string& name, std::vector<std::int64_t>* marks) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  const auto it = vsGroups_.find(name);
  if (it == vsGroups_.end()) {
    report(Kind::kInvalid, vsNode, "no virtual_server_group " + name + ": not converted");
    return out;
  }
  for (const Node& e : it->second->children) {
    if (e.keyword == "fwmark") {
      if (auto v = toInt(e.arg(0), 1, 4294967295LL)) {
        marks->push_back(*v);
      } else {
        report(Kind::kInvalid, e, "not a firewall mark: dropped");
      }
      continue;
    }
    const auto port = toInt(e.arg(0), 0, 65535);
    if (!port) {
      report(Kind::kInvalid, e, "expected ADDRESS[-LAST] PORT: dropped");
      continue;
    }
    const std::string& text = e.keyword;
    const std::size_t dash = text.rfind('-');
    if (dash == std::string::npos) {
      if (!address(text)) {
        report(Kind::kInvalid, e, "not an address: dropped");
        continue;
      }
      out.emplace_back(text, *port);
      continue;
    }
    const auto first = address(text.substr(0, dash));
    if (!first) {
      report(Kind::kInvalid, e, "not an address range: dropped");
      continue;
    }
    const bool v4 = first->isV4();
    const auto last = v4 ? toInt(text.substr(dash + 1), 0, 255) : std::optional<std::int64_t>();
    std::optional<std::int64_t> last6;
    if (!v4) {
      const std::string hex = text.substr(dash + 1);
      if (!hex.empty() && hex.size() <= 4 &&
          std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(c); })) {
        last6 = std::stoll(hex, nullptr, 16);
      }
    }
    const std::size_t lo = v4 ? 3 : 14;
    const std::int64_t from = v4 ? first->bytes[3] : (first->bytes[14] << 8 | first->bytes[15]);
    const std::optional<std::int64_t> to = v4 ? last : last6;
    if (!to || *to < from || *to - from + 1 > kMaxGroupRange) {
      report(Kind::kInvalid, e,
             "not a range of at most " + std::to_string(kMaxGroupRange) + " addresses: dropped");
      continue;
    }
    for (std::int64_t x = from; x <= *to; ++x) {
      net::IpAddress a = *first;
      if (v4) {
        a.bytes[lo] = static_cast<std::uint8_t>(x);
      } else {
        a.bytes[14] = static_cast<std::uint8_t>(x >> 8);
        a.bytes[15] = static_cast<std::uint8_t>(x & 0xff);
      }
      out.emplace_back(a.toString(), *port);
    }
  }
  return out;
}

bool Converter::commonCheckKey(const Node& c, YamlNode& check) {
  const std::string& k = c.keyword;
  if (k == "connect_ip" || k == "bind_to") {
    if (address(c.arg(0))) {
      check.set(k, YamlNode::str(c.arg(0)));
    } else {
      report(Kind::kInvalid, c, "not an address: dropped");
    }
  } else if (k == "connect_port") {
    if (auto v = intArg(c, 1, 65535)) check.set("connect_port", YamlNode::num(*v));
  } else if (k == "connect_timeout") {
    if (auto v = msArg(c)) check.set("timeout_ms", YamlNode::num(*v));
  } else if (k == "retry" || k == "nb_get_retry") {
    if (auto v = intArg(c, 0, 100)) check.set("retries", YamlNode::num(*v));
  } else if (k == "delay_before_retry") {
    if (auto v = msArg(c)) check.set("retry_delay_ms", YamlNode::num(*v));
  } else if (k == "warmup") {
    if (auto v = msArg(c)) check.set("warmup_ms", YamlNode::num(*v));
  } else if (k == "delay_loop") {
    if (auto v = msArg(c, 10)) check.set("interval_ms", YamlNode::num(*v));
  } else if (k == "bind_port" || k == "bind_if" || k == "fwmark" || k == "source_ip") {
    report(Kind::kUnsupported, c, std::string(kNotYet));
  } else if (k == "alpha") {
    report(Kind::kChanged, c, "alpha is per real server in quorate");
  } else {
    return false;
  }
  return true;
}

void Converter::checks(const Node& n, YamlNode& list, const std::string& vsVirtualhost) {
  const std::string& type = n.keyword;
  YamlNode base = YamlNode::map();
  std::vector<YamlNode> made;
  if (type == "TCP_CHECK") {
    base.set("type", YamlNode::str("tcp"));
    for (const Node& c : n.children) {
      if (!commonCheckKey(c, base)) unknownOrUnsupported(c, "TCP_CHECK", {}, withCheckKeys({}));
    }
    made.push_back(std::move(base));
  } else if (type == "HTTP_GET" || type == "SSL_GET") {
    base.set("type", YamlNode::str(type == "HTTP_GET" ? "http" : "https"));
    std::string virtualhost = vsVirtualhost;
    bool sni = false;
    std::vector<const Node*> urls;
    static const std::set<std::string> mapped = {"url", "virtualhost", "enable_sni"};
    static const Reasons reasons = {{"http_protocol", "quorate sends HTTP/1.1 requests"},
                                    {"fast_recovery", "not supported: rise and fall apply"},
                                    {"ssl", "client certificates: not supported"}};
    for (const Node& c : n.children) {
      if (c.keyword == "url") {
        urls.push_back(&c);
      } else if (c.keyword == "virtualhost") {
        virtualhost = c.arg(0);
      } else if (c.keyword == "enable_sni") {
        sni = true;
      } else if (!commonCheckKey(c, base)) {
        unknownOrUnsupported(c, type, reasons, withCheckKeys(mapped));
      }
    }
    if (sni && type == "HTTP_GET") report(Kind::kInvalid, n, "enable_sni on HTTP_GET: ignored");
    if (!virtualhost.empty()) base.set("virtualhost", YamlNode::str(virtualhost));
    if (sni && type == "SSL_GET" && !virtualhost.empty()) {
      base.set("sni", YamlNode::str(virtualhost));
    }
    if (urls.empty()) made.push_back(base);
    for (const Node* u : urls) {
      YamlNode check = base;
      static const std::set<std::string> urlMapped = {"path", "digest", "status_code",
                                                      "virtualhost"};
      static const Reasons urlReasons = {
          {"regex", "body regular expressions: not supported (use digest)"},
          {"regex_no_match", "body regular expressions: not supported"},
          {"regex_options", "body regular expressions: not supported"},
          {"regex_stack", "body regular expressions: not supported"},
          {"regex_min_offset", "body regular expressions: not supported"},
          {"regex_max_offset", "body regular expressions: not supported"}};
      YamlNode codes = YamlNode::list().flow();
      for (const Node& c : u->children) {
        if (c.keyword == "path") {
          check.set("path", YamlNode::str(c.arg(0).empty() ? "/" : c.arg(0)));
        } else if (c.keyword == "digest") {
          std::string d = lower(c.arg(0));
          if (d.size() == 32 && std::all_of(d.begin(), d.end(), [](char x) {
                return std::isxdigit(static_cast<unsigned char>(x));
              })) {
            check.set("digest", YamlNode::str(d));
          } else {
            report(Kind::kInvalid, c, "not an MD5 digest (32 hex digits): dropped");
          }
        } else if (c.keyword == "status_code") {
          for (const std::string& s : c.args) {
            if (auto v = toInt(s, 100, 999)) {
              codes.push(YamlNode::num(*v));
            } else if (s.find('-') != std::string::npos &&
                       toInt(s.substr(0, s.find('-')), 100, 999) &&
                       toInt(s.substr(s.find('-') + 1), 100, 999)) {
              codes.push(YamlNode::str(s));
            } else {
              report(Kind::kInvalid, c, "status " + s + ": not a code or range, dropped");
            }
          }
        } else if (c.keyword == "virtualhost") {
          check.set("virtualhost", YamlNode::str(c.arg(0)));
        } else {
          unknownOrUnsupported(c, "url", urlReasons, urlMapped);
        }
      }
      if (!codes.isEmpty()) check.set("status_codes", std::move(codes));
      made.push_back(std::move(check));
    }
  } else if (type == "MISC_CHECK") {
    base.set("type", YamlNode::str("script"));
    std::optional<Program> prog;
    std::string user;
    static const std::set<std::string> mapped = {"misc_path", "misc_timeout", "misc_dynamic",
                                                 "user"};
    for (const Node& c : n.children) {
      if (c.keyword == "misc_path") {
        prog = program(c, c.args, true);
      } else if (c.keyword == "misc_timeout") {
        if (auto v = msArg(c)) base.set("timeout_ms", YamlNode::num(*v));
      } else if (c.keyword == "misc_dynamic") {
        base.set("dynamic", YamlNode::boolean(true));
      } else if (c.keyword == "user") {
        user = c.arg(0);
        checkUser(c, user);
      } else if (c.keyword == "connect_ip" || c.keyword == "connect_port" ||
                 c.keyword == "bind_to") {
        report(Kind::kInvalid, c, "not an option of MISC_CHECK: dropped");
      } else if (!commonCheckKey(c, base)) {
        unknownOrUnsupported(c, "MISC_CHECK", {}, withCheckKeys(mapped));
      }
    }
    if (!prog) {
      report(Kind::kInvalid, n, "MISC_CHECK without misc_path: dropped");
      return;
    }
    YamlNode argv = YamlNode::list().flow();
    for (const auto& a : prog->argv) argv.push(YamlNode::str(a));
    base.set("command", std::move(argv));
    if (user.empty()) user = prog->user;
    if (!user.empty()) base.set("user", YamlNode::str(user));
    made.push_back(std::move(base));
  } else if (type == "SMTP_CHECK") {
    base.set("type", YamlNode::str("smtp"));
    std::vector<const Node*> hosts;
    static const std::set<std::string> mapped = {"host", "helo_name"};
    for (const Node& c : n.children) {
      if (c.keyword == "host") {
        hosts.push_back(&c);
      } else if (c.keyword == "helo_name") {
        if (!c.arg(0).empty()) base.set("helo", YamlNode::str(c.arg(0)));
      } else if (!commonCheckKey(c, base)) {
        unknownOrUnsupported(c, "SMTP_CHECK", {}, withCheckKeys(mapped));
      }
    }
    if (hosts.empty()) made.push_back(base);
    for (const Node* h : hosts) {
      YamlNode check = base;
      for (const Node& c : h->children) {
        if (!commonCheckKey(c, check))
          unknownOrUnsupported(c, "SMTP_CHECK host", {}, withCheckKeys({}));
      }
      made.push_back(std::move(check));
    }
  } else if (type == "DNS_CHECK") {
    base.set("type", YamlNode::str("dns"));
    static const std::set<std::string> kTypes = {"A",   "AAAA", "NS",  "CNAME", "PTR", "MX",
                                                 "TXT", "SRV",  "CAA", "ANY",   "SOA"};
    for (const Node& c : n.children) {
      if (c.keyword == "type") {
        if (kTypes.count(upper(c.arg(0)))) {
          base.set("query_type", YamlNode::str(upper(c.arg(0))));
        } else {
          report(Kind::kUnsupported, c, "query type " + c.arg(0) + ": not supported, dropped");
        }
      } else if (c.keyword == "name") {
        if (!c.arg(0).empty()) base.set("name", YamlNode::str(c.arg(0)));
      } else if (!commonCheckKey(c, base)) {
        unknownOrUnsupported(c, "DNS_CHECK", {}, withCheckKeys({"type", "name"}));
      }
    }
    made.push_back(std::move(base));
  } else if (type == "UDP_CHECK") {
    base.set("type", YamlNode::str("udp"));
    for (const Node& c : n.children) {
      if (c.keyword == "payload") {
        if (isHex(c.arg(0))) {
          base.set("payload_hex", YamlNode::str(lower(c.arg(0))));
        } else {
          report(Kind::kInvalid, c, "not hex bytes: dropped (an empty datagram is sent)");
        }
      } else if (c.keyword == "require_reply") {
        if (c.arg(0).empty()) {
          base.set("require_reply", YamlNode::boolean(true));
        } else if (isHex(c.arg(0))) {
          base.set("expect_hex", YamlNode::str(lower(c.arg(0))));  // a prefix, as keepalived's
        } else {
          report(Kind::kInvalid, c, "not hex bytes: any reply is required instead");
          base.set("require_reply", YamlNode::boolean(true));
        }
      } else if (!commonCheckKey(c, base)) {
        unknownOrUnsupported(c, "UDP_CHECK", {}, withCheckKeys({"payload", "require_reply"}));
      }
    }
    made.push_back(std::move(base));
  } else if (type == "PING_CHECK") {
    base.set("type", YamlNode::str("ping"));
    for (const Node& c : n.children) {
      if (c.keyword == "connect_port") {
        report(Kind::kInvalid, c, "a ping has no port: dropped");
      } else if (!commonCheckKey(c, base)) {
        unknownOrUnsupported(c, "PING_CHECK", {}, withCheckKeys({}));
      }
    }
    made.push_back(std::move(base));
  } else if (type == "FILE_CHECK") {
    base.set("type", YamlNode::str("file"));
    const Node* track = nullptr;
    for (const Node& c : n.children) {
      if (c.keyword == "track_file") {
        track = &c;
      } else if (c.keyword == "weight") {
        report(Kind::kChanged, c,
               "the file's number is the real server's weight itself (keepalived multiplies it "
               "by this weight): write the weight into the file");
      } else {
        unknownOrUnsupported(c, "FILE_CHECK", {}, {"track_file", "weight"});
      }
    }
    const std::string path = track ? trackFilePath(config_.root, track->arg(0)) : "";
    if (!track) {
      report(Kind::kInvalid, n, "FILE_CHECK without track_file: dropped");
      return;
    }
    if (path.empty()) {
      report(Kind::kInvalid, *track,
             "no track_file block " + track->arg(0) + " with a file: FILE_CHECK dropped");
      return;
    }
    base.set("path", YamlNode::str(path));
    made.push_back(std::move(base));
  } else {
    return;  // the caller reports it
  }
  for (auto& m : made) {
    list.push(std::move(m));
    ++out_.checks;
  }
}

YamlNode Converter::realServer(const Node& n, const YamlNode& /*vs*/, const std::string& forwarding,
                               std::int64_t servicePort, bool fwmark, const Node& vsNode) {
  (void)vsNode;
  YamlNode rs = YamlNode::map();
  if (!address(n.arg(0))) {
    report(Kind::kInvalid, n, "not an address: dropped");
    return YamlNode::map();
  }
  rs.set("address", YamlNode::str(n.arg(0)));
  std::string fwd = forwarding;
  // -1: no port given (a fwmark service's real server), or one that is not a port.
  std::int64_t port = -1;
  if (n.args.size() > 1) {
    if (const auto p = toInt(n.arg(1), 0, 65535)) {
      port = *p;
    } else {
      report(Kind::kInvalid, n, "port " + n.arg(1) + ": dropped");
    }
  }
  YamlNode checkList = YamlNode::list();
  int unsupportedChecks = 0;
  std::string virtualhost = vsVirtualhost_;
  static const std::set<std::string> mapped = {
      "weight",     "inhibit_on_failure", "notify_up",  "notify_down", "uthreshold",
      "lthreshold", "lvs_method",         "alpha",      "HTTP_GET",    "SSL_GET",
      "TCP_CHECK",  "MISC_CHECK",         "SMTP_CHECK", "DNS_CHECK",   "UDP_CHECK",
      "PING_CHECK", "FILE_CHECK",         "BFD_CHECK",  "virtualhost"};
  static const Reasons reasons = {
      {"smtp_alert", "quorate sends no e-mail: use notify_up / notify_down"},
      {"delay_before_retry", "per real server: set it in each check"},
      {"retry", "per real server: set it in each check"},
      {"warmup", "per real server: set it in each check"},
      {"connect_timeout", "per real server: set it in each check"},
      {"delay_loop", "per real server: set it in each check"},
      {"tunnel_encap", std::string("tunnel options: ") + kNotYet}};
  std::vector<const Node*> checkNodes;
  for (const Node& c : n.children) {
    const std::string& k = c.keyword;
    if (k == "weight") {
      if (auto v = intArg(c, 0, 65535)) rs.set("weight", YamlNode::num(*v));
    } else if (k == "inhibit_on_failure") {
      rs.set("inhibit_on_failure", YamlNode::boolean(true));
    } else if (k == "alpha") {
      rs.set("alpha", YamlNode::boolean(true));
    } else if (k == "notify_up" || k == "notify_down") {
      if (auto p = program(c, c.args, true)) {
        YamlNode argv = YamlNode::list().flow();
        for (const auto& a : p->argv) argv.push(YamlNode::str(a));
        rs.set(k, std::move(argv));
        if (!p->user.empty()) {
          report(Kind::kUnsupported, c, "its own user: runs as script_user");
        }
      }
    } else if (k == "uthreshold" || k == "lthreshold") {
      if (auto v = intArg(c, 0, 4294967295LL)) {
        rs.set(k == "uthreshold" ? "upper_threshold" : "lower_threshold", YamlNode::num(*v));
      }
    } else if (k == "lvs_method") {
      const std::string m = lower(c.arg(0));
      if (m == "dr" || m == "nat" || m == "tun") {
        fwd = m;
        rs.set("forwarding", YamlNode::str(m));
      } else {
        report(Kind::kInvalid, c, "expected DR, NAT or TUN: dropped");
      }
    } else if (k == "virtualhost") {
      virtualhost = c.arg(0);
    } else if (k == "HTTP_GET" || k == "SSL_GET" || k == "TCP_CHECK" || k == "MISC_CHECK" ||
               k == "SMTP_CHECK" || k == "DNS_CHECK" || k == "UDP_CHECK" || k == "PING_CHECK" ||
               k == "FILE_CHECK") {
      checkNodes.push_back(&c);
    } else if (k == "BFD_CHECK") {
      ++unsupportedChecks;
      report(Kind::kUnsupported, c, std::string(kNotYet));
    } else {
      unknownOrUnsupported(c, "real_server", reasons, mapped);
    }
  }
  for (const Node* c : checkNodes) checks(*c, checkList, virtualhost);
  if (port >= 0) {
    if (!fwmark && (fwd == "dr" || fwd == "tun") && port != servicePort) {
      report(Kind::kChanged, n,
             "port " + std::to_string(port) + " differs from the service's with " + upper(fwd) +
                 " forwarding, where the port cannot change: the service's port is used");
    } else if ((fwmark && port != 0) || (!fwmark && port != servicePort)) {
      rs.set("port", YamlNode::num(port));
    }
  }
  if (!checkList.isEmpty()) {
    rs.set("checks", std::move(checkList));
  } else if (unsupportedChecks > 0) {
    report(Kind::kChanged, n,
           "every check of this real server is unsupported: it is unchecked (always alive)");
  }
  ++out_.realServers;
  return rs;
}

void Converter::virtualServer(const Node& n, YamlNode& list) {
  std::vector<std::pair<std::string, std::int64_t>> services;
  std::vector<std::int64_t> marks;
  if (n.arg(0) == "fwmark") {
    if (auto v = toInt(n.arg(1), 1, 4294967295LL)) {
      marks.push_back(*v);
    } else {
      report(Kind::kInvalid, n, "not a firewall mark: not converted");
      return;
    }
  } else if (n.arg(0) == "group") {
    services = expandGroup(n, n.arg(1), &marks);
    std::set<std::int64_t> ports;
    for (const auto& s : services) ports.insert(s.second);
    if (services.empty() && marks.empty()) return;  // reported
    // Members on several ports still share each real server as one endpoint under NAT, when
    // every real server has its port; DR and TUN keep each member's port.
    bool natWithPorts = true;
    for (const Node& c : n.children) {
      const bool method = c.keyword == "lb_kind" || c.keyword == "lvs_method";
      if (method && lower(c.arg(0)) != "nat") natWithPorts = false;
      if (c.keyword != "real_server") continue;
      if (!toInt(c.arg(1), 1, 65535)) natWithPorts = false;
      for (const Node& r : c.children) {
        if (r.keyword == "lvs_method" && lower(r.arg(0)) != "nat") natWithPorts = false;
      }
    }
    if (ports.size() <= 1 || natWithPorts) {
      groupVirtualServer(n, services, marks, list);
      return;
    }
    // quorate's group shares each real server as one endpoint in every member, which members
    // on several ports (each real server then on each port) are not.
    const std::size_t total = services.size() + marks.size();
    report(Kind::kChanged, n,
           "virtual_server_group " + n.arg(1) + " has members on several ports: expanded into " +
               std::to_string(total) +
               " virtual servers, each with its own checks (a quorate group's real servers are "
               "one endpoint in every member, which with DR or TUN needs one port)");
  } else {
    const auto port = toInt(n.arg(1), 0, 65535);
    if (!address(n.arg(0)) || !port) {
      report(Kind::kInvalid, n, "expected ADDRESS PORT, fwmark N or group NAME: not converted");
      return;
    }
    services.emplace_back(n.arg(0), *port);
  }
  // The services of a group share one block: its findings are reported for the first only.
  std::size_t done = 0;
  auto body = [&](YamlNode vs, const std::string& addr) {
    const std::size_t mark = out_.report.size();
    virtualServerBody(n, std::move(vs), addr, list);
    if (done++ > 0) out_.report.resize(mark);
  };
  for (const auto& [addr, port] : services) {
    YamlNode vs = YamlNode::map();
    const auto a = address(addr);
    std::string name = addr + "-" + std::to_string(port);
    std::replace(name.begin(), name.end(), ':', '_');
    vs.set("name", YamlNode::str(uniqueName(groupVsNames_, sanitizeName(name))));
    const std::string inst = instanceFor(addr, n);
    if (!inst.empty()) vs.set("instance", YamlNode::str(inst));
    vs.set("address", YamlNode::str(a ? a->toString() : addr));
    vs.set("port", YamlNode::num(port));
    body(std::move(vs), addr);
  }
  for (const std::int64_t mark : marks) {
    YamlNode vs = YamlNode::map();
    vs.set("name", YamlNode::str(uniqueName(groupVsNames_, "fwmark-" + std::to_string(mark))));
    const std::string inst = instanceFor("", n);
    if (!inst.empty()) vs.set("instance", YamlNode::str(inst));
    vs.set("fwmark", YamlNode::num(mark));
    body(std::move(vs), "");
  }
}

// A virtual_server on a group whose address members share one port: one quorate virtual server
// with `group:` and the group under virtual_server_groups, so each real server is checked once.
void Converter::groupVirtualServer(
    const Node& n, const std::vector<std::pair<std::string, std::int64_t>>& services,
    const std::vector<std::int64_t>& marks, YamlNode& list) {
  const std::string group = sanitizeName(n.arg(1));
  if (!serviceGroups_.has(group)) {
    YamlNode members = YamlNode::list().flow();
    for (const auto& m : groupMembers(services, marks)) members.push(YamlNode::str(m));
    serviceGroups_.set(group, std::move(members));
  }
  // Several virtual_servers may serve one group (TCP and UDP, say): names stay unique.
  const std::string name = uniqueName(groupVsNames_, group);
  YamlNode vs = YamlNode::map();
  vs.set("name", YamlNode::str(name));
  const std::string inst = instanceFor(services.empty() ? "" : services.front().first, n);
  if (!inst.empty()) vs.set("instance", YamlNode::str(inst));
  vs.set("group", YamlNode::str(group));
  // Address members on several ports (NAT): no port is the service's, each real server keeps its.
  std::set<std::int64_t> ports;
  for (const auto& s : services) ports.insert(s.second);
  groupPort_ = ports.empty() ? 0 : ports.size() == 1 ? *ports.begin() : -1;
  groupMarksOnly_ = services.empty();
  virtualServerBody(n, std::move(vs), "", list);
  groupPort_.reset();
}

void Converter::virtualServerBody(const Node& n, YamlNode vs, const std::string& matchAddress,
                                  YamlNode& list) {
  (void)matchAddress;
  const bool group = vs.has("group");
  // A group of marks only is a mark service for its real servers' ports.
  const bool fwmark = vs.has("fwmark") || (group && groupMarksOnly_);
  const YamlNode* portNode = vs.find("port");
  const std::int64_t servicePort = group      ? groupPort_.value_or(0)
                                   : portNode ? std::stoll(portNode->render())
                                              : 0;
  std::string forwarding = "nat";  // keepalived's default lb_kind
  std::string virtualhost;
  std::string protocol = "tcp";
  std::optional<std::int64_t> delayLoop;
  YamlNode flags = YamlNode::list().flow();
  std::vector<const Node*> realServers;
  const Node* sorry = nullptr;
  std::string sorryForwarding;
  static const std::set<std::string> mapped = {"delay_loop",
                                               "lb_algo",
                                               "lvs_sched",
                                               "lb_kind",
                                               "lvs_method",
                                               "persistence_timeout",
                                               "persistence_granularity",
                                               "persistence_engine",
                                               "protocol",
                                               "quorum",
                                               "hysteresis",
                                               "alpha",
                                               "sorry_server",
                                               "sorry_server_lvs_method",
                                               "inhibit_on_failure",
                                               "virtualhost",
                                               "ops",
                                               "one_packet",
                                               "sh-port",
                                               "sh-fallback",
                                               "mh-port",
                                               "mh-fallback",
                                               "flag-1",
                                               "flag-2",
                                               "flag-3",
                                               "real_server",
                                               "ha_suspend",
                                               "ip_family"};
  static const Reasons reasons = {
      {"omega", "not supported: quorum_down runs nothing"},
      {"quorum_up", std::string("quorum hooks: ") + kNotYet},
      {"quorum_down", std::string("quorum hooks: ") + kNotYet},
      {"sorry_server_inhibit", "not supported: the sorry server is removed when not needed"},
      {"smtp_alert", "quorate sends no e-mail"},
      {"retry", "per virtual server: set it in each check"},
      {"delay_before_retry", "per virtual server: set it in each check"},
      {"connect_timeout", "per virtual server: set it in each check"},
      {"warmup", "per virtual server: set it in each check"},
      {"virtualhost_group", std::string(kNotYet)},
      {"tunnel_encap", std::string("tunnel options: ") + kNotYet}};
  for (const Node& c : n.children) {
    const std::string& k = c.keyword;
    if (k == "delay_loop") {
      delayLoop = msArg(c, 10);
    } else if (k == "lb_algo" || k == "lvs_sched") {
      static const std::set<std::string> kSchedulers = {
          "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"};
      if (kSchedulers.count(lower(c.arg(0)))) {
        vs.set("scheduler", YamlNode::str(lower(c.arg(0))));
      } else {
        report(Kind::kInvalid, c, "not an IPVS scheduler: quorate's default (wlc) is used");
      }
    } else if (k == "lb_kind" || k == "lvs_method") {
      const std::string m = lower(c.arg(0));
      if (m == "dr" || m == "nat" || m == "tun") {
        forwarding = m;
      } else {
        report(Kind::kInvalid, c, "expected DR, NAT or TUN: dropped");
      }
    } else if (k == "persistence_timeout") {
      if (auto v = intArg(c, 0, 31536000)) vs.set("persistence_timeout", YamlNode::num(*v));
    } else if (k == "persistence_granularity") {
      if (!c.arg(0).empty()) vs.set("persistence_granularity", YamlNode::str(c.arg(0)));
    } else if (k == "persistence_engine") {
      if (lower(c.arg(0)) == "sip") {
        vs.set("persistence_engine", YamlNode::str("sip"));
      } else {
        report(Kind::kInvalid, c, "quorate knows the sip engine only: dropped");
      }
    } else if (k == "protocol") {
      protocol = lower(c.arg(0));
      if (protocol != "tcp" && protocol != "udp" && protocol != "sctp") {
        report(Kind::kInvalid, c, "expected TCP, UDP or SCTP: TCP used");
        protocol = "tcp";
      }
    } else if (k == "quorum") {
      if (auto v = intArg(c, 1, 2147483647)) vs.set("quorum", YamlNode::num(*v));
    } else if (k == "hysteresis") {
      if (auto v = intArg(c, 0, 2147483647)) vs.set("hysteresis", YamlNode::num(*v));
    } else if (k == "alpha") {
      vs.set("alpha", YamlNode::boolean(true));
    } else if (k == "inhibit_on_failure") {
      vs.set("inhibit_on_failure", YamlNode::boolean(true));
    } else if (k == "sorry_server") {
      sorry = &c;
    } else if (k == "sorry_server_lvs_method") {
      sorryForwarding = lower(c.arg(0));
    } else if (k == "virtualhost") {
      virtualhost = c.arg(0);
    } else if (k == "ops" || k == "one_packet") {
      vs.set("one_packet", YamlNode::boolean(true));
    } else if (k == "sh-port" || k == "sh-fallback" || k == "mh-port" || k == "mh-fallback") {
      flags.push(YamlNode::str(k));
    } else if (k == "flag-1" || k == "flag-2") {
      const YamlNode* s = vs.find("scheduler");
      const std::string sched = s ? s->render() : "";
      if (sched.rfind("sh", 0) == 0 || sched.rfind("mh", 0) == 0) {
        const std::string prefix = sched.substr(0, 2);
        flags.push(YamlNode::str(prefix + (k == "flag-1" ? "-fallback" : "-port")));
      } else {
        report(Kind::kUnsupported, c, "scheduler flag without sh or mh: dropped");
      }
    } else if (k == "flag-3") {
      report(Kind::kUnsupported, c, "scheduler flag 3: not supported, dropped");
    } else if (k == "ha_suspend") {
      report(Kind::kChanged, c,
             "quorate runs checks on both directors and programs IPVS only on the lease holder "
             "(ipvs.standby: remove)");
    } else if (k == "ip_family") {
      // A group's family is its marks' (its addresses have their own).
      if (fwmark || group) {
        vs.set("family", YamlNode::str(lower(c.arg(0)) == "inet6" ? "ipv6" : "ipv4"));
      }
    } else if (k == "real_server") {
      realServers.push_back(&c);
    } else {
      unknownOrUnsupported(c, "virtual_server", reasons, mapped);
    }
  }
  if (!fwmark) vs.set("protocol", YamlNode::str(protocol));  // a fwmark service has none
  if (!flags.isEmpty()) vs.set("scheduler_flags", std::move(flags));
  vs.set("forwarding", YamlNode::str(forwarding));
  // keepalived checks every 60 s unless told; quorate's default is 5 s. Keep keepalived's.
  vs.set("delay_loop_ms", YamlNode::num(delayLoop.value_or(60000)),
         delayLoop ? "" : "keepalived's default delay_loop (60 s); quorate's own is 5000");
  if (sorry) {
    YamlNode s = YamlNode::map().flow();
    if (!address(sorry->arg(0))) {
      report(Kind::kInvalid, *sorry, "not an address: dropped");
    } else {
      s.set("address", YamlNode::str(sorry->arg(0)));
      const std::string sorryFwd = sorryForwarding.empty() ? forwarding : sorryForwarding;
      if (auto p = toInt(sorry->arg(1), 1, 65535); p && (fwmark || *p != servicePort)) {
        if (!fwmark && sorryFwd != "nat") {
          report(Kind::kChanged, *sorry,
                 "a port with " + upper(sorryFwd) +
                     " forwarding cannot change: the service's is used");
        } else {
          s.set("port", YamlNode::num(*p));
        }
      }
      if (sorryForwarding == "dr" || sorryForwarding == "nat" || sorryForwarding == "tun") {
        s.set("forwarding", YamlNode::str(sorryForwarding));
      }
      vs.set("sorry_server", std::move(s));
    }
  }
  YamlNode rsList = YamlNode::list();
  vsVirtualhost_ = virtualhost;
  for (const Node* r : realServers) {
    YamlNode rs = realServer(*r, vs, forwarding, servicePort, fwmark, n);
    if (!rs.isEmpty()) rsList.push(std::move(rs));
  }
  if (rsList.isEmpty() && !vs.has("sorry_server")) {
    report(Kind::kUnsupported, n, "no real server and no sorry server: not converted");
    return;
  }
  if (!rsList.isEmpty()) vs.set("real_servers", std::move(rsList));
  list.push(std::move(vs));
  ++out_.virtualServers;
}

}  // namespace quorate::keepalived::detail
