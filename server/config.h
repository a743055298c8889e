// The director's configuration file (quorate-director --config FILE), parsed and checked.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>

#include "lease/director_node.h"
#include "lease/timing.h"
#include "lease/types.h"

namespace quorate::server {

struct PeerAddress {
  std::string id;
  std::string address;  // host:port
};

struct DirectorConfig {
  std::string path;  // the file it came from
  std::string cluster;
  std::string secret;
  std::string node;                      // this director's id
  lease::NodeId self = 0;                // index of `node` in directors
  std::string listen;                    // host:port for the peer protocol and the operator API
  std::string stateDir;                  // absolute
  std::array<PeerAddress, 2> directors;  // index = protocol node id
  PeerAddress arbiter;
  std::optional<std::string> preferred;
  std::optional<std::chrono::milliseconds> preemptDelay;  // unset: never preempt
  lease::Timing timing;                                   // checked with lease::validate
  std::string logLevel = "info";

  // The lease core's view: self, timing, preferred (as a NodeId) and preemptDelay. The seed is
  // left at its default; the daemon should set it.
  lease::NodeConfig nodeConfig() const;
  // Directors 0 and 1, arbiter 2 (lease::kArbiter). Throws std::out_of_range otherwise.
  const PeerAddress& peer(lease::NodeId id) const;
};

// Reads and parses `path`. Throws quorate::ConfigError, with file, line and key, on any problem.
DirectorConfig loadDirectorConfig(const std::string& path);

// Parses `text` as if read from `path` (used in messages; relative paths in the file are
// resolved against its directory). Throws quorate::ConfigError.
DirectorConfig parseDirectorConfig(const std::string& text, const std::string& path);

}  // namespace quorate::server
