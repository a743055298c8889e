// The director's configuration file (quorate-director --config FILE), parsed and checked.
#include "server/config.h"

#include <arpa/inet.h>
#include <pwd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

#include "common/membership.h"
#include "common/peer_client.h"
#include "common/tls/identity.h"
#include "common/yaml_config.h"
#include "server/config_limits.h"
#include "server/privileges.h"
#include "server/script_runner.h"
#include "server/watchdog.h"

namespace quorate::server {
namespace {

using config::Map;
using config::Value;

constexpr std::int64_t kMaxDriftPpm = 99'999;  // lease::validate wants rho < 0.1

std::string directorList(const std::array<PeerAddress, 2>& directors) {
  return "(" + directors[0].id + ", " + directors[1].id + ")";
}

// Index of director `id`, or nullopt.
std::optional<lease::NodeId> indexOf(const std::array<PeerAddress, 2>& directors,
                                     const std::string& id) {
  for (lease::NodeId i = 0; i < directors.size(); ++i) {
    if (directors[i].id == id) return i;
  }
  return std::nullopt;
}

// directors: exactly two {id, address}, distinct ids and addresses.
std::array<PeerAddress, 2> parseDirectors(const Value& v) {
  const std::vector<Value> items = v.asList();
  if (items.size() != 2) {
    v.fail("expected exactly 2 entries, got " + std::to_string(items.size()));
  }
  std::array<PeerAddress, 2> out;
  for (std::size_t i = 0; i < 2; ++i) {
    const Map m = items[i].asMap({"id", "address"});
    const Value id = m.required("id");
    const Value address = m.required("address");
    out[i] = PeerAddress{id.asId(), address.asHostPort()};
    if (i == 1 && out[1].id == out[0].id) {
      id.fail("duplicate id " + config::quote(out[1].id) + ": the two directors need distinct ids");
    }
    if (i == 1 && out[1].address == out[0].address) {
      address.fail("duplicate address " + config::quote(out[1].address) +
                   ": the two directors need distinct addresses");
    }
  }
  return out;
}

// arbiter: {id (default "arbiter"), address}, distinct from both directors.
PeerAddress parseArbiter(const Value& v, const std::array<PeerAddress, 2>& directors) {
  const Map m = v.asMap({"id", "address", "name", "ca"});  // name, ca: parseTls
  PeerAddress out{"arbiter", ""};
  if (const auto id = m.optional("id")) {
    out.id = id->asId();
    if (indexOf(directors, out.id)) {
      id->fail("arbiter id " + config::quote(out.id) + " is also a director's id");
    }
  } else if (indexOf(directors, out.id)) {
    v.fail("the default arbiter id \"arbiter\" is also a director's id; set arbiter.id");
  }
  const Value address = m.required("address");
  out.address = address.asHostPort();
  for (const PeerAddress& d : directors) {
    if (d.address == out.address) {
      address.fail("arbiter address " + config::quote(out.address) + " is also director " +
                   config::quote(d.id) + "'s address");
    }
  }
  return out;
}

// tls: {ca, cert, key} with arbiter.name and arbiter.ca; the files are read and checked now, so
// --check finds a wrong, expired or mismatched certificate (later rotations are re-read by gRPC).
std::optional<TlsConfig> parseTls(const Map& root, const DirectorConfig& c) {
  const Map arbiter = root.required("arbiter").asMap({"id", "address", "name", "ca"});
  const auto v = root.optional("tls");
  if (!v) {
    for (const char* k : {"name", "ca"}) {
      if (const auto a = arbiter.optional(k))
        a->fail("needs tls (it names the arbiter's TLS identity)");
    }
    return std::nullopt;
  }
  const Map m = v->asMap({"ca", "cert", "key"});
  TlsConfig t;
  const Value ca = m.required("ca");
  const Value cert = m.required("cert");
  const Value key = m.required("key");
  t.ca = ca.asPath();
  t.cert = cert.asPath();
  t.key = key.asPath();
  auto bundle = tls::CaBundle::load(t.ca);
  if (!bundle) ca.fail(bundle.status().what());
  auto own = tls::Certificate::load(t.cert);
  if (!own) cert.fail(own.status().what());
  auto id = own->identity();
  if (!id) cert.fail(id.status().what());
  const auto self = tls::Identity::director(c.cluster, c.node);
  if (!(*id == self)) {
    cert.fail("the certificate is " + id->uri() + " but this director is " + self.uri());
  }
  if (const Status st = bundle->verify(*own); !st) cert.fail(st.what());
  if (const Status st = tls::checkKeyMatches(t.cert, t.key); !st) key.fail(st.what());
  t.arbiterName = c.arbiter.id;
  if (const auto n = arbiter.optional("name")) t.arbiterName = n->asId();
  t.arbiterCa = t.ca;
  if (const auto a = arbiter.optional("ca")) {
    t.arbiterCa = a->asPath();
    if (auto b = tls::CaBundle::load(t.arbiterCa); !b) a->fail(b.status().what());
  }
  return t;
}

// "host:port" with an IP host in its canonical spelling ("[0:0::1]:7101" -> "[::1]:7101"),
// other hosts lower-cased; for comparing addresses written by hand.
std::string canonicalHostPort(const std::string& hp) {
  const auto colon = hp.rfind(':');
  std::string host = hp.substr(0, colon);
  const std::string port = hp.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  in6_addr v6{};
  in_addr v4{};
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1 && inet_ntop(AF_INET6, &v6, buf, sizeof buf)) {
    return "[" + std::string(buf) + "]:" + port;
  }
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1 && inet_ntop(AF_INET, &v4, buf, sizeof buf)) {
    return std::string(buf) + ":" + port;
  }
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host + ":" + port;
}

// A director does not listen where the configuration says another node is: a copy of the other
// director's file whose `node` was left unchanged would otherwise run with that director's
// identity on this host. (Whether `listen` is this node's own entry cannot be told from the file
// alone: a host name, NAT or a port mapping may stand between them.)
void checkListenIsNotAnotherNodes(const Value& v, const DirectorConfig& c) {
  const std::string listen = canonicalHostPort(c.listen);
  for (lease::NodeId n = 0; n < lease::kNodeCount; ++n) {
    if (n == c.self || canonicalHostPort(c.peer(n).address) != listen) continue;
    v.fail("listen " + config::quote(c.listen) + " is not the address of this node " +
           config::quote(c.node) + " in directors but " + config::quote(c.peer(n).id) +
           "'s: is `node` this director's own id?");
  }
}

// A director named by `v`, which must be one of `directors`.
std::string directorId(const Value& v, const std::array<PeerAddress, 2>& directors) {
  const std::string id = v.asId();
  if (!indexOf(directors, id)) {
    v.fail(config::quote(id) + " is not one of directors " + directorList(directors));
  }
  return id;
}

// timers: every field optional over lease::Timing's defaults; the result must pass
// lease::validate.
lease::Timing parseTimers(const std::optional<Value>& v) {
  lease::Timing t;
  if (!v) return t;
  const Map m = v->asMap({"holder_lease_ms", "acceptor_lease_ms", "quarantine_ms",
                          "renew_interval_ms", "max_drift_ppm"});
  if (const auto x = m.optional("holder_lease_ms")) t.holderLease = x->asMillis();
  if (const auto x = m.optional("acceptor_lease_ms")) t.acceptorLease = x->asMillis();
  if (const auto x = m.optional("quarantine_ms")) t.quarantine = x->asMillis();
  if (const auto x = m.optional("renew_interval_ms")) t.renewInterval = x->asMillis();
  if (const auto x = m.optional("max_drift_ppm")) {
    t.rho = static_cast<double>(x->asInt(0, kMaxDriftPpm, "parts per million")) / 1e6;
  }
  if (const auto why = lease::validate(t)) v->fail("unsafe timers: " + *why);
  return t;
}

constexpr std::size_t kMaxIfName = 15;  // IFNAMSIZ - 1

std::string interfaceName(const Value& v) {
  const std::string name = v.asString();
  if (name.empty() || name.size() > kMaxIfName || name == "." || name == ".." ||
      name.find_first_of("/: \t") != std::string::npos) {
    v.fail("expected an interface name of 1 to 15 characters without '/', ':' or spaces, got " +
           config::quote(name));
  }
  return name;
}

// {address: 198.18.0.10/24, device: eth0, label: eth0:web}
net::Vip parseVip(const Value& v) {
  const Map m = v.asMap({"address", "device", "label"});
  net::Vip vip;
  const Value address = m.required("address");
  const auto prefix = net::IpPrefix::parse(address.asString());
  if (!prefix) {
    address.fail("expected an IPv4 or IPv6 address with optional /prefix, got " +
                 config::quote(address.asString()));
  }
  vip.prefix = *prefix;
  vip.device = interfaceName(m.required("device"));
  if (const auto label = m.optional("label")) {
    vip.label = label->asString();
    if (!prefix->address.isV4()) label->fail("labels exist for IPv4 addresses only");
    if (vip.label.size() > kMaxIfName || vip.label.rfind(vip.device + ":", 0) != 0) {
      label->fail("expected \"" + vip.device + ":<name>\" of at most 15 characters, got " +
                  config::quote(vip.label));
    }
  }
  return vip;
}

VrrpConfig parseVrrp(const Value& v) {
  const Map m = v.asMap({"vrid", "priority", "advert_interval_ms", "use_vmac"});
  VrrpConfig out;
  out.vrid = static_cast<std::uint8_t>(m.required("vrid").asInt(1, 255, "virtual router id"));
  if (const auto p = m.optional("priority")) {
    out.priority = static_cast<std::uint8_t>(p->asInt(1, 254, "VRRP priority"));
  }
  if (const auto i = m.optional("advert_interval_ms")) {
    // 12 bits of centiseconds on the wire.
    out.advertInterval = i->asMillis(10, 40'950);
    if (out.advertInterval.count() % 10 != 0) i->fail("must be a multiple of 10 ms (centiseconds)");
  }
  if (const auto u = m.optional("use_vmac")) out.useVmac = u->asBool();
  return out;
}

struct Defaults {
  std::optional<std::string> preferred;
  std::optional<std::chrono::milliseconds> preemptDelay;
  hooks::HooksConfig hooks;
  AnnounceConfig announce;
  std::set<std::string> trackScripts;  // the names the top-level track_scripts define
};

// `announce:` over `base`, key by key (repeat, interval_ms, refresh_ms; refresh_ms 0: none).
AnnounceConfig parseAnnounce(const std::optional<Value>& v, AnnounceConfig base = {}) {
  AnnounceConfig a = base;
  if (!v) return a;
  const Map m = v->asMap({"repeat", "interval_ms", "refresh_ms"});
  if (const auto x = m.optional("repeat")) a.repeat = static_cast<int>(x->asInt(1, 100, "frames"));
  if (const auto x = m.optional("interval_ms")) a.interval = x->asMillis(1, 60'000);
  if (const auto x = m.optional("refresh_ms")) {
    const auto r = x->asMillis(0);
    a.refresh = r.count() > 0 ? std::optional(r) : std::nullopt;
  }
  return a;
}

// One entry of a lease's track list: "name" or {<key>: name, weight: N}.
TrackItem parseTrackItem(const Value& v, const char* key, std::string (*nameOf)(const Value&)) {
  TrackItem t;
  if (!v.node().IsMap()) {
    t.name = nameOf(v);
    return t;
  }
  const Map m = v.asMap({key, "weight"});
  t.name = nameOf(m.required(key));
  if (const auto w = m.optional("weight")) {
    // keepalived's ranges: a track file's weight runs to 254 (1 x -254 is its FAULT), a script's
    // or an interface's to 253; the importer writes such a file weight as it is.
    const std::int64_t limit = std::string_view(key) == "path" ? 254 : 253;
    t.weight = static_cast<int>(w->asInt(-limit, limit, "(weight 0: a failure is fatal)"));
  }
  return t;
}

// track_interfaces, track_scripts and track_files of an instance or sync group. Scripts must be
// defined in the top-level track_scripts.
LeaseTrack parseLeaseTrack(const Map& m, const Defaults& d) {
  LeaseTrack t;
  auto list = [&](const char* key, const char* itemKey, std::string (*nameOf)(const Value&),
                  std::vector<TrackItem>& out, const std::set<std::string>* known) {
    const auto v = m.optional(key);
    if (!v) return;
    const std::vector<Value> items = v->asList();
    if (items.size() > kMaxTrackScripts) {
      v->fail(std::to_string(items.size()) + " entries, more than the limit of " +
              std::to_string(kMaxTrackScripts));
    }
    for (const Value& item : items) {
      TrackItem ti = parseTrackItem(item, itemKey, nameOf);
      if (known && !known->count(ti.name)) {
        item.fail("no track script named " + config::quote(ti.name) +
                  " in the top-level track_scripts");
      }
      if (std::any_of(out.begin(), out.end(),
                      [&](const TrackItem& o) { return o.name == ti.name; })) {
        item.fail(config::quote(ti.name) + " appears twice in " + key);
      }
      out.push_back(std::move(ti));
    }
  };
  list("track_interfaces", "name", interfaceName, t.interfaces, nullptr);
  list(
      "track_scripts", "name", [](const Value& x) { return x.asId(); }, t.scripts, &d.trackScripts);
  list(
      "track_files", "path", [](const Value& x) { return x.asPath(); }, t.files, nullptr);
  return t;
}

// A sync group's tracking takes its instances' (like keepalived, a member that fails fails the
// group); an item both name is kept once, fatal if either says so.
void mergeTrack(LeaseTrack& into, const LeaseTrack& from) {
  auto merge = [](std::vector<TrackItem>& a, const std::vector<TrackItem>& b) {
    for (const auto& item : b) {
      const auto it =
          std::find_if(a.begin(), a.end(), [&](const TrackItem& x) { return x.name == item.name; });
      if (it == a.end()) {
        a.push_back(item);
      } else if (item.weight == 0) {
        it->weight = 0;
      }
    }
  };
  merge(into.interfaces, from.interfaces);
  merge(into.scripts, from.scripts);
  merge(into.files, from.files);
}

std::size_t hookCommands(const hooks::HooksConfig& h) {
  return h.notify.size() + h.notifyMaster.size() + h.notifyBackup.size() + h.notifyFault.size() +
         h.notifyStop.size() + h.onQuorumLoss.size() + h.preClaim.size() + h.preRelease.size();
}

// Fails at `where` when `total` hook commands pass kMaxHookCommands.
void checkHookCount(std::size_t total, const Value& where) {
  if (total <= kMaxHookCommands) return;
  where.fail("more than " + std::to_string(kMaxHookCommands) +
             " hook commands in all leases, the limit (a top-level hook counts once for each "
             "lease that inherits it)");
}

// `hooks:` of an instance or sync group, over the file's top-level `hooks:`. `total` counts the
// commands of every lease so far, checked before the next lease copies the defaults.
void parseLeaseHooks(const Map& m, const Defaults& d, LeaseConfig& l, std::size_t& total) {
  l.hooks = d.hooks;
  if (const auto h = m.optional("hooks")) l.hooks = hooks::parseHooks(*h, d.hooks);
  total += hookCommands(l.hooks);
  checkHookCount(total, m.has("hooks") ? *m.optional("hooks") : m.value());
}

// preferred / preempt_delay_ms of an instance or sync group, over the file's defaults.
void parsePreference(const Map& m, const Value& where, const std::array<PeerAddress, 2>& directors,
                     const Defaults& d, LeaseConfig& l) {
  l.preferred = d.preferred;
  l.preemptDelay = d.preemptDelay;
  if (const auto p = m.optional("preferred")) l.preferred = directorId(*p, directors);
  if (const auto delay = m.optional("preempt_delay_ms")) l.preemptDelay = delay->asMillis(0);
  if (l.preemptDelay && !l.preferred) {
    where.fail("preempt_delay_ms requires preferred (the director to hand the lease back to)");
  }
}

// An entry of `instances:`, its keys checked.
Map instanceMap(const Value& v) {
  return v.asMap({"name", "vips", "vrrp", "preferred", "preempt_delay_ms", "hooks", "track_scripts",
                  "track_interfaces", "track_files", "announce"});
}

void parseInstancesAndGroups(const Map& root, const Defaults& d, DirectorConfig& c) {
  std::set<std::string> instanceNames;
  std::vector<Value> instanceValues;
  std::set<net::IpAddress> seenVips;
  std::set<int> seenVrids;
  std::size_t vipCount = 0;
  std::size_t hookCount = 0;
  std::vector<LeaseTrack> instanceTracks;  // by instance index
  if (const auto list = root.optional("instances")) {
    instanceValues = list->asList();
    if (instanceValues.empty()) list->fail("expected at least one instance (or leave it out)");
    if (instanceValues.size() > kMaxInstances) {
      list->fail(std::to_string(instanceValues.size()) + " instances, more than the limit of " +
                 std::to_string(kMaxInstances));
    }
  }
  for (const Value& v : instanceValues) {
    const Map m = instanceMap(v);
    InstanceConfig inst;
    const Value name = m.required("name");
    inst.name = name.asId();
    if (!instanceNames.insert(inst.name).second) {
      name.fail("duplicate instance " + config::quote(inst.name));
    }
    const Value vips = m.required("vips");
    for (const Value& vv : vips.asList()) {
      if (++vipCount > kMaxVips) {
        vv.fail("more than " + std::to_string(kMaxVips) + " VIPs in all instances, the limit");
      }
      auto vip = parseVip(vv);
      if (!seenVips.insert(vip.prefix.address).second) {
        vv.fail("VIP " + vip.prefix.address.toString() + " appears twice");
      }
      inst.vips.push_back(std::move(vip));
    }
    if (inst.vips.empty()) vips.fail("expected at least one VIP");
    if (const auto vr = m.optional("vrrp")) {
      inst.vrrp = parseVrrp(*vr);
      if (!seenVrids.insert(inst.vrrp->vrid).second) {
        vr->fail("vrid " + std::to_string(inst.vrrp->vrid) + " is used by another instance");
      }
      if (inst.vrrp->useVmac) {
        for (const auto& vip : inst.vips) {
          if (vip.device != inst.vips[0].device ||
              vip.prefix.address.family != inst.vips[0].prefix.address.family) {
            vr->fail("use_vmac needs every VIP of the instance on one device and of one family");
          }
          if (!vip.label.empty()) {
            vr->fail("use_vmac: VIPs live on the macvlan " + inst.vrrp->vmacName() +
                     ", so they cannot carry a label of " + vip.device);
          }
        }
      }
    }
    c.instances.push_back(std::move(inst));
    instanceTracks.push_back(parseLeaseTrack(m, d));
  }

  std::map<std::string, std::string> groupOf;  // instance -> group
  if (const auto groups = root.optional("sync_groups")) {
    for (const Value& g : groups->asList()) {
      const Map m = g.asMap({"name", "instances", "preferred", "preempt_delay_ms", "hooks",
                             "track_scripts", "track_interfaces", "track_files", "announce"});
      LeaseConfig l;
      const Value name = m.required("name");
      l.name = name.asId();
      if (instanceNames.count(l.name)) {
        name.fail("sync group " + config::quote(l.name) + " has the name of an instance");
      }
      for (const auto& other : c.leases) {
        if (other.name == l.name) name.fail("duplicate sync group " + config::quote(l.name));
      }
      const Value members = m.required("instances");
      for (const Value& iv : members.asList()) {
        const std::string inst = iv.asId();
        if (!instanceNames.count(inst)) iv.fail("no instance named " + config::quote(inst));
        if (groupOf.count(inst)) {
          iv.fail("instance " + config::quote(inst) + " is already in sync group " +
                  config::quote(groupOf[inst]));
        }
        groupOf[inst] = l.name;
        l.instances.push_back(inst);
      }
      if (l.instances.empty()) members.fail("expected at least one instance");
      parsePreference(m, g, c.directors, d, l);
      parseLeaseHooks(m, d, l, hookCount);
      l.track = parseLeaseTrack(m, d);
      for (const auto& inst : l.instances) {
        for (std::size_t i = 0; i < c.instances.size(); ++i) {
          if (c.instances[i].name == inst) mergeTrack(l.track, instanceTracks[i]);
        }
      }
      l.announce = parseAnnounce(m.optional("announce"), d.announce);
      l.syncGroup = true;
      c.leases.push_back(std::move(l));
    }
  }
  for (std::size_t i = 0; i < c.instances.size(); ++i) {
    const auto& inst = c.instances[i];
    const Value& v = instanceValues[i];
    const Map m = instanceMap(v);
    if (groupOf.count(inst.name)) {
      if (m.has("preferred") || m.has("preempt_delay_ms") || m.has("hooks")) {
        v.fail("instance " + config::quote(inst.name) + " is in sync group " +
               config::quote(groupOf[inst.name]) +
               ": set preferred, preempt_delay_ms and hooks on the group");
      }
      if (const auto a = m.optional("announce")) {
        a->fail("instance " + config::quote(inst.name) + " is in sync group " +
                config::quote(groupOf[inst.name]) +
                ": its VIPs are announced with the group's, so set announce on the group");
      }
      continue;
    }
    LeaseConfig l;
    l.name = inst.name;
    l.instances = {inst.name};
    parsePreference(m, v, c.directors, d, l);
    parseLeaseHooks(m, d, l, hookCount);
    l.track = instanceTracks[i];
    l.announce = parseAnnounce(m.optional("announce"), d.announce);
    c.leases.push_back(std::move(l));
  }
  if (c.leases.empty()) {
    LeaseConfig l;
    l.name = kDefaultLease;
    l.preferred = d.preferred;
    l.preemptDelay = d.preemptDelay;
    l.hooks = d.hooks;
    l.announce = d.announce;
    c.leases.push_back(std::move(l));
  }
}

// Counts virtual servers, real servers and their checks in the document before the IPVS parser
// builds them, so that aliases repeating a list of real servers or checks cannot make it build
// more than the limits allow. The walk stops at the first count over its limit; what is not a
// list or a mapping is left to the parser to report.
void checkIpvsCounts(const Map& root) {
  const auto list = root.optional("virtual_servers");
  if (!list || !list->node().IsSequence()) return;
  const std::vector<Value> services = list->asList();
  if (services.size() > kMaxVirtualServers) {
    list->fail(std::to_string(services.size()) + " virtual servers, more than the limit of " +
               std::to_string(kMaxVirtualServers));
  }
  std::size_t realServers = 0;
  std::size_t checks = 0;
  for (const Value& vs : services) {
    const YAML::Node& node = vs.node();
    if (!node.IsMap()) continue;
    // A missing key gives yaml-cpp's invalid node, on which only IsDefined() may be called.
    const YAML::Node shared = node["checks"];
    const std::size_t sharedChecks = shared.IsDefined() && shared.IsSequence() ? shared.size() : 0;
    const YAML::Node servers = node["real_servers"];
    if (!servers.IsDefined() || !servers.IsSequence()) continue;
    std::size_t i = 0;
    for (const YAML::Node& rs : servers) {
      const Value at(vs.document(), rs, vs.key() + ".real_servers[" + std::to_string(i++) + "]",
                     rs.Mark().is_null() ? vs.line() : rs.Mark().line + 1);
      if (++realServers > kMaxRealServers) {
        at.fail("more than " + std::to_string(kMaxRealServers) +
                " real servers in all virtual servers, the limit");
      }
      const YAML::Node own = rs.IsMap() ? rs["checks"] : YAML::Node();
      checks += !own.IsDefined() ? sharedChecks : own.IsSequence() ? own.size() : 0;
      if (checks > kMaxChecks) {
        at.fail("more than " + std::to_string(kMaxChecks) +
                " health checks in all real servers, the limit (a virtual server's checks count "
                "once for each of its real servers without checks of their own)");
      }
    }
  }
}

// script_user: a user of this host; absent: quorate_script or nobody (root only when named).
std::string parseScriptUser(const std::optional<Value>& v) {
  if (!v) return defaultScriptUser();
  const std::string user = v->asId();
  if (::getpwnam(user.c_str()) == nullptr) {
    v->fail("no user " + config::quote(user) + " on this host (scripts run as it)");
  }
  return user;
}

TrackScript parseTrackScript(const Value& v) {
  const Map m = v.asMap({"name", "command", "interval_ms", "timeout_ms", "fall", "rise"});
  TrackScript t;
  t.name = m.required("name").asId();
  t.argv = m.required("command").asCommand();
  if (const auto x = m.optional("interval_ms")) t.interval = x->asMillis(10);
  if (const auto x = m.optional("timeout_ms")) t.timeout = x->asMillis(1);
  if (const auto x = m.optional("fall")) t.fall = static_cast<int>(x->asInt(1, 100, "checks"));
  if (const auto x = m.optional("rise")) t.rise = static_cast<int>(x->asInt(1, 100, "checks"));
  return t;
}

// A gate (fence, pre-claim hooks; pre-release hooks) must end while the tenure that started it
// still has a renewal's margin left, so that a claim never waits on renewals alone.
void checkGateBudgets(const DirectorConfig& c, const Value& where) {
  const auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(c.timing.holderLease -
                                                                           c.timing.renewInterval);
  for (const auto& l : c.leases) {
    const auto claim = hooks::HooksConfig::budget(l.hooks.preClaim);
    const auto release = hooks::HooksConfig::budget(l.hooks.preRelease);
    for (const auto& [what, budget] :
         {std::pair{"pre_claim", claim}, std::pair{"pre_release", release}}) {
      if (budget <= limit) continue;
      where.fail("lease " + config::quote(l.name) + ": the " + what + " hooks may take " +
                 std::to_string(budget.count()) +
                 " ms (the sum of their timeouts), more than holder_lease_ms - "
                 "renew_interval_ms = " +
                 std::to_string(limit.count()) +
                 " ms: shorten their timeout_ms or lengthen the lease");
    }
  }
}

// watchdog: {device, timeout_ms, interval_ms, margin_ms}; its timing checked against `timing`.
WatchdogConfig parseWatchdog(const Value& v, const lease::Timing& timing) {
  const Map m = v.asMap({"device", "timeout_ms", "interval_ms", "margin_ms"});
  WatchdogConfig w;
  if (const auto d = m.optional("device")) w.device = d->asPath();
  w.timeout = m.required("timeout_ms").asMillis(1, 3'600'000);
  w.interval = w.timeout / 4;
  if (const auto x = m.optional("interval_ms")) w.interval = x->asMillis(1);
  if (const auto x = m.optional("margin_ms")) w.margin = x->asMillis(0, 60'000);
  if (const auto why = watchdogTimingProblem(w, timing)) v.fail(*why);
  return w;
}

EventLogConfig parseEventLog(const std::optional<Value>& v, const std::string& stateDir) {
  EventLogConfig e;
  e.path = stateDir + "/events.jsonl";
  if (!v) return e;
  const Map m = v->asMap({"enabled", "path", "max_bytes", "keep"});
  if (const auto x = m.optional("enabled")) e.enabled = x->asBool();
  if (const auto x = m.optional("path")) e.path = x->asPath();
  // At least a few records per file, at most 1 TiB.
  if (const auto x = m.optional("max_bytes")) {
    e.maxBytes = static_cast<std::uint64_t>(x->asInt(4096, std::int64_t{1} << 40, "bytes"));
  }
  if (const auto x = m.optional("keep")) e.keep = static_cast<int>(x->asInt(0, 100, "files"));
  return e;
}

}  // namespace

lease::NodeConfig DirectorConfig::nodeConfig(const LeaseConfig& l) const {
  lease::NodeConfig out;
  out.self = self;
  out.timing = timing;
  if (l.preferred) out.preferred = indexOf(directors, *l.preferred);
  if (l.preemptDelay)
    out.preemptDelay = std::chrono::duration_cast<lease::Duration>(*l.preemptDelay);
  return out;
}

std::vector<std::string> DirectorConfig::linkWatchList() const {
  std::vector<std::string> out = watchedInterfaces();
  for (const auto& l : leases) {
    for (const auto& t : l.track.interfaces) {
      if (std::find(out.begin(), out.end(), t.name) == out.end()) out.push_back(t.name);
    }
  }
  return out;
}

std::vector<std::string> DirectorConfig::watchedInterfaces() const {
  std::vector<std::string> out = trackInterfaces;
  for (const auto& inst : instances) {
    for (const auto& v : inst.vips) {
      if (std::find(out.begin(), out.end(), v.device) == out.end()) out.push_back(v.device);
    }
  }
  return out;
}

const InstanceConfig& DirectorConfig::instance(const std::string& name) const {
  for (const auto& i : instances) {
    if (i.name == name) return i;
  }
  throw std::out_of_range("no instance " + name);
}

const PeerAddress& DirectorConfig::peer(lease::NodeId id) const {
  if (id == lease::kDirectorA || id == lease::kDirectorB) return directors[id];
  if (id == lease::kArbiter) return arbiter;
  throw std::out_of_range("no peer with node id " + std::to_string(id));
}

std::string DirectorConfig::membership() const {
  std::array<Member, lease::kNodeCount> m;
  for (lease::NodeId n = 0; n < lease::kNodeCount; ++n) m[n] = Member{peer(n).id, peer(n).address};
  return membershipText(cluster, m);
}

DirectorConfig parseDirectorConfig(const std::string& text, const std::string& path) {
  return config::guarded(path, [&] {
    const config::Document doc(path, text);
    const Map root = doc.root({"cluster",       "node",
                               "secret",        "secret_file",
                               "listen",        "state_dir",
                               "directors",     "arbiter",
                               "preferred",     "preempt_delay_ms",
                               "timers",        "log_level",
                               "log_target",    "instances",
                               "sync_groups",   "announce",
                               "fence",         "track_interfaces",
                               "track_scripts", "virtual_servers",
                               "ipvs",          "watchdog",
                               "hooks",         "fence_before_claim",
                               "event_log",     "tls",
                               "script_user",   "operator",
                               "metrics",       "virtual_server_groups"});
    DirectorConfig c;
    c.path = path;
    c.cluster = root.required("cluster").asId();
    const Value node = root.required("node");
    c.node = node.asId();
    c.secrets = config::readSecrets(root);
    c.listen = root.required("listen").asHostPort();
    c.stateDir = root.required("state_dir").asPath();
    c.directors = parseDirectors(root.required("directors"));
    c.arbiter = parseArbiter(root.required("arbiter"), c.directors);
    directorId(node, c.directors);
    c.self = *indexOf(c.directors, c.node);
    checkListenIsNotAnotherNodes(root.required("listen"), c);

    const auto preferred = root.optional("preferred");
    if (preferred) c.preferred = directorId(*preferred, c.directors);
    if (const auto delay = root.optional("preempt_delay_ms")) {
      c.preemptDelay = delay->asMillis(0);
      if (!preferred) delay->fail("requires preferred (the director to hand the lease back to)");
    }
    c.timing = parseTimers(root.optional("timers"));
    c.logLevel = config::readLogLevel(root);
    if (const auto t = root.optional("log_target")) {
      c.logTarget = t->asOneOf({"auto", "journal", "syslog", "stderr"});
    }
    if (const auto t = root.optional("track_scripts")) {
      std::set<std::string> names;
      const std::vector<Value> scripts = t->asList();
      if (scripts.size() > kMaxTrackScripts) {
        t->fail(std::to_string(scripts.size()) + " track scripts, more than the limit of " +
                std::to_string(kMaxTrackScripts));
      }
      for (const Value& v : scripts) {
        c.trackScripts.push_back(parseTrackScript(v));
        if (!names.insert(c.trackScripts.back().name).second) {
          v.fail("duplicate track script " + config::quote(c.trackScripts.back().name));
        }
      }
    }
    Defaults defaults{c.preferred, c.preemptDelay, {}, {}, {}};
    c.announce = parseAnnounce(root.optional("announce"));
    defaults.announce = c.announce;
    for (const auto& t : c.trackScripts) defaults.trackScripts.insert(t.name);
    const auto hooksValue = root.optional("hooks");
    if (hooksValue) defaults.hooks = hooks::parseHooks(*hooksValue, {});
    if (hooksValue) checkHookCount(hookCommands(defaults.hooks), *hooksValue);
    parseInstancesAndGroups(root, defaults, c);
    checkGateBudgets(c, hooksValue ? *hooksValue : root.value());
    if (const auto f = root.optional("fence")) {
      c.fence =
          f->asOneOf({"nftables", "none"}) == "none" ? FenceMode::kNone : FenceMode::kNftables;
    }
    if (const auto f = root.optional("fence_before_claim")) {
      c.fenceBeforeClaim = fencing::parseFenceAction(*f);
    }
    if (const auto t = root.optional("track_interfaces")) {
      for (const Value& v : t->asList()) c.trackInterfaces.push_back(interfaceName(v));
    }
    if (const auto w = root.optional("watchdog")) c.watchdog = parseWatchdog(*w, c.timing);
    checkIpvsCounts(root);
    c.ipvs = ipvs::parseIpvsConfig(root);
    std::vector<std::string> instanceNames;
    for (const auto& inst : c.instances) instanceNames.push_back(inst.name);
    ipvs::checkAgainstInstances(c.ipvs, instanceNames, root.value());
    for (const auto& vs : c.ipvs.virtualServers) {
      std::size_t lease = 0;
      for (std::size_t i = 0; i < c.leases.size(); ++i) {
        const auto& members = c.leases[i].instances;
        if (std::find(members.begin(), members.end(), vs.instance) != members.end()) lease = i;
      }
      c.virtualServerLease.push_back(lease);
    }
    if (!c.virtualServerLease.empty()) c.syncLease = c.virtualServerLease.front();
    c.eventLog = parseEventLog(root.optional("event_log"), c.stateDir);
    c.tls = parseTls(root, c);
    c.scriptUser = parseScriptUser(root.optional("script_user"));
    checkConfiguredScripts(c);  // script security: refused when others could change a program
    c.operatorApi = parseOperatorConfig(root.optional("operator"));
    c.metrics = metrics::parseMetricsConfig(root.optional("metrics"));
    return c;
  });
}

bool sameExceptVirtualServers(const std::string& a, const std::string& b) {
  auto rest = [](const std::string& text) -> std::optional<std::string> {
    try {
      YAML::Node n = YAML::Load(text);
      if (!n.IsMap()) return std::nullopt;
      n.remove("virtual_servers");
      n.remove("virtual_server_groups");
      n.remove("ipvs");
      YAML::Emitter out;
      out << n;
      return std::string(out.c_str());
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  const auto x = rest(a);
  const auto y = rest(b);
  return x && y && *x == *y;
}

DirectorConfig loadDirectorConfig(const std::string& path) {
  return parseDirectorConfig(config::readConfigFile(path), path);
}

}  // namespace quorate::server
