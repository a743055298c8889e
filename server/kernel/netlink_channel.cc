// One raw netlink socket: batches, acks by sequence number, dumps (see netlink_channel.h).
#include "server/kernel/netlink_channel.h"

#include <linux/genetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace quorate::kernel::netlink {

Channel::Channel(int protocol, ChannelOptions options)
    : protocol_(protocol), options_(options), buffer_(options.receiveChunk) {}

Status Channel::open(const std::string& what) {
  if (fd_ >= 0) return Status::ok();
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol_);
  if (fd < 0) return Status::fail(errno, what + ": netlink socket");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  int one = 1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::fail(err, what + ": netlink socket");
  }
  // Best effort: the kernel's reason text, appended to its errors.
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  if (int size = options_.receiveBuffer; size > 0) {
    // FORCE needs CAP_NET_ADMIN; without it the plain option still gets what the limit allows.
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
      (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
  }
  fd_ = fd;
  return Status::ok();
}

void Channel::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status Channel::transportFailure(int err, std::string what) {
  if (options_.closeOnTransportFailure) close();
  return Status::fail(err, std::move(what));
}

Status Channel::send(std::span<const std::uint8_t> bytes, const std::string& what) {
  if (fd_ < 0) return Status::fail(EBADF, what + ": netlink socket not open");
  // An encoder that overflowed a length field hands over nothing (see ipvs_messages finish()).
  if (bytes.size() < NLMSG_HDRLEN) {
    return Status::fail(EMSGSIZE, what + ": message too long for a netlink length field");
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return transportFailure(errno, what + ": send");
  if (static_cast<std::size_t>(n) != bytes.size()) {
    return transportFailure(EMSGSIZE, what + ": short send");
  }
  return Status::ok();
}

Result<std::span<const std::uint8_t>> Channel::receive(std::chrono::milliseconds wait,
                                                       const std::string& what) {
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n >= 0) {
      // MSG_TRUNC: the datagram's real length, so one larger than the buffer is seen, not parsed.
      if (static_cast<std::size_t>(n) > buffer_.size()) {
        return transportFailure(EMSGSIZE, what + ": reply larger than the receive buffer");
      }
      return std::span<const std::uint8_t>(buffer_.data(), static_cast<std::size_t>(n));
    }
    if (errno == EINTR) continue;
    // ENOBUFS: the socket overflowed and replies were lost.
    if (errno != EAGAIN && errno != EWOULDBLOCK) return transportFailure(errno, what + ": receive");
    if (wait.count() <= 0) return std::span<const std::uint8_t>();
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(wait.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return transportFailure(errno, what + ": poll");
    if (r == 0) return std::span<const std::uint8_t>();
    wait = std::chrono::milliseconds(0);  // readable now: one more try, without waiting again
  }
}

Result<AckTable> Channel::sendBatch(std::span<const std::uint8_t> request, std::uint32_t first,
                                    std::size_t count, Acks acks, const std::string& what,
                                    std::size_t quietHead) {
  if (auto s = send(request, what); !s) return s;
  AckTable table(first, count, quietHead);
  bool waited = false;
  while (!table.complete()) {
    auto got = receive(std::chrono::milliseconds(0), what);
    if (got && got->empty()) {
      if (acks == Acks::Eventually) {
        got = receive(options_.replyTimeout, what);
        if (got && got->empty()) {
          return transportFailure(ETIMEDOUT, what + ": no reply from the kernel (outcome unknown)");
        }
      } else if (!waited && table.failures() == 0) {
        waited = true;
        got = receive(options_.queuedGrace, what);
        if (got && got->empty()) break;
      } else {
        break;  // Queued: every ack the kernel will send has been read
      }
    }
    if (!got) {
      return got.status().withWhat(got.status().what() + " (outcome unknown)");
    }
    table.record(*got);
  }
  return table;
}

Status Channel::exchange(std::span<const std::uint8_t> request, std::uint32_t seq,
                         const std::string& what, const OnMessage& onMessage) {
  if (auto s = send(request, what); !s) return s;
  Status result;
  for (;;) {
    auto got = receive(options_.replyTimeout, what);
    if (!got) return got.status();
    if (got->empty()) return transportFailure(ETIMEDOUT, what + ": no reply from the kernel");
    bool finished = false;
    const bool whole = forEachMessage(*got, [&](const Message& m) {
      if (m.header.nlmsg_seq != seq) return true;  // a late reply of an abandoned request
      if (m.header.nlmsg_type == NLMSG_DONE) {
        finished = true;
        return false;
      }
      if (auto err = ackError(m)) {
        if (*err != 0) result = Status::fail(*err, withReason(what, extackMessage(m)));
        finished = true;
        return false;
      }
      if (m.header.nlmsg_type == NLMSG_ERROR) return true;  // too short to read
      if (onMessage && result) result = onMessage(m);
      if (!(m.header.nlmsg_flags & NLM_F_MULTI)) {
        finished = true;
        return false;
      }
      return true;
    });
    if (finished) return result;
    if (!whole) return transportFailure(EPROTO, what + ": malformed reply");
  }
}

Result<std::uint16_t> resolveGenlFamily(Channel& genl, const std::string& name) {
  const std::string what = "resolve generic netlink family \"" + name + "\"";
  if (auto s = genl.open(what); !s) return s;
  std::optional<std::uint16_t> id;
  const std::uint32_t seq = genl.reserve();
  auto s = genl.exchange(genl::getFamily(seq, name), seq, what, [&](const Message& m) {
    if (m.header.nlmsg_type != GENL_ID_CTRL || m.payload.size() < GENL_HDRLEN) {
      return Status::fail(EPROTO, what + ": unexpected reply");
    }
    id = genl::familyIdOf(m.payload.subspan(GENL_HDRLEN));
    return Status::ok();
  });
  if (!s) return s;
  if (!id) return Status::fail(EPROTO, what + ": reply without a family id");
  return *id;
}

}  // namespace quorate::kernel::netlink
