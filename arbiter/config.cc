// The arbiter's configuration file (quorate-arbiter --config FILE), parsed and checked.
#include "arbiter/config.h"

#include <chrono>

#include "common/tls/identity.h"
#include "common/yaml_config.h"

namespace quorate::arbiter {
namespace {

using config::Map;
using config::Value;

// Clusters one arbiter serves: twice the 5,000 measured on one core (docs/bench-arbiter.md).
constexpr std::size_t kMaxClusters = 10'000;

// The fingerprint of a certificate both `bundle` and the bundle in `otherPath` hold, if any.
std::optional<std::string> sharedCertificate(const tls::CaBundle& bundle,
                                             const std::string& otherPath) {
  if (otherPath.empty()) return std::nullopt;
  auto other = tls::CaBundle::load(otherPath);
  if (!other) return std::nullopt;  // reported at its own key
  for (const auto& f : bundle.fingerprints()) {
    for (const auto& g : other->fingerprints()) {
      if (f == g) return f;
    }
  }
  return std::nullopt;
}

// clusters: at least one {id, secret | secret_file, ca}, ids unique; with tls every cluster has a
// CA bundle and no two clusters share a CA certificate (a tenant's CA must not mint another's).
std::vector<ClusterEntry> parseClusters(const Value& v, bool tls) {
  const std::vector<Value> items = v.asList();
  if (items.empty()) v.fail("expected at least one cluster, got none");
  if (items.size() > kMaxClusters) {
    v.fail(std::to_string(items.size()) + " clusters, more than the limit of " +
           std::to_string(kMaxClusters));
  }
  std::vector<ClusterEntry> out;
  std::vector<int> lines;  // where each id was given
  for (const Value& item : items) {
    const Map m = item.asMap({"id", "secret", "secret_file", "ca"});
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
    if (const auto ca = m.optional("ca")) {
      if (!tls) ca->fail("needs tls (the arbiter's own certificate)");
      entry.ca = ca->asPath();
      auto bundle = tls::CaBundle::load(entry.ca);
      if (!bundle) ca->fail(bundle.status().what());
      for (std::size_t j = 0; j < out.size(); ++j) {
        if (const auto shared = sharedCertificate(*bundle, out[j].ca)) {
          ca->fail("cluster " + config::quote(entry.id) + " and cluster " +
                   config::quote(out[j].id) + " (line " + std::to_string(lines[j]) +
                   ") trust the same CA certificate (sha256 " + *shared +
                   "); each tenant needs its own CA");
        }
      }
    } else if (tls) {
      item.fail("missing required key ca (with tls every cluster needs its CA bundle)");
    }
    out.push_back(std::move(entry));
    lines.push_back(id.line());
  }
  return out;
}

// tls: {cert, key}: an arbiter certificate (quorate-arbiter://<name>) with its key.
ArbiterTls parseTls(const Value& v) {
  const Map m = v.asMap({"cert", "key"});
  const Value cert = m.required("cert");
  const Value key = m.required("key");
  ArbiterTls t{cert.asPath(), key.asPath()};
  auto own = tls::Certificate::load(t.cert);
  if (!own) cert.fail(own.status().what());
  auto id = own->identity();
  if (!id) cert.fail(id.status().what());
  if (id->role != tls::Identity::Role::kArbiter) {
    cert.fail("the certificate is " + id->uri() + ", not an arbiter's quorate-arbiter://<name>");
  }
  if (const Status st = tls::checkKeyMatches(t.cert, t.key); !st) key.fail(st.what());
  return t;
}

}  // namespace

ArbiterConfig parseArbiterConfig(const std::string& text, const std::string& path) {
  return config::guarded(path, [&] {
    const config::Document doc(path, text);
    const Map root = doc.root({"listen", "state_dir", "quarantine_ms", "log_level", "log_target",
                               "clusters", "tls", "operator", "metrics"});
    ArbiterConfig c;
    c.path = path;
    c.listen = root.required("listen").asHostPort();
    c.stateDir = root.required("state_dir").asPath();
    if (const auto q = root.optional("quarantine_ms")) {
      c.quarantine = std::chrono::duration_cast<lease::Duration>(q->asMillis());
    }
    c.logLevel = config::readLogLevel(root);
    if (const auto t = root.optional("log_target")) {
      c.logTarget = t->asOneOf({"auto", "journal", "syslog", "stderr"});
    }
    if (const auto t = root.optional("tls")) c.tls = parseTls(*t);
    if (const auto o = root.optional("operator")) c.operatorApi = parseArbiterOperator(*o);
    c.clusters = parseClusters(root.required("clusters"), c.tls.has_value());
    c.metrics = metrics::parseMetricsConfig(root.optional("metrics"));
    return c;
  });
}

ArbiterConfig loadArbiterConfig(const std::string& path) {
  return parseArbiterConfig(config::readConfigFile(path), path);
}

}  // namespace quorate::arbiter
