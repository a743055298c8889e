// Read-only netlink questions about the kernel's IPVS and nf_tables, for --check.
#include "server/kernel/feature_probe.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "server/kernel/netlink_channel.h"
#include "server/kernel/netlink_message.h"

namespace quorate::kernel {

Status probeIpvs() {
  netlink::Channel genl(NETLINK_GENERIC,
                        netlink::ChannelOptions{.replyTimeout = std::chrono::milliseconds(2000)});
  auto id = netlink::resolveGenlFamily(genl, "IPVS");
  if (!id) return id.status();
  return Status::ok();
}

Status probeNftables() {
  const std::string what = "ask nf_tables for its generation";
  netlink::Channel nfnl(NETLINK_NETFILTER,
                        netlink::ChannelOptions{.replyTimeout = std::chrono::milliseconds(2000)});
  if (auto s = nfnl.open(what); !s) return s;
  const std::uint32_t seq = nfnl.reserve();
  netlink::MessageBuilder b;
  nfgenmsg header{};
  header.nfgen_family = AF_UNSPEC;
  header.version = NFNETLINK_V0;
  b.begin(static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN), NLM_F_REQUEST,
          seq, header);
  b.end();
  // The reply (NFT_MSG_NEWGEN) is all there is to it: any reply means nf_tables is there.
  return nfnl.exchange(b.bytes(), seq, what, nullptr);
}

}  // namespace quorate::kernel
