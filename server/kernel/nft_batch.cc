// Raw nf_tables batches: message building and the socket that sends them.
#include "server/kernel/nft_batch.h"

#include <arpa/inet.h>
#include <endian.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace quorate::kernel::nft {
namespace {

// Appends to `buf`, padded to the netlink alignment.
void appendAligned(Bytes& buf, const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  buf.insert(buf.end(), b, b + n);
  buf.resize(NLMSG_ALIGN(buf.size()), 0);
}

void putAttr(Bytes& buf, int type, const void* p, std::size_t n) {
  nlattr a{};
  a.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + n);
  a.nla_type = static_cast<std::uint16_t>(type);
  appendAligned(buf, &a, sizeof a);
  appendAligned(buf, p, n);
}

std::size_t openNest(Bytes& buf, int type) {
  std::size_t at = buf.size();
  nlattr a{};
  a.nla_type = static_cast<std::uint16_t>(type | NLA_F_NESTED);
  appendAligned(buf, &a, sizeof a);
  return at;
}

void closeNest(Bytes& buf, std::size_t at) {
  auto len = static_cast<std::uint16_t>(buf.size() - at);
  std::memcpy(&buf[at], &len, sizeof len);  // nla_len is the first field
}

}  // namespace

// ---- Batch ----

Batch::Batch(std::uint32_t base) : base_(base) {
  header(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, base_);
  finish();
}

void Batch::message(int msgType, int flags, int family, std::string text) {
  header((NFNL_SUBSYS_NFTABLES << 8) | msgType, NLM_F_REQUEST | NLM_F_ACK | flags, family, 0,
         base_ + 1 + static_cast<std::uint32_t>(texts_.size()));
  texts_.push_back(std::move(text));
}

void Batch::setElements(bool create, int family, const std::string& table, const std::string& set,
                        const std::vector<Element>& elements, std::string text) {
  message(create ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, create ? NLM_F_CREATE : 0, family,
          std::move(text));
  str(NFTA_SET_ELEM_LIST_TABLE, table);
  str(NFTA_SET_ELEM_LIST_SET, set);
  if (!elements.empty()) {
    std::size_t list = nest(NFTA_SET_ELEM_LIST_ELEMENTS);
    for (const auto& e : elements) {
      std::size_t one = nest(NFTA_LIST_ELEM);
      data(NFTA_SET_ELEM_KEY, e.key);
      if (e.flags != 0) {
        std::uint32_t be = htonl(e.flags);
        attr(NFTA_SET_ELEM_FLAGS, &be, sizeof be);
      }
      if (e.timeoutMs) {
        std::uint64_t be = htobe64(*e.timeoutMs);
        attr(NFTA_SET_ELEM_TIMEOUT, &be, sizeof be);
      }
      end(one);
    }
    end(list);
  }
  finish();
}

const Bytes& Batch::done() {
  header(NFNL_MSG_BATCH_END, NLM_F_REQUEST, AF_UNSPEC, NFNL_SUBSYS_NFTABLES,
         base_ + 1 + static_cast<std::uint32_t>(texts_.size()));
  finish();
  return buf_;
}

void Batch::header(int type, int flags, int family, int resId, std::uint32_t seq) {
  msg_ = buf_.size();
  nlmsghdr h{};
  h.nlmsg_type = static_cast<std::uint16_t>(type);
  h.nlmsg_flags = static_cast<std::uint16_t>(flags);
  h.nlmsg_seq = seq;
  append(&h, sizeof h);
  nfgenmsg g{};
  g.nfgen_family = static_cast<std::uint8_t>(family);
  g.version = NFNETLINK_V0;
  g.res_id = htons(static_cast<std::uint16_t>(resId));
  append(&g, sizeof g);
}

void Batch::finish() {
  auto len = static_cast<std::uint32_t>(buf_.size() - msg_);
  std::memcpy(&buf_[msg_], &len, sizeof len);  // nlmsg_len is the first field
}

void Batch::append(const void* p, std::size_t n) { appendAligned(buf_, p, n); }
void Batch::attr(int type, const void* p, std::size_t n) { putAttr(buf_, type, p, n); }
std::size_t Batch::nest(int type) { return openNest(buf_, type); }
void Batch::end(std::size_t at) { closeNest(buf_, at); }

void Batch::data(int type, const Bytes& value) {
  std::size_t d = nest(type);
  attr(NFTA_DATA_VALUE, value.data(), value.size());
  end(d);
}

// ---- Socket ----

Socket::Socket() {
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd_ < 0) {
    openErr_ = errno;
    return;
  }
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  // Acks without the request echoed back: a batch stays small.
  int one = 1;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one) != 0) {
    openErr_ = errno;
    ::close(fd_);
    fd_ = -1;
  }
}

Socket::~Socket() {
  if (fd_ >= 0) ::close(fd_);
}

int Socket::openError() const { return fd_ < 0 ? (openErr_ != 0 ? openErr_ : EBADF) : 0; }

Outcome Socket::talk(Batch& batch) {
  Outcome out;
  const Bytes& buf = batch.done();
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t n =
      sendto(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  if (n != static_cast<ssize_t>(buf.size())) {
    out.err = n < 0 ? errno : EMSGSIZE;
    out.failed = batch.messages();
    return out;
  }
  // Sequence numbers wrap (a busy director with many leases gets there in weeks): compare
  // offsets from the batch header, not the numbers themselves.
  const std::uint32_t first = batch.base();
  const auto span = static_cast<std::uint32_t>(batch.messages());
  std::vector<bool> acked(batch.messages(), false);
  std::size_t missing = batch.messages();
  alignas(nlmsghdr) std::uint8_t rx[8192];
  bool waited = false;
  while (missing > 0) {
    ssize_t r = recv(fd_, rx, sizeof rx, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (out.err != 0 || waited) break;  // a failed batch may leave some messages unacked
      pollfd p{fd_, POLLIN, 0};
      waited = true;
      if (poll(&p, 1, 100) <= 0) break;
      continue;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      out.err = errno;  // ENOBUFS: acks lost
      out.failed = batch.messages();
      out.uncertain = true;
      return out;
    }
    auto len = static_cast<std::size_t>(r);
    for (auto* h = reinterpret_cast<nlmsghdr*>(rx); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq - first > span) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) continue;
      const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
      // Sequence `first` is the batch header: the whole batch failed (commit, memory).
      const std::size_t i = h->nlmsg_seq == first ? batch.messages() : h->nlmsg_seq - first - 1;
      if (i < acked.size() && !acked[i]) {
        acked[i] = true;
        --missing;
      }
      if (e->error != 0) {
        ++out.errors;
        if (out.err == 0 || i < out.failed) {
          out.err = -e->error;
          out.failed = i;
        }
      }
    }
  }
  if (out.err == 0 && missing > 0) {
    out.err = EIO;
    out.failed = batch.messages();
    out.uncertain = true;
  }
  return out;
}

}  // namespace quorate::kernel::nft
