// quorate_build_info: which build answers a scrape (both daemons).
#pragma once

#include <string>

#include "common/metrics/exposition.h"

namespace quorate::metrics {

struct BuildInfo {
  std::string version;   // the CMake project version
  std::string commit;    // "unknown" until the build records it
  std::string protocol;  // the peer protocol's wire version ("1" for quorate.v1), as --version says
};
BuildInfo buildInfo();

// quorate_build_info{version,commit,protocol} 1.
void addBuildInfo(Exposition& e, const BuildInfo& info = buildInfo());

}  // namespace quorate::metrics
