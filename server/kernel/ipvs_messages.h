// IPVS generic netlink messages as values: every request the director sends is built here as
// bytes (nlmsghdr + genlmsghdr + attributes, as the kernel's ip_vs_ctl.c parses them), and every
// reply is parsed here from bytes. No socket, no root: tested against golden bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/kernel/ipvs.h"
#include "server/kernel/netlink_message.h"

namespace quorate::kernel::ipvs::msg {

using Bytes = netlink::Bytes;

// The generic netlink family id of "IPVS" (resolved at run time) and the message's sequence
// number: what every request needs besides its content.
struct Header {
  std::uint16_t familyId = 0;
  std::uint32_t seq = 0;
};

// IPVS_CMD_* of the kernel's uapi.
enum class Command : std::uint8_t {
  NewService = 1,
  SetService = 2,
  DelService = 3,
  GetService = 4,
  NewDest = 5,
  SetDest = 6,
  DelDest = 7,
  GetDest = 8,
  NewDaemon = 9,
  DelDaemon = 10,
  GetDaemon = 11,
  GetInfo = 15,
};

// The command that carries out `op` (add service → NewService, ...).
Command commandOf(Op::Kind kind);

// A change to the table (service or destination), asking for an acknowledgement.
Bytes encode(const Header& h, Command cmd, const Service& service,
             const Destination* destination = nullptr);
Bytes encode(const Header& h, const Op& op);

Bytes getServices(const Header& h);                             // dump of every service
Bytes getDestinations(const Header& h, const ServiceKey& key);  // dump of one service's
Bytes getInfo(const Header& h);
Bytes getDaemons(const Header& h);
Bytes newDaemon(const Header& h, const SyncDaemon& d);
Bytes delDaemon(const Header& h, SyncRole role);

// Replies. Each takes the attributes of one message (what follows its genlmsghdr) and fails
// with EPROTO (and a text naming what was wrong) on anything malformed or missing.
Result<ServiceState> parseService(std::span<const std::uint8_t> attrs);  // no destinations
Result<DestinationState> parseDestination(std::span<const std::uint8_t> attrs, int serviceFamily);
Result<SyncDaemon> parseDaemon(std::span<const std::uint8_t> attrs);
Result<Info> parseInfo(std::span<const std::uint8_t> attrs);

}  // namespace quorate::kernel::ipvs::msg
