// The `metrics:` key both daemons share: where the Prometheus endpoint listens (absent: none).
#pragma once

#include <optional>
#include <string>

#include "common/yaml_config.h"

namespace quorate::metrics {

struct MetricsConfig {
  std::string listen;  // "127.0.0.1:9362", "[::1]:9362": an address literal, never a name
  bool operator==(const MetricsConfig&) const = default;
};

// metrics: {listen: "ip:port"}. Absent: nothing listens. Throws ConfigError naming the key.
std::optional<MetricsConfig> parseMetricsConfig(const std::optional<config::Value>& v);

}  // namespace quorate::metrics
