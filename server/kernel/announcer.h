// Announcing VIPs to the LAN: gratuitous ARP, IPv6 unsolicited neighbour advertisements and
// VRRPv3 adverts. Frames are built as values (packets.h) and sent here through AF_PACKET.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"

namespace quorate::kernel {

class Announcer {
 public:
  virtual ~Announcer() = default;
  // Sends one complete Ethernet frame on interface `ifindex`.
  virtual Status send(int ifindex, const std::vector<std::uint8_t>& frame) = 0;
};

Result<std::unique_ptr<Announcer>> makePacketAnnouncer();

}  // namespace quorate::kernel
