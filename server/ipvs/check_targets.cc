// IpvsConfig -> the health checker's input.
#include "server/ipvs/check_targets.h"

namespace quorate::server::ipvs {

std::vector<check::CheckedServer> checkedServers(const IpvsConfig& config) {
  std::vector<check::CheckedServer> out;
  for (const auto& vs : config.virtualServers) {
    // A group's members share their name and real servers: the first member's entries stand
    // for all, so each real server is checked once and its verdict reaches every member.
    if (vs.member > 0) continue;
    for (const auto& rs : vs.realServers) {
      check::CheckedServer server;
      server.key = {vs.name, rs.dest.address, rs.dest.port};
      for (const auto& spec : rs.checks) {
        server.checks.push_back(check::checkTarget(spec, rs.dest.address, rs.dest.port));
      }
      server.alpha = rs.alpha;
      server.notifyUp = rs.notifyUp;
      server.notifyDown = rs.notifyDown;
      out.push_back(std::move(server));
    }
  }
  return out;
}

}  // namespace quorate::server::ipvs
