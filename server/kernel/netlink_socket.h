// Internal to quorate_kernel: one libnl NETLINK_ROUTE request socket that keeps the kernel's
// own errno (and extended-ack text) of the last failed request, which libnl would otherwise
// fold into its coarser NLE_* codes. Header-only so netlink_vips.cc and netlink_links.cc share it.
#pragma once

#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "common/status.h"
#include "server/kernel/netlink_message.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace quorate::kernel {

// The errno closest to a libnl error code, for failures the kernel did not report itself.
inline int errnoFromNlError(int nlErr) {
  switch (nlErr < 0 ? -nlErr : nlErr) {
    case NLE_NOMEM:
      return ENOMEM;
    case NLE_NODEV:
      return ENODEV;
    case NLE_OBJ_NOTFOUND:
      return ENOENT;
    case NLE_EXIST:
      return EEXIST;
    case NLE_INVAL:
      return EINVAL;
    case NLE_RANGE:
      return ERANGE;
    case NLE_AGAIN:
      return EAGAIN;
    case NLE_INTR:
      return EINTR;
    case NLE_DUMP_INTR:
      return EINTR;
    case NLE_PERM:
      return EPERM;
    case NLE_NOACCESS:
      return EACCES;
    case NLE_BAD_SOCK:
      return EBADF;
    case NLE_OPNOTSUPP:
      return EOPNOTSUPP;
    case NLE_AF_NOSUPPORT:
      return EAFNOSUPPORT;
    case NLE_NOADDR:
      return EADDRNOTAVAIL;
    case NLE_BUSY:
      return EBUSY;
    case NLE_MSGSIZE:
      return EMSGSIZE;
    case NLE_MSG_TRUNC:
      return EMSGSIZE;
    default:
      return EIO;
  }
}

// Owns one nl_sock. Connects lazily (so a failed connect is retried by the next request) and
// drops the socket after a transport failure (sequence mismatch, truncation, ...), since unread
// replies may be left in it; the next request reconnects, in the thread's network namespace of
// that moment. Not thread-safe.
class RouteSocket {
 public:
  RouteSocket() = default;
  RouteSocket(const RouteSocket&) = delete;
  RouteSocket& operator=(const RouteSocket&) = delete;
  ~RouteSocket() { close(); }

  // Connects if needed and clears the remembered error; call before each request.
  Status begin(const std::string& what) {
    lastErrno_ = 0;
    extack_.clear();
    if (sk_ != nullptr) return Status::ok();
    nl_sock* sk = nl_socket_alloc();
    if (sk == nullptr) return Status::fail(ENOMEM, what + ": netlink socket");
    int rc = nl_connect(sk, NETLINK_ROUTE);
    if (rc < 0) {
      nl_socket_free(sk);
      return Status::fail(errnoFromNlError(rc), what + ": netlink connect");
    }
    nl_socket_enable_msg_peek(sk);  // replies of any size
    nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, &RouteSocket::onError, this);
    int one = 1;  // best effort: the kernel's reason text, appended to failures
    (void)setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    sk_ = sk;
    return Status::ok();
  }

  nl_sock* get() const { return sk_; }

  // The errno of a failed libnl call `rc` (< 0): the kernel's if it sent one.
  int errnoOf(int rc) const { return lastErrno_ != 0 ? lastErrno_ : errnoFromNlError(rc); }

  // Turns libnl's return code into a Status naming `what`.
  Status check(int rc, const std::string& what) {
    if (rc >= 0) return Status::ok();
    if (lastErrno_ != 0) {
      return Status::fail(lastErrno_, extack_.empty() ? what : what + " [kernel: " + extack_ + "]");
    }
    int err = errnoFromNlError(rc);
    if (losesSync(rc)) close();
    // libnl's text only where the errno says less than it does.
    return Status::fail(err, err == EIO ? what + " [libnl: " + nl_geterror(rc) + "]" : what);
  }

 private:
  // Failures after which unread replies may still sit in the socket, or it may be broken.
  static bool losesSync(int rc) {
    switch (rc < 0 ? -rc : rc) {
      case NLE_SEQ_MISMATCH:
      case NLE_MSG_TRUNC:
      case NLE_MSG_OVERFLOW:
      case NLE_MSG_TOOSHORT:
      case NLE_MSGTYPE_NOSUPPORT:
      case NLE_BAD_SOCK:
      case NLE_AGAIN:
      case NLE_INTR:
      case NLE_NOMEM:
      case NLE_FAILURE:
        return true;
      default:
        return false;
    }
  }

  void close() {
    if (sk_ != nullptr) nl_socket_free(sk_);
    sk_ = nullptr;
  }

  // libnl calls this for every NLMSG_ERROR with a non-zero error; NL_STOP makes the request
  // fail with libnl's translation, and we keep the original.
  static int onError(sockaddr_nl* /*peer*/, nlmsgerr* e, void* arg) {
    auto* self = static_cast<RouteSocket*>(arg);
    self->lastErrno_ = e->error < 0 ? -e->error : e->error;
    self->extack_ = extackMessage(e);
    return NL_STOP;
  }

  // NLMSGERR_ATTR_MSG from the TLVs that follow the error when NETLINK_EXT_ACK is on; libnl
  // hands over the nlmsgerr, which sits right after its message's header.
  static std::string extackMessage(const nlmsgerr* e) {
    const auto* raw = reinterpret_cast<const std::uint8_t*>(e) - NLMSG_HDRLEN;
    netlink::Message m{};
    std::memcpy(&m.header, raw, sizeof m.header);
    if (m.header.nlmsg_len < NLMSG_HDRLEN) return {};
    m.payload =
        std::span<const std::uint8_t>(raw + NLMSG_HDRLEN, m.header.nlmsg_len - NLMSG_HDRLEN);
    return netlink::extackMessage(m);
  }

  nl_sock* sk_ = nullptr;
  int lastErrno_ = 0;
  std::string extack_;
};

}  // namespace quorate::kernel
