// The arbiter's `operator:` key: where its read-only status API listens (a Unix socket only).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/yaml_config.h"

namespace quorate::arbiter {

struct ArbiterOperatorConfig {
  std::string socket;          // absolute path of the Unix socket
  std::optional<gid_t> group;  // set: the socket is 0660 with this group, else 0600
  std::string groupName;       // for messages and for comparing two configurations

  bool operator==(const ArbiterOperatorConfig&) const = default;
};

// Parses `operator: {socket: PATH, group: NAME}`. The group is resolved now, so a typo fails
// the start (or the reload). Throws quorate::ConfigError.
ArbiterOperatorConfig parseArbiterOperator(const config::Value& v);

}  // namespace quorate::arbiter
