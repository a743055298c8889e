// The arbiter's configuration file (quorate-arbiter --config FILE), parsed and checked.
#include "arbiter/config.h"

#include <chrono>

#include "common/yaml_config.h"

namespace quorate::arbiter {
namespace {

using config::Map;
using config::Value;

// clusters: at least one {id, secret | secret_file}, ids unique.
std::vector<ClusterEntry> parseClusters(const Value& v) {
  const std::vector<Value> items = v.asList();
  if (items.empty()) v.fail("expected at least one cluster, got none");
  std::vector<ClusterEntry> out;
  std::vector<int> lines;  // where each id was given
  for (const Value& item : items) {
    const Map m = item.asMap({"id", "secret", "secret_file"});
    const Value id = m.required("id");
    ClusterEntry entry{id.asId(), {}};
    for (std::size_t j = 0; j < out.size(); ++j) {
      if (out[j].id == entry.id) {
        id.fail("duplicate cluster id " + config::quote(entry.id) + " (first given at line " +
                std::to_string(lines[j]) + ")");
      }
    }
    entry.secrets = config::readSecrets(m);
    // One key for two clusters would let one cluster's director sign for the other.
    for (std::size_t j = 0; j < out.size(); ++j) {
      for (const auto& k : entry.secrets) {
        for (const auto& other : out[j].secrets) {
          if (k == other) {
            m.value().fail("cluster " + config::quote(entry.id) + " has a key of cluster " +
                           config::quote(out[j].id) + " (line " + std::to_string(lines[j]) +
                           "): every cluster needs its own");
          }
        }
      }
    }
    out.push_back(std::move(entry));
    lines.push_back(id.line());
  }
  return out;
}

}  // namespace

ArbiterConfig parseArbiterConfig(const std::string& text, const std::string& path) {
  return config::guarded(path, [&] {
    const config::Document doc(path, text);
    const Map root = doc.root({"listen", "state_dir", "quarantine_ms", "log_level", "clusters"});
    ArbiterConfig c;
    c.path = path;
    c.listen = root.required("listen").asHostPort();
    c.stateDir = root.required("state_dir").asPath();
    if (const auto q = root.optional("quarantine_ms")) {
      c.quarantine = std::chrono::duration_cast<lease::Duration>(q->asMillis());
    }
    c.logLevel = config::readLogLevel(root);
    c.clusters = parseClusters(root.required("clusters"));
    return c;
  });
}

ArbiterConfig loadArbiterConfig(const std::string& path) {
  return parseArbiterConfig(config::readConfigFile(path), path);
}

}  // namespace quorate::arbiter
