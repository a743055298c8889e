// Fuzz target: the arbiter's configuration parser on any text. A ConfigError is the expected
// answer to bad input; any other exception, a crash or a sanitizer report is a finding.
#include <cstdint>
#include <exception>
#include <set>
#include <string>

#include "arbiter/config.h"
#include "common/config_error.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace quorate;
  const std::string path = "/nonexistent-quorate-fuzz/arbiter.yaml";
  try {
    const arbiter::ArbiterConfig config = arbiter::parseArbiterConfig(fuzz::text(data, size), path);
    // What the service relies on for any accepted text: at least one cluster, ids unique.
    fuzz::check(!config.clusters.empty(), "a parsed arbiter config without clusters");
    std::set<std::string> ids;
    for (const auto& c : config.clusters) {
      fuzz::check(ids.insert(c.id).second, "two clusters with one id");
    }
    fuzz::check(config.quarantine.count() > 0, "quarantine not positive");
  } catch (const ConfigError&) {
  } catch (const std::exception& e) {
    fuzz::fail(std::string("parseArbiterConfig threw a non-ConfigError: ") + e.what());
  }
  return 0;
}
