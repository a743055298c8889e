// The `hooks:` settings of a lease (and their cluster-wide defaults): which programs run on which
// transition, which gate the claim, and keepalived's notify_fifo.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/yaml_config.h"

namespace quorate::server::hooks {

// One configured program; the QUORATE_* variables are added to its environment.
struct HookCommand {
  std::vector<std::string> program;  // argv prefix; program[0] absolute or found on PATH
  std::string user;                  // run as this user; empty: as the director
  std::chrono::milliseconds timeout{5000};
  // keepalived appends "INSTANCE name STATE priority" for its generic `notify` program but runs
  // notify_master/_backup/_fault/_stop exactly as configured: true is the former, false the latter.
  bool keepalivedArgs = true;
  bool operator==(const HookCommand&) const = default;
};

struct HooksConfig {
  std::vector<HookCommand> notify;        // every transition, keepalived's arguments appended
  std::vector<HookCommand> notifyMaster;  // became holder, run as configured
  std::vector<HookCommand> notifyBackup;  // became standby
  std::vector<HookCommand> notifyFault;   // fault, and a loss of quorum
  std::vector<HookCommand> notifyStop;    // the director stops
  std::vector<HookCommand> onQuorumLoss;  // once per loss of quorum, after the withdrawal
  // Gating: the claim waits for these, in order; one failing means no claim (the lease is handed
  // on). Pre-release: a planned step-down waits for them (failures are logged, the release
  // goes on: a holder cannot be kept against the operator's will).
  std::vector<HookCommand> preClaim;
  std::vector<HookCommand> preRelease;
  std::optional<std::string> notifyFifo;  // keepalived's notify_fifo: one line per transition
  bool operator==(const HooksConfig&) const = default;

  // The longest a gate of `commands` can take: the sum of their timeouts.
  static std::chrono::milliseconds budget(const std::vector<HookCommand>& commands);
};

// Parses a `hooks:` mapping. Keys given replace those of `defaults`; the others are inherited.
// A command is a string (split into words like keepalived does: whitespace, '...' and "..."
// quoting, no expansion), or a mapping {command: [argv...] | shell: "text", timeout_ms, user};
// a key takes one command or a list of them. Throws ConfigError naming file, line and key.
HooksConfig parseHooks(const config::Value& v, const HooksConfig& defaults);

// keepalived's word splitting of a script line; nullopt and `error` set on an unclosed quote.
std::optional<std::vector<std::string>> splitWords(const std::string& line, std::string& error);

}  // namespace quorate::server::hooks
