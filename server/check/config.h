// Parsing of health checks from the director's YAML: a `checks` list on a virtual server (the
// default of its real servers) or on a real server (its own). See docs/health-checks.md.
#pragma once

#include <chrono>
#include <vector>

#include "server/check/spec.h"

namespace quorate::config {
class Value;  // common/yaml_config.h
}

namespace quorate::server::check {

// What a virtual server gives its checks unless a check says otherwise.
struct CheckDefaults {
  std::chrono::milliseconds interval{5000};  // the virtual server's delay_loop_ms
};

// Parses a `checks` list. Throws quorate::ConfigError ("file:line: key: what"). `family` is the
// real servers' address family (AF_INET / AF_INET6): connect_ip and bind_to must match it.
std::vector<CheckSpec> parseChecks(const config::Value& list, const CheckDefaults& defaults,
                                   int family);

// The RFC 1035 code of a DNS query type name ("A" -> 1, "SOA" -> 6); 0 if unknown.
std::uint16_t dnsTypeCode(std::string_view name);

}  // namespace quorate::server::check
