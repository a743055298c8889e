// Opens the real kernel ports a configuration needs.
#include "server/kernel/ports.h"

namespace quorate::server {

Result<RealKernelPorts> openKernelPorts(const KernelNeeds& needs) {
  RealKernelPorts p;
  if (needs.addresses) {
    p.vips = kernel::makeNetlinkVips();
    p.links = kernel::makeNetlinkLinks();
  }
  if (needs.fence) p.fence = kernel::makeNftFence();
  if (needs.announcer) {
    auto a = kernel::makePacketAnnouncer();
    if (!a) {
      const Status s = a.status();
      return s.withWhat("cannot open a packet socket for announcements: " + s.what());
    }
    p.announcer = std::move(a).value();
  }
  if (needs.ipvs) p.ipvs = kernel::ipvs::makeNetlinkIpvs();
  return p;
}

}  // namespace quorate::server
