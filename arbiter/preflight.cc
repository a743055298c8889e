// `quorate-arbiter --check`: the parsed configuration checked against this host.
#include "arbiter/preflight.h"

#include <yaml-cpp/yaml.h>

#include <ostream>

#include "common/config_error.h"
#include "common/yaml_config.h"

namespace quorate::arbiter::preflight {

Finding checkStateDir(const ArbiterConfig& c) {
  return quorate::preflight::checkWritableDirectory("state_dir", c.stateDir, true);
}

std::vector<Finding> checkFiles(const ArbiterConfig& c, const std::string& text) {
  using namespace quorate::preflight;
  std::vector<Finding> out;
  try {
    const config::Document doc(c.path, text);
    const YAML::Node clusters = YAML::Load(text)["clusters"];
    std::size_t i = 0;
    for (const auto& entry : clusters) {
      const std::string key = "clusters[" + std::to_string(i) + "]";
      const std::string id = i < c.clusters.size() ? c.clusters[i].id : key;
      out.push_back(checkSecrets("cluster " + id + " key", doc, entry, key));
      if (i < c.clusters.size() && !c.clusters[i].ca.empty()) {
        out.push_back(checkCaBundle("cluster " + id + " ca", c.clusters[i].ca));
      }
      ++i;
    }
  } catch (const std::exception& e) {
    out.push_back(fail("cluster keys", e.what()));
  }
  if (c.tls) {
    out.push_back(checkCertificate("tls.cert", c.tls->cert, std::nullopt, std::nullopt));
    out.push_back(checkPrivateKey("tls.key", c.tls->key, c.tls->cert));
  }
  return out;
}

Finding checkListen(const ArbiterConfig& c) {
  return quorate::preflight::checkListen("listen", c.listen);
}

std::vector<Finding> checkAll(const ArbiterConfig& c, const std::string& text) {
  std::vector<Finding> out;
  out.push_back(checkStateDir(c));
  for (auto& f : checkFiles(c, text)) out.push_back(std::move(f));
  out.push_back(checkListen(c));
  if (c.metrics) {
    out.push_back(quorate::preflight::checkListen("metrics.listen", c.metrics->listen));
    for (auto& f : quorate::preflight::checkListenClashes(
             {{"listen", c.listen}, {"metrics.listen", c.metrics->listen}})) {
      out.push_back(std::move(f));
    }
  }
  return out;
}

int runCheck(const std::string& path, std::ostream& out, std::ostream& err) {
  std::string text;
  ArbiterConfig config;
  try {
    text = config::readConfigFile(path);
    if (const auto other =
            quorate::preflight::otherDaemonsFile(text, quorate::preflight::Daemon::kArbiter)) {
      err << "quorate-arbiter: " << path << ": " << *other << "\n";
      return 2;
    }
    config = parseArbiterConfig(text, path);
  } catch (const ConfigError& e) {
    err << "quorate-arbiter: " << e.what() << "\n";
    return 2;
  }
  const std::size_t n = config.clusters.size();
  return quorate::preflight::printReport(
      out, path, std::to_string(n) + (n == 1 ? " cluster" : " clusters"), checkAll(config, text));
}

}  // namespace quorate::arbiter::preflight
