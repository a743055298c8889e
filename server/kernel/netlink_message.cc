// Netlink messages as bytes: the builder, the parsers and ack matching (see netlink_message.h).
#include "server/kernel/netlink_message.h"

#include <endian.h>
#include <linux/genetlink.h>

#include <limits>

namespace quorate::kernel::netlink {

// ---- MessageBuilder ----

void MessageBuilder::beginRaw(std::uint16_t type, std::uint16_t flags, std::uint32_t seq,
                              const void* familyHeader, std::size_t len) {
  message_ = bytes_.size();
  ++messages_;
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  h.nlmsg_seq = seq;
  put(&h, sizeof h);
  put(familyHeader, len);
  pad();
}

void MessageBuilder::end() {
  const std::size_t len = bytes_.size() - message_;
  if (len > std::numeric_limits<std::uint32_t>::max()) ok_ = false;
  const auto v = static_cast<std::uint32_t>(len);
  std::memcpy(bytes_.data() + message_ + offsetof(nlmsghdr, nlmsg_len), &v, sizeof v);
}

void MessageBuilder::attr(std::uint16_t type, const void* data, std::size_t len) {
  if (NLA_HDRLEN + len > std::numeric_limits<std::uint16_t>::max()) ok_ = false;
  nlattr a{};
  a.nla_type = type;
  a.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + len);
  put(&a, sizeof a);
  put(data, len);
  pad();
}

void MessageBuilder::be16(std::uint16_t type, std::uint16_t host) {
  const std::uint16_t v = htobe16(host);
  attr(type, &v, sizeof v);
}

void MessageBuilder::be32(std::uint16_t type, std::uint32_t host) {
  const std::uint32_t v = htobe32(host);
  attr(type, &v, sizeof v);
}

void MessageBuilder::be64(std::uint16_t type, std::uint64_t host) {
  const std::uint64_t v = htobe64(host);
  attr(type, &v, sizeof v);
}

std::size_t MessageBuilder::nest(std::uint16_t type) {
  const std::size_t at = bytes_.size();
  nlattr a{};
  a.nla_type = type;
  put(&a, sizeof a);
  return at;
}

void MessageBuilder::endNest(std::size_t at) {
  const std::size_t len = bytes_.size() - at;
  if (len > std::numeric_limits<std::uint16_t>::max()) ok_ = false;
  const auto v = static_cast<std::uint16_t>(len);
  std::memcpy(bytes_.data() + at + offsetof(nlattr, nla_len), &v, sizeof v);
}

void MessageBuilder::put(const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  bytes_.insert(bytes_.end(), b, b + n);
}

// ---- parsing ----

std::optional<Attributes> Attributes::parse(std::span<const std::uint8_t> data,
                                            std::uint16_t maxType) {
  Attributes a;
  a.v_.resize(static_cast<std::size_t>(maxType) + 1);
  std::size_t off = 0;
  while (off + NLA_HDRLEN <= data.size()) {
    nlattr h;
    std::memcpy(&h, data.data() + off, sizeof h);
    if (h.nla_len < NLA_HDRLEN || h.nla_len > data.size() - off) return std::nullopt;
    const std::uint16_t type = h.nla_type & NLA_TYPE_MASK;
    if (type <= maxType) a.v_[type] = data.subspan(off + NLA_HDRLEN, h.nla_len - NLA_HDRLEN);
    off += NLA_ALIGN(h.nla_len);
  }
  return a;
}

std::optional<std::string> Attributes::string(std::size_t type) const {
  if (!has(type)) return std::nullopt;
  const auto& s = *v_[type];
  std::size_t n = 0;
  while (n < s.size() && s[n] != 0) ++n;
  return std::string(reinterpret_cast<const char*>(s.data()), n);
}

bool forEachMessage(std::span<const std::uint8_t> datagram,
                    const std::function<bool(const Message&)>& fn) {
  std::size_t off = 0;
  while (datagram.size() - off >= NLMSG_HDRLEN) {
    Message m{};
    std::memcpy(&m.header, datagram.data() + off, sizeof m.header);
    const std::size_t len = m.header.nlmsg_len;
    if (len < NLMSG_HDRLEN || len > datagram.size() - off) return false;
    m.payload = datagram.subspan(off + NLMSG_HDRLEN, len - NLMSG_HDRLEN);
    if (!fn(m)) return true;
    off += NLMSG_ALIGN(len);
    if (off > datagram.size()) break;
  }
  return true;
}

std::optional<int> ackError(const Message& m) {
  if (m.header.nlmsg_type != NLMSG_ERROR || m.payload.size() < sizeof(nlmsgerr)) {
    return std::nullopt;
  }
  std::int32_t error;
  std::memcpy(&error, m.payload.data() + offsetof(nlmsgerr, error), sizeof error);
  if (error == 0) return 0;
  // The kernel sends -errno (errnos are below 4096). Anything else (a positive value, or one
  // whose negation overflows) is still a failure, never a success: a protocol error.
  constexpr std::int32_t kMaxErrno = 4095;
  if (error < 0 && error >= -kMaxErrno) return -error;
  return EPROTO;
}

std::string extackMessage(const Message& m) {
  if (m.header.nlmsg_type != NLMSG_ERROR || !(m.header.nlmsg_flags & NLM_F_ACK_TLVS) ||
      m.payload.size() < sizeof(nlmsgerr)) {
    return {};
  }
  // The TLVs follow the echoed request: its header only when capped, else all of it.
  std::size_t offset = sizeof(nlmsgerr);
  if (!(m.header.nlmsg_flags & NLM_F_CAPPED)) {
    std::uint32_t requestLen;
    std::memcpy(&requestLen, m.payload.data() + offsetof(nlmsgerr, msg.nlmsg_len),
                sizeof requestLen);
    if (requestLen < NLMSG_HDRLEN) return {};
    offset += NLMSG_ALIGN(requestLen - NLMSG_HDRLEN);
  }
  if (offset >= m.payload.size()) return {};
  const auto a = Attributes::parse(m.payload.subspan(offset), NLMSGERR_ATTR_MSG);
  if (!a) return {};
  return a->string(NLMSGERR_ATTR_MSG).value_or("");
}

std::string withReason(const std::string& what, const std::string& reason) {
  return reason.empty() ? what : what + " [kernel: " + reason + "]";
}

// ---- AckTable ----

void AckTable::record(std::span<const std::uint8_t> datagram) {
  (void)forEachMessage(datagram, [&](const Message& m) {
    const auto err = ackError(m);
    if (!err) return true;
    // Unsigned difference: the offset within the batch, right across the wrap.
    const std::uint32_t i = m.header.nlmsg_seq - first_;
    if (i < errs_.size() && errs_[i] == kNoAck) {
      errs_[i] = *err;
      if (*err != 0) {
        if (std::string why = extackMessage(m); !why.empty()) reasons_.emplace_back(i, why);
      }
    }
    return true;
  });
}

std::size_t AckTable::pending() const {
  std::size_t n = 0;
  for (std::size_t i = quietHead_; i < errs_.size(); ++i) n += errs_[i] == kNoAck ? 1 : 0;
  return n;
}

std::string AckTable::reason(std::size_t i) const {
  for (const auto& [at, why] : reasons_) {
    if (at == i) return why;
  }
  return {};
}

std::size_t AckTable::failures() const {
  std::size_t n = 0;
  for (int e : errs_) n += e > 0 ? 1 : 0;
  return n;
}

std::optional<std::size_t> AckTable::firstFailure() const {
  for (std::size_t i = 0; i < errs_.size(); ++i) {
    if (errs_[i] > 0) return i;
  }
  return std::nullopt;
}

// ---- generic netlink controller ----

namespace genl {

Bytes getFamily(std::uint32_t seq, const std::string& name) {
  MessageBuilder b;
  genlmsghdr g{};
  g.cmd = CTRL_CMD_GETFAMILY;
  g.version = 1;
  b.begin(GENL_ID_CTRL, NLM_F_REQUEST, seq, g);
  b.string(CTRL_ATTR_FAMILY_NAME, name);
  b.end();
  return std::move(b).take();
}

std::optional<std::uint16_t> familyIdOf(std::span<const std::uint8_t> attrs) {
  const auto a = Attributes::parse(attrs, CTRL_ATTR_FAMILY_NAME);
  if (!a) return std::nullopt;
  return a->get<std::uint16_t>(CTRL_ATTR_FAMILY_ID);
}

}  // namespace genl

}  // namespace quorate::kernel::netlink
