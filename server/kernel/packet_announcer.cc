// Announcer over one AF_PACKET raw socket: complete Ethernet frames out of a chosen interface.
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "server/kernel/announcer.h"

namespace quorate::kernel {
namespace {

class PacketAnnouncer final : public Announcer {
 public:
  explicit PacketAnnouncer(int fd) : fd_(fd) {}
  ~PacketAnnouncer() override { ::close(fd_); }
  PacketAnnouncer(const PacketAnnouncer&) = delete;
  PacketAnnouncer& operator=(const PacketAnnouncer&) = delete;

  Status send(int ifindex, const std::vector<std::uint8_t>& frame) override {
    const auto what = [&] {
      return "send " + std::to_string(frame.size()) + "-byte frame on ifindex " +
             std::to_string(ifindex);
    };
    if (frame.size() < ETH_HLEN) return Status::fail(EINVAL, what() + " (shorter than a header)");
    if (ifindex <= 0) return Status::fail(ENODEV, what());
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex;
    // The frame carries its own header; the kernel only needs the protocol for its taps.
    std::memcpy(&to.sll_protocol, frame.data() + 12, sizeof to.sll_protocol);
    to.sll_halen = ETH_ALEN;
    std::memcpy(to.sll_addr, frame.data(), ETH_ALEN);
    ssize_t n;
    do {
      n = ::sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                   sizeof to);
    } while (n < 0 && errno == EINTR);
    // ENXIO: no such interface; ENETDOWN: it is down; EMSGSIZE: larger than its MTU.
    if (n < 0) return Status::fail(errno, what());
    if (static_cast<std::size_t>(n) != frame.size()) {
      return Status::fail(EIO, what() + " (sent " + std::to_string(n) + ")");
    }
    return Status::ok();
  }

 private:
  int fd_;
};

}  // namespace

Result<std::unique_ptr<Announcer>> makePacketAnnouncer() {
  // Protocol 0: the socket only sends and never queues received frames.
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::fail(errno, "socket(AF_PACKET, SOCK_RAW) (needs CAP_NET_RAW)");
  return std::unique_ptr<Announcer>(std::make_unique<PacketAnnouncer>(fd));
}

}  // namespace quorate::kernel
