// The operator API's Unix socket: accepts connections itself to learn each peer's credentials,
// then hands the descriptor to gRPC.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/status.h"
#include "server/grpc/operator_auth.h"

namespace quorate::server {

class UnixOperatorListener {
 public:
  // `maxConnections`: connections handed to gRPC and still open; a connection beyond them is
  // closed at once.
  UnixOperatorListener(std::string path, std::optional<gid_t> group, int maxConnections);
  ~UnixOperatorListener();
  UnixOperatorListener(const UnixOperatorListener&) = delete;
  UnixOperatorListener& operator=(const UnixOperatorListener&) = delete;

  // Creates the socket: refuses a directory others may write to, removes a stale socket only
  // if nothing answers on it, binds, sets the mode (0600, or 0660 with the group) and listens.
  Status open();
  // Accepts on a thread of its own, handing connections to `server` (built and started).
  void start(grpc::Server* server);
  // Stops accepting and removes the socket file. Connections already handed over stay with
  // gRPC (its Shutdown() closes them). Idempotent.
  void stop();

  // The credentials behind a call whose ServerContext::peer() is `peer` ("fd:<n>"), if that
  // descriptor is still the connection this listener accepted.
  std::optional<Caller> callerOf(std::string_view peer) const;

  // Connections handed over that gRPC has not closed yet.
  std::size_t openConnections() const;
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  const std::string& path() const { return path_; }

 private:
  struct Conn {
    ino_t inode;  // the socket's: a reused descriptor number points at another inode
    Caller caller;
  };
  void run();
  void acceptOne();
  // With mu_ held: drops the connections gRPC has closed.
  void sweep();
  bool live(int fd, const Conn& c) const;

  std::string path_;
  std::optional<gid_t> group_;
  int maxConnections_;
  int listenFd_ = -1;
  int wakeFd_ = -1;  // eventfd: stop() wakes the accept thread
  grpc::Server* server_ = nullptr;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<int, Conn> conns_;  // by descriptor number
  std::atomic<std::uint64_t> refused_{0};
};

// Caller from a call's context: a TLS client's verified certificate, else the socket's
// credentials (`socket` may be null), else an unknown caller (no role).
Caller callerOf(const grpc::ServerContextBase& ctx, const UnixOperatorListener* socket);

}  // namespace quorate::server
