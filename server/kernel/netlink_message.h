// Netlink messages as bytes, for every kernel family quorate speaks raw (generic netlink for
// IPVS, nfnetlink for the fence): a builder of one message or a batch of them (headers, typed
// attributes, nests, padding) and bounds-checked parsers of messages and attributes.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace quorate::kernel::netlink {

using Bytes = std::vector<std::uint8_t>;

// Appends netlink messages back to back to one buffer: begin() a message (nlmsghdr and the
// family's own header), add attributes and nests, end() it; then begin() the next one for a
// batch. Nests are opened by nest() and closed by endNest() in reverse order; nest types are
// written as given (IPVS nests carry no NLA_F_NESTED, nf_tables ones do).
class MessageBuilder {
 public:
  // Starts a message: `familyHeader` (genlmsghdr, nfgenmsg, ...) follows the nlmsghdr.
  template <class FamilyHeader>
  void begin(std::uint16_t type, std::uint16_t flags, std::uint32_t seq, const FamilyHeader& fh) {
    beginRaw(type, flags, seq, &fh, sizeof fh);
  }
  void beginRaw(std::uint16_t type, std::uint16_t flags, std::uint32_t seq,
                const void* familyHeader, std::size_t len);
  // Writes the current message's length; the buffer then holds whole messages only.
  void end();

  void attr(std::uint16_t type, const void* data, std::size_t len);
  void u8(std::uint16_t type, std::uint8_t v) { attr(type, &v, sizeof v); }
  void u16(std::uint16_t type, std::uint16_t v) { attr(type, &v, sizeof v); }  // host order
  void u32(std::uint16_t type, std::uint32_t v) { attr(type, &v, sizeof v); }  // host order
  void be16(std::uint16_t type, std::uint16_t host);
  void be32(std::uint16_t type, std::uint32_t host);
  void be64(std::uint16_t type, std::uint64_t host);
  // NUL-terminated, as the kernel's NLA_NUL_STRING and NLA_STRING policies both accept.
  void string(std::uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }

  // Opens a nest; returns the handle endNest() takes.
  std::size_t nest(std::uint16_t type);
  void endNest(std::size_t at);

  // False once an attribute, nest or message outgrew its length field (64 KiB for an attribute):
  // the bytes are then not a valid message and must not be sent.
  bool ok() const { return ok_; }
  std::size_t messages() const { return messages_; }
  const Bytes& bytes() const { return bytes_; }
  Bytes take() && { return std::move(bytes_); }

 private:
  void put(const void* p, std::size_t n);
  void pad() { bytes_.resize(NLA_ALIGN(bytes_.size()), 0); }

  Bytes bytes_;
  std::size_t message_ = 0;  // where the current message starts
  std::size_t messages_ = 0;
  bool ok_ = true;
};

// The attributes of one level, indexed by type (the last of a type wins, as in the kernel's
// nla_parse); types at or above `maxType` + 1 are skipped.
class Attributes {
 public:
  // Empty when an attribute overruns `data` or is shorter than its own header.
  static std::optional<Attributes> parse(std::span<const std::uint8_t> data, std::uint16_t maxType);

  bool has(std::size_t type) const { return type < v_.size() && v_[type].has_value(); }
  std::span<const std::uint8_t> raw(std::size_t type) const {
    return has(type) ? *v_[type] : std::span<const std::uint8_t>();
  }
  // The value in host layout; empty when absent or shorter than T.
  template <class T>
  std::optional<T> get(std::size_t type) const {
    if (!has(type) || v_[type]->size() < sizeof(T)) return std::nullopt;
    T out;
    std::memcpy(&out, v_[type]->data(), sizeof out);
    return out;
  }
  // Up to the first NUL or the attribute's end.
  std::optional<std::string> string(std::size_t type) const;

 private:
  std::vector<std::optional<std::span<const std::uint8_t>>> v_;
};

// One message of a received datagram: its header and what follows the header.
struct Message {
  nlmsghdr header;
  std::span<const std::uint8_t> payload;
};

// Calls `fn` for every whole message in `datagram`, in order, until it returns false; stops at
// the first header that overruns the datagram. False when it stopped on a malformed header.
bool forEachMessage(std::span<const std::uint8_t> datagram,
                    const std::function<bool(const Message&)>& fn);

// The errno of an NLMSG_ERROR message (0: an acknowledgement); empty if it is too short.
std::optional<int> ackError(const Message& m);

// The kernel's reason text of an NLMSG_ERROR message (NLMSGERR_ATTR_MSG, sent after the error
// when the socket has NETLINK_EXT_ACK on), or "" if there is none.
std::string extackMessage(const Message& m);

// "what [kernel: reason]", or `what` when the kernel gave no reason.
std::string withReason(const std::string& what, const std::string& reason);

// Matching acknowledgements to the requests of a batch, by sequence number: request i carries
// first + i (mod 2^32, so a batch may straddle the wrap). The first `quietHead` requests are acked
// only when they fail (an nfnetlink batch header): recorded, but never waited for.
class AckTable {
 public:
  static constexpr int kNoAck = -1;
  AckTable(std::uint32_t first, std::size_t count, std::size_t quietHead = 0)
      : first_(first), quietHead_(quietHead), errs_(count, kNoAck) {}

  // Records every ack of ours in `datagram` (the first one per request wins); other messages,
  // and acks of other sequence numbers (an abandoned request's), are ignored.
  void record(std::span<const std::uint8_t> datagram);
  // Requests not yet acked, the quiet head aside.
  std::size_t pending() const;
  bool complete() const { return pending() == 0; }
  // How many requests failed, and the first (lowest index) that did.
  std::size_t failures() const;
  std::optional<std::size_t> firstFailure() const;
  // 0, a positive errno, or kNoAck, per request.
  const std::vector<int>& errors() const { return errs_; }
  // The kernel's reason for request i's failure, "" if it gave none.
  std::string reason(std::size_t i) const;

 private:
  std::uint32_t first_;
  std::size_t quietHead_;
  std::vector<int> errs_;
  std::vector<std::pair<std::size_t, std::string>> reasons_;  // few: failures with a text
};

// Generic netlink's controller: the family id of a family name (CTRL_CMD_GETFAMILY).
namespace genl {
Bytes getFamily(std::uint32_t seq, const std::string& name);
// CTRL_ATTR_FAMILY_ID from the attributes of the controller's reply (after its genlmsghdr).
std::optional<std::uint16_t> familyIdOf(std::span<const std::uint8_t> attrs);
}  // namespace genl

}  // namespace quorate::kernel::netlink
