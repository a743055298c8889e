// Raw nf_tables batches over nfnetlink: one transaction of set-element messages built here, sent
// in one sendmsg(), with one ack per message. Used by the fence for the changes it makes at every
// renewal (nft's language cannot say `meta time` in nanoseconds, and its parser is the slow part).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace quorate::kernel::nft {

using Bytes = std::vector<std::uint8_t>;

// A set element as sent: key, optional timeout (milliseconds, counted by the kernel), and
// NFT_SET_ELEM_* flags (NFT_SET_ELEM_INTERVAL_END: the first key after an interval).
struct Element {
  Bytes key;
  std::optional<std::uint64_t> timeoutMs;
  std::uint32_t flags = 0;
};

// One batch; message i (0-based) carries sequence number base + 1 + i. `text` of each message
// says it in nft syntax, for error messages.
class Batch {
 public:
  explicit Batch(std::uint32_t base);

  // NEWSETELEM (create) or DELSETELEM of `elements`; no elements on delete flushes the set.
  void setElements(bool create, int family, const std::string& table, const std::string& set,
                   const std::vector<Element>& elements, std::string text);
  // Closes the batch; the buffer is then ready to send.
  const Bytes& done();
  std::uint32_t base() const { return base_; }
  std::size_t messages() const { return texts_.size(); }
  const std::string& text(std::size_t i) const { return texts_.at(i); }

 private:
  void header(int type, int flags, int family, int resId, std::uint32_t seq);
  void message(int msgType, int flags, int family, std::string text);
  void finish();
  void append(const void* p, std::size_t n);
  void attr(int type, const void* p, std::size_t n);
  void str(int type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
  void data(int type, const Bytes& value);
  std::size_t nest(int type);
  void end(std::size_t at);

  std::uint32_t base_;
  std::size_t msg_ = 0;
  Bytes buf_;
  std::vector<std::string> texts_;
};

// What the kernel said about a batch.
struct Outcome {
  int err = 0;             // first error, 0 on success
  std::size_t failed = 0;  // index of the failed message (messages() for the batch itself)
  int errors = 0;          // how many messages failed
  bool uncertain = false;  // the outcome could not be read: the batch may have committed
};

// A NETLINK_NETFILTER socket in the network namespace of the thread that opened it.
class Socket {
 public:
  Socket();
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // 0, or the errno that kept the socket from opening.
  int openError() const;
  // Sends the batch and collects one ack per message. nfnetlink handles a batch inside
  // sendmsg() and queues every ack before returning, so the replies are read without waiting;
  // a short poll only guards against a kernel that would not.
  Outcome talk(Batch& batch);

 private:
  int fd_ = -1;
  int openErr_ = 0;
};

}  // namespace quorate::kernel::nft
