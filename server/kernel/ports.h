// The kernel ports the director drives, as one set: the borrowed view the data plane takes,
// and the owning set of the real ones (rtnetlink, nftables, AF_PACKET, IPVS genetlink).
#pragma once

#include <memory>

#include "common/status.h"
#include "server/kernel/announcer.h"
#include "server/kernel/fence.h"
#include "server/kernel/ipvs.h"
#include "server/kernel/links.h"
#include "server/kernel/vips.h"

namespace quorate::server {

// The kernel interfaces the data plane drives; owned by the caller. `fence` may be null
// (fence: none).
struct KernelPorts {
  kernel::Vips* vips = nullptr;
  kernel::Fence* fence = nullptr;
  kernel::Links* links = nullptr;
  kernel::Announcer* announcer = nullptr;
  kernel::ipvs::Ipvs* ipvs = nullptr;  // needed only with virtual servers
};

// Which real ports a configuration needs.
struct KernelNeeds {
  bool addresses = false;  // VIPs or tracked interfaces: rtnetlink for addresses and links
  bool fence = false;      // fence: nftables
  bool announcer = false;  // VIPs to announce
  bool ipvs = false;       // virtual servers
};

// The real ports; unneeded ones stay null.
struct RealKernelPorts {
  std::unique_ptr<kernel::Vips> vips;
  std::unique_ptr<kernel::Fence> fence;
  std::unique_ptr<kernel::Links> links;
  std::unique_ptr<kernel::Announcer> announcer;
  std::unique_ptr<kernel::ipvs::Ipvs> ipvs;

  KernelPorts view() const {
    return KernelPorts{vips.get(), fence.get(), links.get(), announcer.get(), ipvs.get()};
  }
};

// Fails when a port that must open at once cannot (the packet socket needs CAP_NET_RAW).
Result<RealKernelPorts> openKernelPorts(const KernelNeeds& needs);

}  // namespace quorate::server
