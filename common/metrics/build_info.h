// quorate_build_info: which build answers a scrape (both daemons).
#pragma once

#include <string>

#include "common/metrics/exposition.h"

namespace quorate::metrics {

struct BuildInfo {
  std::string version;   // the CMake project version
  std::string commit;    // "unknown" until the build records it
  std::string protocol;  // the peer protocol's wire version ("v1": the proto package's)
};
BuildInfo buildInfo();

// quorate_build_info{version,commit,protocol} 1.
void addBuildInfo(Exposition& e, const BuildInfo& info = buildInfo());

}  // namespace quorate::metrics
