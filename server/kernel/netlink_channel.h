// One raw netlink socket for requests of our own bytes (netlink_message.h): sends one request or a
// batch in one sendmsg() and collects the replies and acks by sequence number (wrap included),
// with failures as quorate::Status. Used by IPVS (generic netlink) and the fence (nfnetlink).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/kernel/netlink_message.h"

namespace quorate::kernel::netlink {

// How acks of a batch arrive.
enum class Acks {
  // Each request is handled and acked on its own, possibly later than sendmsg() returns (generic
  // netlink): wait for every ack, up to the reply timeout each time the socket is idle.
  Eventually,
  // The kernel handles the whole batch inside sendmsg() and queues every ack before it returns
  // (nfnetlink): read what is there; wait briefly, once, only while no request has failed, since a
  // failed batch may leave the requests after the failure unacked.
  Queued,
};

struct ChannelOptions {
  int receiveBuffer = 0;                         // SO_RCVBUF(FORCE) in bytes; 0 keeps the default
  std::size_t receiveChunk = 64 << 10;           // bytes per recv(): the largest datagram expected
  std::chrono::milliseconds replyTimeout{5000};  // Acks::Eventually, exchange()
  std::chrono::milliseconds queuedGrace{100};    // Acks::Queued
  // Close the socket after a transport failure, for an owner that reopens it lazily: unread
  // replies may still sit in it. Off, the socket stays (and stays in its network namespace).
  bool closeOnTransportFailure = false;
};

// Owns one socket of one netlink protocol, in the network namespace of the thread that opened it.
// A transport failure (send, receive, timeout, truncation) is returned as a Status whose errno is
// that of the transport; the socket then stays open (stale replies are told apart by sequence
// number) unless ChannelOptions::closeOnTransportFailure. Not thread-safe.
class Channel {
 public:
  explicit Channel(int protocol, ChannelOptions options = {});
  ~Channel() { close(); }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Opens the socket if it is not open (bound, NETLINK_CAP_ACK: a failure's ack carries the
  // request's header only, so a batch's acks stay small; NETLINK_EXT_ACK where the kernel has
  // it: the kernel's reason text comes with its errors).
  Status open(const std::string& what);
  bool isOpen() const { return fd_ >= 0; }
  void close();

  // Reserves `count` consecutive sequence numbers; returns the first. Wraps past 2^32.
  std::uint32_t reserve(std::uint32_t count = 1) {
    const std::uint32_t first = seq_ + 1;
    seq_ += count;
    return first;
  }

  // Sends `request` (whose messages carry first, first + 1, ... first + count - 1) and collects
  // their acks: the table of errnos, or the transport failure (`what` names the operation; a
  // receive failure says the outcome is unknown: the kernel may have applied the requests).
  // The first `quietHead` requests are acked only if they fail (see AckTable).
  Result<AckTable> sendBatch(std::span<const std::uint8_t> request, std::uint32_t first,
                             std::size_t count, Acks acks, const std::string& what,
                             std::size_t quietHead = 0);

  // Sends one request carrying `seq` and passes each data message of its reply to `onMessage`
  // until the ack or the end of a dump; after a failure of `onMessage` the rest of the dump is
  // read and dropped. The kernel's error, or the first of `onMessage`, is the result.
  using OnMessage = std::function<Status(const Message&)>;
  Status exchange(std::span<const std::uint8_t> request, std::uint32_t seq, const std::string& what,
                  const OnMessage& onMessage);

 private:
  Status send(std::span<const std::uint8_t> bytes, const std::string& what);
  Status transportFailure(int err, std::string what);
  // One datagram, waiting up to `wait` (zero: not at all). An empty span: nothing arrived.
  Result<std::span<const std::uint8_t>> receive(std::chrono::milliseconds wait,
                                                const std::string& what);

  int protocol_;
  ChannelOptions options_;
  int fd_ = -1;
  std::uint32_t seq_ = 0;
  std::vector<std::uint8_t> buffer_;
};

// The id of generic netlink family `name` (ENOENT when this kernel has none of that name).
Result<std::uint16_t> resolveGenlFamily(Channel& genl, const std::string& name);

}  // namespace quorate::kernel::netlink
