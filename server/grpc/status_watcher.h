// WatchStatus: one write reactor per open stream, and the set of them that status goes to.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "quorate/v1/quorate.grpc.pb.h"

namespace quorate::server {

class StatusWatcher;

// The open WatchStatus streams. Thread-safe.
class StatusWatchers {
 public:
  // Asked (on a gRPC thread) to send the current state to a new watcher, with publishTo().
  using WantsCurrent = std::function<void(StatusWatcher*)>;
  // `limit`: streams open at once; reserve() refuses more.
  explicit StatusWatchers(WantsCurrent wantsCurrent, std::size_t limit = 64)
      : wantsCurrent_(std::move(wantsCurrent)), limit_(limit) {}

  // Takes a slot for a new stream, or false when `limit` are open. A StatusWatcher takes one
  // over (its add() needs no slot of its own; its remove() gives it back).
  bool reserve();
  std::size_t limit() const { return limit_; }
  void setLimit(std::size_t limit);
  std::size_t size() const;

  void add(StatusWatcher* w);
  void remove(StatusWatcher* w);
  bool empty() const;
  // To every watcher that has not seen this version yet.
  void publish(const v1::StatusReply& r);
  // To `w`, if it is still open and has not seen this version yet.
  void publishTo(StatusWatcher* w, const v1::StatusReply& r);

 private:
  WantsCurrent wantsCurrent_;
  mutable std::mutex mu_;
  std::size_t limit_;
  std::size_t slots_ = 0;                             // reserved, watchers included
  std::map<StatusWatcher*, std::uint64_t> watchers_;  // -> the last version it was given
};

// Streams a StatusReply at every change of state; coalesces when the client is slow.
class StatusWatcher final : public grpc::ServerWriteReactor<v1::StatusReply> {
 public:
  // Call after set.reserve() returned true.
  explicit StatusWatcher(StatusWatchers& set);

  // Called with the set's lock held.
  void push(const v1::StatusReply& r);
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void writeNext();
  void finish(const grpc::Status& s);

  StatusWatchers& set_;
  std::mutex mu_;
  bool writing_ = false;
  bool finished_ = false;
  std::optional<v1::StatusReply> pending_;
  v1::StatusReply current_;
};

}  // namespace quorate::server
