// The arbiter's configuration file (quorate-arbiter --config FILE), parsed and checked.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "arbiter/operator_config.h"
#include "common/metrics/config.h"
#include "lease/acceptor.h"
#include "lease/timing.h"
#include "lease/types.h"

namespace quorate::arbiter {

struct ClusterEntry {
  std::string id;
  std::vector<std::string> secrets;  // the first signs, all are accepted
  // With tls: the CA bundle its directors' certificates chain to (re-read when it changes).
  std::string ca = {};
};

// The arbiter's own certificate (quorate-arbiter://<name>) and key, re-read by gRPC on change.
struct ArbiterTls {
  std::string cert;
  std::string key;
};

struct ArbiterConfig {
  std::string path;      // the file it came from
  std::string listen;    // host:port
  std::string stateDir;  // absolute
  std::string logLevel = "info";
  std::string logTarget = "auto";  // auto, journal, syslog, stderr (common/logging.h)
  // Silence after a restart, and the longest lease the arbiter grants.
  lease::Duration quarantine = lease::Timing{}.quarantine;
  std::vector<ClusterEntry> clusters;                // at least one, ids unique
  std::optional<ArbiterTls> tls;                     // unset: no TLS (the shared secrets only)
  std::optional<ArbiterOperatorConfig> operatorApi;  // `operator:`; unset: no status API
  // `metrics: {listen}`, the Prometheus endpoint; unset: nothing listens for it.
  std::optional<metrics::MetricsConfig> metrics;
  // Test only, never read from a file: planted bugs for the simulator's broken variants,
  // given to every acceptor the service opens.
  lease::AcceptorFaults testFaults;
};

// Reads and parses `path`. Throws quorate::ConfigError, with file, line and key, on any problem.
ArbiterConfig loadArbiterConfig(const std::string& path);

// Parses `text` as if read from `path` (used in messages; relative paths in the file are
// resolved against its directory). Throws quorate::ConfigError.
ArbiterConfig parseArbiterConfig(const std::string& text, const std::string& path);

}  // namespace quorate::arbiter
