// The WatchStatus streams: a reactor per stream that keeps only the newest unsent state.
#include "server/grpc/status_watcher.h"

namespace quorate::server {

bool StatusWatchers::reserve() {
  std::lock_guard lock(mu_);
  if (slots_ >= limit_) return false;
  ++slots_;
  return true;
}

void StatusWatchers::setLimit(std::size_t limit) {
  std::lock_guard lock(mu_);
  limit_ = limit;
}

std::size_t StatusWatchers::size() const {
  std::lock_guard lock(mu_);
  return watchers_.size();
}

void StatusWatchers::add(StatusWatcher* w) {
  {
    std::lock_guard lock(mu_);
    watchers_.emplace(w, 0);
  }
  wantsCurrent_(w);
}

void StatusWatchers::remove(StatusWatcher* w) {
  std::lock_guard lock(mu_);
  if (watchers_.erase(w) > 0 && slots_ > 0) --slots_;
}

bool StatusWatchers::empty() const {
  std::lock_guard lock(mu_);
  return watchers_.empty();
}

void StatusWatchers::publish(const v1::StatusReply& r) {
  std::lock_guard lock(mu_);
  for (auto& [w, seen] : watchers_) {
    if (r.version() <= seen) continue;
    seen = r.version();
    w->push(r);
  }
}

void StatusWatchers::publishTo(StatusWatcher* w, const v1::StatusReply& r) {
  std::lock_guard lock(mu_);
  auto it = watchers_.find(w);
  // Gone meanwhile (the pointer may even be a new watcher's: then this is its current state).
  if (it == watchers_.end() || r.version() <= it->second) return;
  it->second = r.version();
  w->push(r);
}

StatusWatcher::StatusWatcher(StatusWatchers& set) : set_(set) { set_.add(this); }

void StatusWatcher::push(const v1::StatusReply& r) {
  std::lock_guard lock(mu_);
  if (finished_) return;
  pending_ = r;
  if (!writing_) writeNext();
}

void StatusWatcher::OnWriteDone(bool ok) {
  std::lock_guard lock(mu_);
  writing_ = false;
  if (!ok) {
    finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
    return;
  }
  if (pending_) writeNext();
}

void StatusWatcher::OnCancel() {
  std::lock_guard lock(mu_);
  finish(grpc::Status::CANCELLED);
}

void StatusWatcher::OnDone() {
  set_.remove(this);
  delete this;
}

void StatusWatcher::writeNext() {
  current_ = std::move(*pending_);
  pending_.reset();
  writing_ = true;
  StartWrite(&current_);
}

void StatusWatcher::finish(const grpc::Status& s) {
  if (finished_) return;
  finished_ = true;
  Finish(s);
}

}  // namespace quorate::server
