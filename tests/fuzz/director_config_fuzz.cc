// Fuzz target: the director's configuration parser on any text. A ConfigError is the expected
// answer to bad input; any other exception, a crash or a sanitizer report is a finding.
#include <cstdint>
#include <exception>
#include <string>

#include "common/config_error.h"
#include "fuzz_support.h"
#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace quorate;
  // A path under a directory that does not exist: relative paths in the text resolve there, so
  // a file the text names is not found instead of being read from wherever the fuzzer runs.
  const std::string path = "/nonexistent-quorate-fuzz/director.yaml";
  try {
    const server::DirectorConfig config = server::parseDirectorConfig(fuzz::text(data, size), path);
    // What the daemon does next with a parsed config must hold for any accepted text.
    fuzz::check(!config.leases.empty(), "a parsed config without leases");
    fuzz::check(config.self < 2, "self is not director 0 or 1");
    for (const auto& lease : config.leases) (void)config.nodeConfig(lease);
    (void)config.membership();
    (void)config.watchedInterfaces();
    for (const auto& i : config.instances) (void)config.instance(i.name);
  } catch (const ConfigError&) {
    // The expected answer to bad input.
  } catch (const std::exception& e) {
    fuzz::fail(std::string("parseDirectorConfig threw a non-ConfigError: ") + e.what());
  }
  return 0;
}
