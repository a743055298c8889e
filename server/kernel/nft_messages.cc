// nf_tables transactions as bytes (see nft_messages.h).
#include "server/kernel/nft_messages.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <utility>

namespace quorate::kernel::nft {
namespace {

Bytes be64(std::uint64_t v) {
  Bytes b(8);
  for (int k = 7; k >= 0; --k) {
    b[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(v & 0xff);
    v >>= 8;
  }
  return b;
}

std::string where(const Family& f, const std::string& table) {
  return std::string(f.name) + " " + table + " ";
}

}  // namespace

TransactionBuilder::TransactionBuilder(std::uint32_t first) : first_(first) {
  nfgen(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, first_);
  b_.end();
}

void TransactionBuilder::nfgen(std::uint16_t type, std::uint16_t flags, int family,
                               std::uint16_t resId, std::uint32_t seq) {
  nfgenmsg g{};
  g.nfgen_family = static_cast<std::uint8_t>(family);
  g.version = NFNETLINK_V0;
  g.res_id = htons(resId);
  b_.begin(type, flags, seq, g);
}

void TransactionBuilder::setElements(bool create, int family, const std::string& table,
                                     const std::string& set, const std::vector<Element>& elements,
                                     std::string text) {
  const auto seq = first_ + 1 + static_cast<std::uint32_t>(texts_.size());
  const int type = create ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM;
  nfgen(static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type),
        NLM_F_REQUEST | NLM_F_ACK | (create ? NLM_F_CREATE : 0), family, 0, seq);
  texts_.push_back(std::move(text));
  b_.string(NFTA_SET_ELEM_LIST_TABLE, table);
  b_.string(NFTA_SET_ELEM_LIST_SET, set);
  if (!elements.empty()) {
    const std::size_t list = b_.nest(NLA_F_NESTED | NFTA_SET_ELEM_LIST_ELEMENTS);
    for (const auto& e : elements) {
      const std::size_t one = b_.nest(NLA_F_NESTED | NFTA_LIST_ELEM);
      const std::size_t key = b_.nest(NLA_F_NESTED | NFTA_SET_ELEM_KEY);
      b_.attr(NFTA_DATA_VALUE, e.key.data(), e.key.size());
      b_.endNest(key);
      if (e.flags != 0) b_.be32(NFTA_SET_ELEM_FLAGS, e.flags);
      if (e.timeoutMs) b_.be64(NFTA_SET_ELEM_TIMEOUT, *e.timeoutMs);
      b_.endNest(one);
    }
    b_.endNest(list);
  }
  b_.end();
}

Transaction TransactionBuilder::finish() && {
  nfgen(NFNL_MSG_BATCH_END, NLM_F_REQUEST, AF_UNSPEC, NFNL_SUBSYS_NFTABLES,
        first_ + 1 + static_cast<std::uint32_t>(texts_.size()));
  b_.end();
  Transaction t;
  t.ok = b_.ok();
  t.bytes = std::move(b_).take();
  t.first = first_;
  t.texts = std::move(texts_);
  return t;
}

Status outcomeOf(const Transaction& tx, const netlink::AckTable& acks, const std::string& what) {
  // Index 0 is the batch header; message i is index i + 1. A failed message names the failure
  // better than the header's refusal of the batch that follows from it.
  const std::vector<int>& errs = acks.errors();
  std::size_t failed = 0;
  for (std::size_t i = 1; i < errs.size() && failed == 0; ++i) failed = errs[i] > 0 ? i : 0;
  if (failed == 0 && (errs.empty() || errs[0] <= 0)) {
    if (acks.complete()) return Status::ok();
    return Status::fail(EIO, what + ": the batch (outcome unknown)");
  }
  std::string text =
      failed > 0 && failed - 1 < tx.texts.size() ? tx.texts[failed - 1] : std::string("the batch");
  if (const std::size_t n = acks.failures(); n > 1)
    text += " (+" + std::to_string(n - 1) + " more)";
  return Status::fail(errs[failed], netlink::withReason(what + ": " + text, acks.reason(failed)));
}

Transaction writeSlot(std::uint32_t first, const std::string& table,
                      std::span<const Family> families, const std::string& set,
                      std::uint64_t timeoutMs, std::uint64_t deadlineNs) {
  TransactionBuilder b(first);
  for (const Family& f : families) {
    b.setElements(false, f.family, table, set, {}, "flush set " + where(f, table) + set);
    b.setElements(
        true, f.family, table, set,
        {{be64(0), timeoutMs, 0}, {be64(deadlineNs), std::nullopt, NFT_SET_ELEM_INTERVAL_END}},
        "add element " + where(f, table) + set + " { 0-" + std::to_string(deadlineNs) +
            "ns timeout " + std::to_string(timeoutMs) + "ms }");
  }
  return std::move(b).finish();
}

Transaction flushSlots(std::uint32_t first, const std::string& table,
                       std::span<const Family> families, const std::string& setA,
                       const std::string& setB) {
  TransactionBuilder b(first);
  for (const Family& f : families) {
    for (const std::string* set : {&setA, &setB}) {
      b.setElements(false, f.family, table, *set, {}, "flush set " + where(f, table) + *set);
    }
  }
  return std::move(b).finish();
}

}  // namespace quorate::kernel::nft
