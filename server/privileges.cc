// The director's kept capabilities and the programs its configuration runs.
#include "server/privileges.h"

#include <linux/capability.h>
#include <pwd.h>
#include <unistd.h>

#include <variant>

#include "common/config_error.h"
#include "common/yaml_config.h"
#include "server/script_runner.h"

namespace quorate::server {
namespace {

// The uid `user` runs as; the director's own for "" (and for an unknown user, which the
// parsers have refused already).
uid_t uidOf(const std::string& user) {
  if (user.empty()) return ::geteuid();
  const long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    return found->pw_uid;
  }
  return ::geteuid();
}

}  // namespace

std::vector<ConfiguredScript> configuredScripts(const DirectorConfig& c) {
  std::vector<ConfiguredScript> out;
  auto add = [&](std::string where, const std::vector<std::string>& argv, const std::string& user) {
    if (argv.empty()) return;
    out.push_back({std::move(where), argv.front(), user.empty() ? c.scriptUser : user});
  };
  for (const auto& l : c.leases) {
    const auto& h = l.hooks;
    const std::string of = " of lease " + config::quote(l.name);
    using Commands = std::vector<hooks::HookCommand>;
    const std::pair<const char*, const Commands*> keys[] = {{"notify", &h.notify},
                                                            {"notify_master", &h.notifyMaster},
                                                            {"notify_backup", &h.notifyBackup},
                                                            {"notify_fault", &h.notifyFault},
                                                            {"notify_stop", &h.notifyStop},
                                                            {"on_quorum_loss", &h.onQuorumLoss},
                                                            {"pre_claim", &h.preClaim},
                                                            {"pre_release", &h.preRelease}};
    for (const auto& [key, list] : keys) {
      for (const auto& cmd : *list) add(std::string("hooks.") + key + of, cmd.program, cmd.user);
    }
  }
  for (const auto& t : c.trackScripts) add("track_scripts " + config::quote(t.name), t.argv, "");
  if (c.fenceBeforeClaim) {
    const auto& f = *c.fenceBeforeClaim;
    add("fence_before_claim", f.isAgent() ? std::vector<std::string>{f.agent} : f.command, f.user);
  }
  for (const auto& vs : c.ipvs.virtualServers) {
    if (vs.member > 0) continue;  // a group's other members: the same real servers and programs
    for (const auto& rs : vs.realServers) {
      const std::string of = " of " + vs.key + " real server " + rs.dest.endpoint();
      add("notify_up" + of, rs.notifyUp, "");
      add("notify_down" + of, rs.notifyDown, "");
      for (const auto& spec : rs.checks) {
        if (const auto* s = std::get_if<check::ScriptSpec>(&spec.kind)) {
          add("checks (script)" + of, s->argv, s->user);
        }
      }
    }
  }
  return out;
}

void checkConfiguredScripts(const DirectorConfig& c) {
  for (const auto& s : configuredScripts(c)) {
    if (const Status st = checkScriptSecurity(s.program, s.user); !st) {
      throw ConfigError(c.path + ": " + s.where + ": " + st.what());
    }
  }
}

bool scriptsSwitchUser(const DirectorConfig& c) {
  const uid_t self = ::geteuid();
  for (const auto& s : configuredScripts(c)) {
    if (uidOf(s.user) != self) return true;
  }
  return false;
}

privileges::CapMask directorCapabilities(const DirectorConfig& c) {
  using privileges::capBit;
  privileges::CapMask kept = capBit(CAP_NET_ADMIN) | capBit(CAP_NET_RAW);
  if (scriptsSwitchUser(c)) kept |= capBit(CAP_SETUID) | capBit(CAP_SETGID) | capBit(CAP_KILL);
  return kept;
}

}  // namespace quorate::server
