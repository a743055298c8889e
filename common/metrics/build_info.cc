// The build's identity for quorate_build_info.
#include "common/metrics/build_info.h"

#include "common/version.h"

namespace quorate::metrics {

BuildInfo buildInfo() {
  BuildInfo b;
  b.version = std::string(kVersion);
  b.commit = std::string(kGitCommit);
  // The same number --version prints: the N of the peer protocol's package quorate.vN.
  b.protocol = std::to_string(kProtocolVersion);
  return b;
}

void addBuildInfo(Exposition& e, const BuildInfo& info) {
  e.gauge("quorate_build_info",
          "Always 1; the labels say which build answers: version, git commit, peer protocol.")
      .add({{"version", info.version}, {"commit", info.commit}, {"protocol", info.protocol}}, 1);
}

}  // namespace quorate::metrics
