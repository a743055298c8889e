// How much one director configuration may ask for, in all: each bound sits well above what a
// real pair of directors runs and well below what would exhaust the daemon (docs/configuration.md,
// "Limits"). The file's size and the work of parsing it are bounded in common/yaml_config.h.
#pragma once

#include <cstddef>

namespace quorate::server {

// Instances (and so leases, each renewed with the arbiter); VRRP's router ids number 255.
inline constexpr std::size_t kMaxInstances = 255;
// VIPs of all instances: each is an address to add, fence and announce on every claim.
inline constexpr std::size_t kMaxVips = 4'096;
// Virtual servers, each an IPVS service.
inline constexpr std::size_t kMaxVirtualServers = 4'096;
// Real servers of all virtual servers (sorry servers aside).
inline constexpr std::size_t kMaxRealServers = 20'000;
// Health checks of all real servers, as the checker runs them: a virtual server's checks count
// once for each of its real servers without checks of their own. Each holds a socket.
inline constexpr std::size_t kMaxChecks = 20'000;
// Hook commands of all leases, as the daemon holds them: a top-level hook counts once for each
// lease that inherits it.
inline constexpr std::size_t kMaxHookCommands = 4'096;
// Track scripts, each a program run every interval.
inline constexpr std::size_t kMaxTrackScripts = 256;

}  // namespace quorate::server
