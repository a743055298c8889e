// Fuzz target: what the director parses from the kernel over netlink. The input is a datagram as
// a netlink socket would deliver it (after 4 bytes taken as the first sequence number of a fence
// transaction): its messages are walked, acks and extended-ack texts read, generic netlink
// payloads parsed as IPVS services, destinations, sync daemons and info and as the controller's
// family reply, and the datagram matched as nf_tables batch acks against a fence slot write.
#include <linux/genetlink.h>
#include <linux/netfilter.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "fuzz_support.h"
#include "server/kernel/ipvs_messages.h"
#include "server/kernel/netlink_message.h"
#include "server/kernel/nft_messages.h"

namespace {

using namespace quorate;
using namespace quorate::kernel;

void genericPayload(std::span<const std::uint8_t> attrs) {
  namespace msg = ipvs::msg;
  if (auto service = msg::parseService(attrs)) {
    (void)msg::parseDestination(attrs, service->service.key.family);
  } else {
    fuzz::check(!service.status().what().empty(), "parseService refused without saying why");
  }
  (void)msg::parseDestination(attrs, AF_INET);
  (void)msg::parseDestination(attrs, AF_INET6);
  (void)msg::parseDaemon(attrs);
  (void)msg::parseInfo(attrs);
  (void)netlink::genl::familyIdOf(attrs);
  if (const auto parsed = netlink::Attributes::parse(attrs, 32)) {
    for (std::size_t type = 0; type <= 32; ++type) {
      fuzz::check(parsed->raw(type).size() <= attrs.size(), "an attribute longer than its level");
      if (const auto s = parsed->string(type)) {
        fuzz::check(s->size() <= parsed->raw(type).size(), "a string longer than its attribute");
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  std::uint32_t first = 0;
  std::memcpy(&first, data, sizeof first);
  const std::span<const std::uint8_t> datagram(data + 4, size - 4);

  netlink::forEachMessage(datagram, [&](const netlink::Message& m) {
    fuzz::check(m.payload.data() >= datagram.data() &&
                    m.payload.data() + m.payload.size() <= datagram.data() + datagram.size(),
                "a message's payload outside its datagram");
    if (const auto err = netlink::ackError(m)) {
      fuzz::check(*err >= 0, "a negative errno from ackError");
      (void)netlink::withReason("fuzz", netlink::extackMessage(m));
    }
    if (m.payload.size() >= GENL_HDRLEN) genericPayload(m.payload.subspan(GENL_HDRLEN));
    return true;
  });

  // The fence's acks: a slot write in both of its tables, acks matched by sequence number.
  static constexpr std::array<nft::Family, 2> kFamilies{
      {{NFPROTO_ARP, "arp"}, {NFPROTO_INET, "inet"}}};
  const nft::Transaction tx = nft::writeSlot(first, "quorate", kFamilies, "slot_a", 1500, 1u << 30);
  netlink::AckTable acks(tx.first, tx.messages() + 1, /*quietHead=*/1);
  acks.record(datagram);
  fuzz::check(acks.errors().size() == tx.messages() + 1, "the ack table changed its size");
  fuzz::check(acks.pending() <= tx.messages(), "more pending acks than requests");
  fuzz::check(acks.failures() <= tx.messages() + 1, "more failures than requests");
  if (const auto i = acks.firstFailure()) {
    fuzz::check(*i < acks.errors().size() && acks.errors()[*i] > 0, "a first failure that is not");
    (void)acks.reason(*i);
  }
  const Status outcome = nft::outcomeOf(tx, acks, "fuzz");
  if (acks.failures() > 0) fuzz::check(!outcome.isOk(), "failed acks and an ok outcome");
  return 0;
}
