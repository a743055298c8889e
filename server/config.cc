// The director's configuration file (quorate-director --config FILE), parsed and checked.
#include "server/config.h"

#include <stdexcept>
#include <vector>

#include "common/yaml_config.h"

namespace quorate::server {
namespace {

using config::Map;
using config::Value;

constexpr std::int64_t kMaxDriftPpm = 99'999;  // lease::validate wants rho < 0.1

std::string directorList(const std::array<PeerAddress, 2>& directors) {
  return "(" + directors[0].id + ", " + directors[1].id + ")";
}

// Index of director `id`, or nullopt.
std::optional<lease::NodeId> indexOf(const std::array<PeerAddress, 2>& directors,
                                     const std::string& id) {
  for (lease::NodeId i = 0; i < directors.size(); ++i) {
    if (directors[i].id == id) return i;
  }
  return std::nullopt;
}

// directors: exactly two {id, address}, distinct ids and addresses.
std::array<PeerAddress, 2> parseDirectors(const Value& v) {
  const std::vector<Value> items = v.asList();
  if (items.size() != 2) {
    v.fail("expected exactly 2 entries, got " + std::to_string(items.size()));
  }
  std::array<PeerAddress, 2> out;
  for (std::size_t i = 0; i < 2; ++i) {
    const Map m = items[i].asMap({"id", "address"});
    const Value id = m.required("id");
    const Value address = m.required("address");
    out[i] = PeerAddress{id.asId(), address.asHostPort()};
    if (i == 1 && out[1].id == out[0].id) {
      id.fail("duplicate id " + config::quote(out[1].id) + ": the two directors need distinct ids");
    }
    if (i == 1 && out[1].address == out[0].address) {
      address.fail("duplicate address " + config::quote(out[1].address) +
                   ": the two directors need distinct addresses");
    }
  }
  return out;
}

// arbiter: {id (default "arbiter"), address}, distinct from both directors.
PeerAddress parseArbiter(const Value& v, const std::array<PeerAddress, 2>& directors) {
  const Map m = v.asMap({"id", "address"});
  PeerAddress out{"arbiter", ""};
  if (const auto id = m.optional("id")) {
    out.id = id->asId();
    if (indexOf(directors, out.id)) {
      id->fail("arbiter id " + config::quote(out.id) + " is also a director's id");
    }
  } else if (indexOf(directors, out.id)) {
    v.fail("the default arbiter id \"arbiter\" is also a director's id; set arbiter.id");
  }
  const Value address = m.required("address");
  out.address = address.asHostPort();
  for (const PeerAddress& d : directors) {
    if (d.address == out.address) {
      address.fail("arbiter address " + config::quote(out.address) + " is also director " +
                   config::quote(d.id) + "'s address");
    }
  }
  return out;
}

// A director named by `v`, which must be one of `directors`.
std::string directorId(const Value& v, const std::array<PeerAddress, 2>& directors) {
  const std::string id = v.asId();
  if (!indexOf(directors, id)) {
    v.fail(config::quote(id) + " is not one of directors " + directorList(directors));
  }
  return id;
}

// timers: every field optional over lease::Timing's defaults; the result must pass
// lease::validate.
lease::Timing parseTimers(const std::optional<Value>& v) {
  lease::Timing t;
  if (!v) return t;
  const Map m = v->asMap({"holder_lease_ms", "acceptor_lease_ms", "quarantine_ms",
                          "renew_interval_ms", "max_drift_ppm"});
  if (const auto x = m.optional("holder_lease_ms")) t.holderLease = x->asMillis();
  if (const auto x = m.optional("acceptor_lease_ms")) t.acceptorLease = x->asMillis();
  if (const auto x = m.optional("quarantine_ms")) t.quarantine = x->asMillis();
  if (const auto x = m.optional("renew_interval_ms")) t.renewInterval = x->asMillis();
  if (const auto x = m.optional("max_drift_ppm")) {
    t.rho = static_cast<double>(x->asInt(0, kMaxDriftPpm, "parts per million")) / 1e6;
  }
  if (const auto why = lease::validate(t)) v->fail("unsafe timers: " + *why);
  return t;
}

}  // namespace

lease::NodeConfig DirectorConfig::nodeConfig() const {
  lease::NodeConfig out;
  out.self = self;
  out.timing = timing;
  if (preferred) out.preferred = indexOf(directors, *preferred);
  if (preemptDelay) out.preemptDelay = std::chrono::duration_cast<lease::Duration>(*preemptDelay);
  return out;
}

const PeerAddress& DirectorConfig::peer(lease::NodeId id) const {
  if (id == lease::kDirectorA || id == lease::kDirectorB) return directors[id];
  if (id == lease::kArbiter) return arbiter;
  throw std::out_of_range("no peer with node id " + std::to_string(id));
}

DirectorConfig parseDirectorConfig(const std::string& text, const std::string& path) {
  return config::guarded(path, [&] {
    const config::Document doc(path, text);
    const Map root =
        doc.root({"cluster", "node", "secret", "secret_file", "listen", "state_dir", "directors",
                  "arbiter", "preferred", "preempt_delay_ms", "timers", "log_level"});
    DirectorConfig c;
    c.path = path;
    c.cluster = root.required("cluster").asId();
    const Value node = root.required("node");
    c.node = node.asId();
    c.secret = config::readSecret(root);
    c.listen = root.required("listen").asHostPort();
    c.stateDir = root.required("state_dir").asPath();
    c.directors = parseDirectors(root.required("directors"));
    c.arbiter = parseArbiter(root.required("arbiter"), c.directors);
    directorId(node, c.directors);
    c.self = *indexOf(c.directors, c.node);

    const auto preferred = root.optional("preferred");
    if (preferred) c.preferred = directorId(*preferred, c.directors);
    if (const auto delay = root.optional("preempt_delay_ms")) {
      c.preemptDelay = delay->asMillis(0);
      if (!preferred) delay->fail("requires preferred (the director to hand the lease back to)");
    }
    c.timing = parseTimers(root.optional("timers"));
    c.logLevel = config::readLogLevel(root);
    return c;
  });
}

DirectorConfig loadDirectorConfig(const std::string& path) {
  return parseDirectorConfig(config::readConfigFile(path), path);
}

}  // namespace quorate::server
