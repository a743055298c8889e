// The arbiter's configuration file (quorate-arbiter --config FILE), parsed and checked.
#include "arbiter/config.h"

#include <chrono>

#include "common/yaml_config.h"

namespace quorate::arbiter {
namespace {

using config::Map;
using config::Value;

// Clusters one arbiter serves: twice the 5,000 measured on one core (docs/bench-arbiter.md).
constexpr std::size_t kMaxClusters = 10'000;

// clusters: at least one {id, secret | secret_file}, ids unique.
std::vector<ClusterEntry> parseClusters(const Value& v) {
  const std::vector<Value> items = v.asList();
  if (items.empty()) v.fail("expected at least one cluster, got none");
  if (items.size() > kMaxClusters) {
    v.fail(std::to_string(items.size()) + " clusters, more than the limit of " +
           std::to_string(kMaxClusters));
  }
  std::vector<ClusterEntry> out;
  std::vector<int> lines;  // where each id was given
  for (const Value& item : items) {
    const Map m = item.asMap({"id", "secret", "secret_file"});
    const Value id = m.required("id");
    ClusterEntry entry{id.asId(), ""};
    for (std::size_t j = 0; j < out.size(); ++j) {
      if (out[j].id == entry.id) {
        id.fail("duplicate cluster id " + config::quote(entry.id) + " (first given at line " +
                std::to_string(lines[j]) + ")");
      }
    }
    entry.secret = config::readSecret(m);
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
