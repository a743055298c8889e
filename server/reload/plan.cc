// What a reload of the director's configuration would change, and what it must refuse.
#include "server/reload/plan.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace quorate::server::reload {
namespace {

// Top-level keys that a running director cannot take, and why. Changing any of them refuses the
// whole file: half a configuration is worse than the old one.
const std::map<std::string, std::string>& restartKeys() {
  static const std::map<std::string, std::string> keys = {
      {"cluster",
       "cluster: the cluster's name is in every lease message and in the arbiter's state"},
      {"node", "node: this director's identity is pinned in its durable lease state"},
      {"secret",
       "secret: the cluster keys are loaded by the peer service and channels at start; rotate "
       "them with a restart of one node at a time (the old key listed second)"},
      {"secret_file",
       "secret_file: the cluster keys are loaded by the peer service and channels at start; "
       "rotate them with a restart of one node at a time (the old key listed second)"},
      {"listen", "listen: the peer port is bound at start"},
      {"state_dir",
       "state_dir: the durable lease state (epoch floors, membership) lives there; moving it "
       "under a running lease could reuse an epoch"},
      {"directors",
       "directors: the membership is pinned in the durable state and sent with every lease "
       "message"},
      {"arbiter",
       "arbiter: the membership is pinned in the durable state and sent with every lease "
       "message"},
      {"timers",
       "timers: the lease core runs with the timing it started with, and the safety bound "
       "assumes every node uses the same (docs/timing.md)"},
      {"tls",
       "tls: the peer credentials and identity checks are built at start (certificates renewed "
       "in place at the same paths need no reload)"},
      {"operator", "operator: the operator API's socket, listener and roles are set up at start"},
      {"watchdog",
       "watchdog: the device is opened and its timing checked against the lease at start"},
      {"event_log", "event_log: the event log is opened at start"},
      {"script_user",
       "script_user: the programs' default user is set at start, and another user may need "
       "capabilities the director dropped after start"},
      {"fence", "fence: the fence is installed over every VIP at start"},
      {"fence_before_claim", "fence_before_claim: the fence agent is set up at start"},
      {"track_interfaces",
       "track_interfaces: the link watcher, and the kernel ports it needs, are set up at start"},
  };
  return keys;
}

// Keys whose changes the detailed comparison below judges.
const std::set<std::string>& judgedKeys() {
  static const std::set<std::string> keys = {"log_level",
                                             "announce",
                                             "hooks",
                                             "instances",
                                             "sync_groups",
                                             "preferred",
                                             "preempt_delay_ms",
                                             "virtual_servers",
                                             "ipvs",
                                             "track_scripts",
                                             "virtual_server_groups"};
  return keys;
}

// The top-level keys whose values differ between the two texts (after YAML normalisation: a
// comment or a change of quoting is no change). nullopt: a text is not a YAML mapping.
std::optional<std::set<std::string>> changedKeys(const std::string& a, const std::string& b) {
  auto load = [](const std::string& text) -> std::optional<std::map<std::string, std::string>> {
    try {
      const YAML::Node n = YAML::Load(text);
      if (!n.IsMap()) return std::nullopt;
      std::map<std::string, std::string> out;
      for (const auto& kv : n) {
        YAML::Emitter e;
        e << kv.second;
        out[kv.first.as<std::string>()] = e.c_str();
      }
      return out;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  const auto x = load(a);
  const auto y = load(b);
  if (!x || !y) return std::nullopt;
  std::set<std::string> changed;
  for (const auto& [k, v] : *x) {
    const auto it = y->find(k);
    if (it == y->end() || it->second != v) changed.insert(k);
  }
  for (const auto& [k, v] : *y) {
    if (!x->count(k)) changed.insert(k);
  }
  return changed;
}

bool sameVrrp(const std::optional<VrrpConfig>& a, const std::optional<VrrpConfig>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->vrid == b->vrid && a->priority == b->priority &&
         a->advertInterval == b->advertInterval && a->useVmac == b->useVmac;
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

const char* kRegrouped =
    ": this version reloads no instance moved between leases (into or out of a sync group); "
    "restart";

std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// A lease added or removed whole: refuses what this version cannot take safely. `other` is the
// file the lease is not in; `verb` "added" or "removed".
void judgeWholeLease(const LeaseConfig& l, const DirectorConfig& in, const DirectorConfig& other,
                     const char* verb, ReloadPlan& plan) {
  for (const auto& name : l.instances) {
    const InstanceConfig& inst = in.instance(name);
    if (inst.vrrp && inst.vrrp->useVmac) {
      plan.refused.push_back("instance " + quoted(name) + " " + verb +
                             " with use_vmac: its macvlan is set up at start; restart");
    }
    // One reload lets go of an address or takes it, never both: the fence keeps an address in
    // one lease, and the other director may reload later.
    for (const auto& v : inst.vips) {
      for (const auto& o : other.instances) {
        const bool there = std::any_of(o.vips.begin(), o.vips.end(), [&](const net::Vip& w) {
          return w.prefix.address == v.prefix.address;
        });
        if (!there) continue;
        plan.refused.push_back("lease " + quoted(l.name) + " " + verb + " while its VIP " +
                               v.prefix.address.toString() + " is in instance " + quoted(o.name) +
                               " of the other file: move an address between leases in two "
                               "reloads (first out of one, then into the other)");
      }
    }
  }
}

// Instances and leases: their VIPs (but for use_vmac) and their hooks may change, and a lease may
// be added or removed with all its instances. Returns whether anything differed.
bool compareLeases(const DirectorConfig& running, const DirectorConfig& next, ReloadPlan& plan) {
  bool differed = false;
  auto refuse = [&](std::string why) {
    differed = true;
    plan.refused.push_back(std::move(why) + kRegrouped);
  };
  std::map<std::string, const InstanceConfig*> before;
  for (const auto& i : running.instances) before[i.name] = &i;
  std::map<std::string, const InstanceConfig*> after;
  for (const auto& i : next.instances) after[i.name] = &i;
  // Instances added or removed are judged with their leases below.
  std::set<std::string> removedInstances;
  for (const auto& [name, inst] : before) {
    if (!after.count(name)) removedInstances.insert(name);
  }
  std::set<std::string> addedInstances;
  std::set<std::string> vipsChanged;  // instances whose VIPs change
  for (const auto& [name, inst] : after) {
    const auto it = before.find(name);
    if (it == before.end()) {
      addedInstances.insert(name);
      continue;
    }
    const InstanceConfig& old = *it->second;
    if (!sameVrrp(old.vrrp, inst->vrrp)) {
      differed = true;
      plan.refused.push_back("instance " + quoted(name) +
                             ": vrrp changed: the adverts' router id and priority are set at "
                             "start in this version; restart");
    }
    if (old.vips == inst->vips) continue;
    differed = true;
    if (old.vrrp && old.vrrp->useVmac) {
      // The macvlan's family and parent come from the first VIP, set up at start.
      plan.refused.push_back("instance " + quoted(name) +
                             ": VIPs changed on a use_vmac instance (its macvlan is set up at "
                             "start from its VIPs); restart");
      continue;
    }
    vipsChanged.insert(name);
    for (const auto& v : inst->vips) {
      if (std::find(old.vips.begin(), old.vips.end(), v) == old.vips.end()) {
        plan.changes.push_back("instance " + quoted(name) + ": VIP " + v.toString() + " added");
      }
    }
    for (const auto& v : old.vips) {
      if (std::find(inst->vips.begin(), inst->vips.end(), v) == inst->vips.end()) {
        plan.changes.push_back("instance " + quoted(name) + ": VIP " + v.toString() + " removed");
      }
    }
    if (std::is_permutation(old.vips.begin(), old.vips.end(), inst->vips.begin(),
                            inst->vips.end())) {
      plan.changes.push_back("instance " + quoted(name) + ": VIPs reordered");
    }
  }
  if (running.instances.empty() != next.instances.empty()) {
    // Without instances the director runs the default lease and no data plane (no fence, no
    // addresses), both set up at start.
    differed = true;
    plan.refused.push_back(running.instances.empty()
                               ? "instances: this director started without any; restart it to "
                                 "add the first"
                               : "instances: removing every instance needs a restart (the "
                                 "director then runs the default lease, without VIPs)");
    return differed;
  }
  std::map<std::string, std::size_t> leaseAt;
  for (std::size_t i = 0; i < running.leases.size(); ++i) leaseAt[running.leases[i].name] = i;
  std::set<std::string> nextNames;
  for (const auto& l : next.leases) nextNames.insert(l.name);
  for (const auto& l : running.leases) {
    if (nextNames.count(l.name)) continue;
    differed = true;
    const bool whole = std::all_of(l.instances.begin(), l.instances.end(),
                                   [&](const std::string& n) { return removedInstances.count(n); });
    if (!whole) {
      refuse("lease " + quoted(l.name) + " removed while some of its instances stay");
      continue;
    }
    judgeWholeLease(l, running, next, "removed", plan);
    plan.removedLeases.push_back(l.name);
    plan.changes.push_back("lease " + quoted(l.name) + " removed (instances " +
                           joinNames(l.instances) + ")");
  }
  for (std::size_t i = 0; i < next.leases.size(); ++i) {
    const LeaseConfig& l = next.leases[i];
    const auto it = leaseAt.find(l.name);
    if (it == leaseAt.end()) {
      differed = true;
      const bool whole = std::all_of(l.instances.begin(), l.instances.end(),
                                     [&](const std::string& n) { return addedInstances.count(n); });
      if (!whole) {
        refuse("lease " + quoted(l.name) + " added with instances that ran in another lease");
        continue;
      }
      judgeWholeLease(l, next, running, "added", plan);
      plan.addedLeases.push_back(i);
      plan.changes.push_back("lease " + quoted(l.name) + " added (instances " +
                             joinNames(l.instances) +
                             "): it campaigns after the start-up quarantine");
      continue;
    }
    const LeaseConfig& old = running.leases[it->second];
    if (old.instances != l.instances) refuse("lease " + quoted(l.name) + ": its instances changed");
    if (old.syncGroup != l.syncGroup) {
      refuse("lease " + quoted(l.name) + ": changed between a sync group and an instance");
    }
    if (old.preferred != l.preferred || old.preemptDelay != l.preemptDelay) {
      differed = true;
      plan.refused.push_back("lease " + quoted(l.name) +
                             ": preferred/preempt_delay_ms changed: the lease core takes its "
                             "preference at start in this version; restart");
    }
    if (old.instances == l.instances &&
        std::any_of(l.instances.begin(), l.instances.end(),
                    [&](const std::string& n) { return vipsChanged.contains(n); })) {
      plan.vipLeases.push_back(i);
    }
    if (!(old.hooks == l.hooks)) {
      differed = true;
      plan.hooks = true;
      plan.changes.push_back("lease " + quoted(l.name) + ": hooks");
    }
    if (!(old.track == l.track)) {
      differed = true;
      plan.leaseTracks = true;
      plan.changes.push_back("lease " + quoted(l.name) + ": tracking");
    }
    if (!(old.announce == l.announce)) {
      differed = true;
      plan.announce = true;
      // A top-level change reaches every lease that does not override it: named once, there.
      if (running.announce == next.announce) {
        plan.changes.push_back("lease " + quoted(l.name) + ": announce");
      }
    }
  }
  // A VIP that changes lease in one reload is answered twice while the two directors run
  // different files: the one reloaded first answers for it as the new lease's holder, the other
  // still as the old lease's, and the two leases can be held by different directors. Taken in
  // two reloads of both directors (out of every lease, then into the new one), no instant has it
  // in two leases anywhere.
  auto leaseOf = [](const DirectorConfig& c) {
    std::map<net::IpAddress, std::string> out;
    for (const auto& l : c.leases) {
      for (const auto& name : l.instances) {
        for (const auto& v : c.instance(name).vips) out[v.prefix.address] = l.name;
      }
    }
    return out;
  };
  const auto was = leaseOf(running);
  for (const auto& [address, lease] : leaseOf(next)) {
    const auto it = was.find(address);
    if (it == was.end() || it->second == lease) continue;
    differed = true;
    plan.refused.push_back("VIP " + address.toString() + " moves from lease " + quoted(it->second) +
                           " to lease " + quoted(lease) +
                           ": the director reloaded first would answer for it while the other "
                           "still does; remove it, reload both directors, then add it");
  }
  return differed;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace

std::string ReloadPlan::summary() const {
  if (!accepted()) return "refused, nothing changed: " + join(refused);
  if (changes.empty()) return "no change";
  return "applied: " + join(changes);
}

ReloadPlan planReload(const DirectorConfig& running, const std::string& runningText,
                      const DirectorConfig& next, const std::string& nextText) {
  ReloadPlan plan;
  // The order of `changes` is the order applyReload follows (server/daemon.cc).
  const auto changed = changedKeys(runningText, nextText);
  if (!changed) {
    plan.refused.push_back("the file is not a YAML mapping");
    return plan;
  }
  for (const auto& key : *changed) {
    if (const auto it = restartKeys().find(key); it != restartKeys().end()) {
      plan.refused.push_back(it->second);
    } else if (!judgedKeys().count(key)) {
      plan.refused.push_back(key + ": this version does not know how to reload it");
    }
  }
  // The same text can name other keys: secret_file's contents, read at parse time.
  if (running.secrets != next.secrets && !changed->count("secret") &&
      !changed->count("secret_file")) {
    plan.refused.push_back(restartKeys().at("secret_file") + " (the file's contents changed)");
  }
  if (running.logLevel != next.logLevel) {
    plan.logLevel = true;
    plan.changes.push_back("log_level " + running.logLevel + " -> " + next.logLevel);
  }
  const auto& a = running.announce;
  const auto& b = next.announce;
  if (a.repeat != b.repeat || a.interval != b.interval || a.refresh != b.refresh) {
    plan.announce = true;
    plan.changes.push_back("announce");
  }
  // Every field of TrackScript: one added later must be added here too.
  auto sameScript = [](const TrackScript& x, const TrackScript& y) {
    return x.name == y.name && x.argv == y.argv && x.interval == y.interval &&
           x.timeout == y.timeout && x.fall == y.fall && x.rise == y.rise;
  };
  if (!std::equal(running.trackScripts.begin(), running.trackScripts.end(),
                  next.trackScripts.begin(), next.trackScripts.end(), sameScript)) {
    plan.trackScripts = true;
    plan.changes.push_back("track_scripts");
  }
  const bool leasesDiffered = compareLeases(running, next, plan);
  // Every VIP's device gates the director like track_interfaces, through a watcher set up at
  // start: a VIP on another device, or the last one off a device, would leave it watching the
  // wrong set.
  {
    const auto before = running.linkWatchList();
    const auto after = next.linkWatchList();
    if (std::set<std::string>(before.begin(), before.end()) !=
        std::set<std::string>(after.begin(), after.end())) {
      plan.refused.push_back(
          "instances: the VIPs' devices or the leases' track_interfaces change the interfaces "
          "the director watches (set up at start, like track_interfaces); restart");
    }
  }
  // A change under these keys that the comparison did not see is one it does not understand.
  for (const char* key : {"instances", "sync_groups", "hooks", "preferred", "preempt_delay_ms"}) {
    if (changed->count(key) && !leasesDiffered) {
      plan.refused.push_back(std::string(key) + ": changed in a way this version cannot reload");
      break;
    }
  }
  const bool had = !running.ipvs.virtualServers.empty();
  const bool has = !next.ipvs.virtualServers.empty();
  if (!had && has) {
    plan.refused.push_back(
        "virtual_servers: this director started without virtual servers; restart it to add them");
  } else if (had && !has) {
    plan.refused.push_back("virtual_servers: removing every virtual server needs a restart");
  } else if (has) {
    // Even unchanged: the kernel's table is compared again, and the checks read their files
    // again (an https check's rotated CA bundle; docs/health-checks.md), keeping their state.
    plan.virtualServers = true;
    if (changed->count("virtual_servers") || changed->count("virtual_server_groups") ||
        changed->count("ipvs")) {
      plan.changes.push_back("virtual servers and health checks");
    }
  }
  if (!plan.accepted()) plan.changes.clear();
  if (!plan.accepted()) {
    plan.logLevel = plan.trackScripts = plan.hooks = plan.announce = plan.virtualServers = false;
    plan.leaseTracks = false;
    plan.vipLeases.clear();
    plan.addedLeases.clear();
    plan.removedLeases.clear();
  }
  return plan;
}

}  // namespace quorate::server::reload
