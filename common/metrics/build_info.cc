// The build's identity for quorate_build_info.
#include "common/metrics/build_info.h"

#include "quorate/v1/quorate.pb.h"

namespace quorate::metrics {

BuildInfo buildInfo() {
  BuildInfo b;
  b.version = QUORATE_METRICS_VERSION;
  // The commit comes with common/version.h (the packaging work); until then it is not known.
  b.commit = "unknown";
  // "quorate.v1": the wire version every peer message is defined in.
  const std::string package = v1::ExchangeRequest::descriptor()->file()->package();
  b.protocol = package.substr(package.rfind('.') + 1);
  return b;
}

void addBuildInfo(Exposition& e, const BuildInfo& info) {
  e.gauge("quorate_build_info",
          "Always 1; the labels say which build answers: version, git commit, peer protocol.")
      .add({{"version", info.version}, {"commit", info.commit}, {"protocol", info.protocol}}, 1);
}

}  // namespace quorate::metrics
