// nf_tables transactions as values: the nfnetlink batches of set-element messages the fence sends
// at every arm() and close(), built as bytes (nlmsghdr + nfgenmsg + attributes, as the kernel's
// nf_tables_api.c parses them). No socket, no root: tested against golden bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/kernel/netlink_message.h"

namespace quorate::kernel::nft {

using Bytes = netlink::Bytes;

// A set element as sent: key, optional timeout (milliseconds, counted by the kernel), and
// NFT_SET_ELEM_* flags (NFT_SET_ELEM_INTERVAL_END: the first key after an interval).
struct Element {
  Bytes key;
  std::optional<std::uint64_t> timeoutMs;
  std::uint32_t flags = 0;
};

// One transaction: NFNL_MSG_BATCH_BEGIN carrying `first`, message i (0-based) carrying
// first + 1 + i, NFNL_MSG_BATCH_END. An ack of `first` is about the batch as a whole.
struct Transaction {
  Bytes bytes;
  std::uint32_t first = 0;
  std::vector<std::string> texts;  // each message in nft syntax, for error messages
  bool ok = true;                  // false: a value outgrew its netlink length field

  std::size_t messages() const { return texts.size(); }
  // Sequence numbers used, the batch header's and the end's included.
  std::uint32_t sequences() const { return static_cast<std::uint32_t>(texts.size()) + 2; }
};

class TransactionBuilder {
 public:
  explicit TransactionBuilder(std::uint32_t first);
  // NEWSETELEM (create) or DELSETELEM of `elements`; no elements on delete flushes the set.
  void setElements(bool create, int family, const std::string& table, const std::string& set,
                   const std::vector<Element>& elements, std::string text);
  Transaction finish() &&;

 private:
  void nfgen(std::uint16_t type, std::uint16_t flags, int family, std::uint16_t resId,
             std::uint32_t seq);

  netlink::MessageBuilder b_;
  std::uint32_t first_;
  std::vector<std::string> texts_;
};

// What the kernel's acks of `tx` (matched over tx.first .. tx.first + messages(), the batch
// header first) say, as a Status naming `what` and the first failed message in nft syntax: its
// errno, with "(+n more)" when others failed too; the batch as a whole when only its header was
// refused (commit, memory); EIO "(outcome unknown)" when acks are missing and none failed.
Status outcomeOf(const Transaction& tx, const netlink::AckTable& acks, const std::string& what);

// A table the fence's sets live in: NFPROTO_* and its nft name ("arp", "inet").
struct Family {
  int family;
  const char* name;
};

// What one slot write is: in each table, flush `set`, then add the interval [0, deadlineNs) of
// `meta time` with the kernel timeout `timeoutMs`.
Transaction writeSlot(std::uint32_t first, const std::string& table,
                      std::span<const Family> families, const std::string& set,
                      std::uint64_t timeoutMs, std::uint64_t deadlineNs);

// What a close is: in each table, flush both slot sets.
Transaction flushSlots(std::uint32_t first, const std::string& table,
                       std::span<const Family> families, const std::string& setA,
                       const std::string& setB);

}  // namespace quorate::kernel::nft
