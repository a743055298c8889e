// The event log's writer: one thread that renders, appends, fdatasyncs and rotates, and turns
// every file error into a counter and one log line per burst.
#include "server/events/event_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

namespace quorate::server::events {
namespace {

using nlohmann::json;

constexpr int kMaxKeep = 1000;

// The stamp's keys: a record may not overwrite them.
bool isStampKey(const std::string& key) {
  return key == "time" || key == "seq" || key == "node" || key == "dropped_before" ||
         key == "failed_before";
}

// Compact, and never a throw for invalid UTF-8 (a name or an output line from anywhere).
std::string dumpValue(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string directoryOf(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Opens `path` for appending, creating it with mode 0640 whatever the umask; `size` is its
// current length.
Status openForAppend(const std::string& path, int& fd, std::uint64_t& size) {
  bool created = true;
  fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  }
  if (fd < 0) {
    const int err = errno;
    std::string what = "open event log " + path;
    if (err == ENOENT) what += " (no directory " + directoryOf(path) + ")";
    return Status::fail(err, what);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (created && ::fchmod(fd, 0640) != 0)) {
    const int err = errno;
    ::close(fd);
    fd = -1;
    return Status::fail(err, "set up event log " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fd = -1;
    return Status::fail(EINVAL, "event log " + path + " is not a regular file");
  }
  size = static_cast<std::uint64_t>(st.st_size);
  return Status::ok();
}

}  // namespace

FileOps FileOps::system() {
  FileOps ops;
  ops.write = [](int fd, const void* data, std::size_t size) { return ::write(fd, data, size); };
  ops.dataSync = [](int fd) { return ::fdatasync(fd); };
  ops.dirSync = [](int fd) { return ::fsync(fd); };
  return ops;
}

std::string EventLog::formatTime(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[80];  // room for any int the compiler can imagine
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string EventLog::render(const json& record, std::chrono::system_clock::time_point time,
                             std::uint64_t seq, const std::string& node,
                             std::uint64_t droppedBefore, std::uint64_t failedBefore) {
  // Built by hand rather than as a json object, whose keys would come out sorted: the stamp
  // first makes the file readable with tail.
  std::string out = "{\"time\":\"" + formatTime(time) + "\",\"seq\":" + std::to_string(seq) +
                    ",\"node\":" + dumpValue(json(node));
  if (droppedBefore > 0) out += ",\"dropped_before\":" + std::to_string(droppedBefore);
  if (failedBefore > 0) out += ",\"failed_before\":" + std::to_string(failedBefore);
  if (record.is_object()) {
    for (const auto& [key, value] : record.items()) {
      if (isStampKey(key)) continue;
      out += ',';
      out += dumpValue(json(key));
      out += ':';
      out += dumpValue(value);
    }
  } else if (!record.is_null()) {
    out += ",\"record\":" + dumpValue(record);
  }
  out += "}\n";
  return out;
}

Result<std::unique_ptr<EventLog>> EventLog::open(Options options) {
  if (options.path.empty()) return Status::fail(EINVAL, "event log: no path");
  if (options.maxBytes == 0 || options.queue == 0 || options.keep < 0 || options.keep > kMaxKeep) {
    return Status::fail(EINVAL, "event log " + options.path +
                                    ": max_bytes and queue must be positive, keep 0 to " +
                                    std::to_string(kMaxKeep));
  }
  // Rotation renames files in the directory: a directory we may not write is an error now, not
  // at the first rotation.
  const std::string dir = directoryOf(options.path);
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    const int err = errno;
    return Status::fail(err, "event log " + options.path + ": directory " + dir +
                                 (err == ENOENT ? " does not exist" : " is not writable"));
  }
  int fd = -1;
  std::uint64_t size = 0;
  if (auto s = openForAppend(options.path, fd, size); !s) return s;
  return std::unique_ptr<EventLog>(new EventLog(std::move(options), fd, size));
}

EventLog::EventLog(Options options, int fd, std::uint64_t size)
    : options_(std::move(options)), fd_(fd), size_(size) {
  writer_ = std::thread([this] { run(); });
}

EventLog::~EventLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  writer_.join();
  if (fd_ >= 0) ::close(fd_);
}

void EventLog::append(json record) noexcept {
  const auto now = std::chrono::system_clock::now();
  try {
    std::lock_guard<std::mutex> lock(mu_);
    const std::uint64_t seq = nextSeq_++;
    if (queue_.size() >= options_.queue) {
      ++droppedSinceQueued_;
      ++dropped_;
      return;
    }
    queue_.push_back(Pending{std::move(record), now, seq, droppedSinceQueued_});
    droppedSinceQueued_ = 0;
    ++accepted_;
  } catch (...) {
    // Out of memory: the record is lost, and counted if the lock can still be taken.
    std::lock_guard<std::mutex> lock(mu_);
    ++droppedSinceQueued_;
    ++dropped_;
    return;
  }
  wake_.notify_one();
}

void EventLog::flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const std::uint64_t target = accepted_;
  done_.wait(lock, [&] { return finished_ >= target; });
}

EventLog::Counters EventLog::counters() const {
  Counters c;
  c.written = written_.load();
  c.dropped = dropped_.load();
  c.writeErrors = writeErrors_.load();
  c.rotations = rotations_.load();
  return c;
}

void EventLog::run() {
  std::deque<Pending> batch;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stop_, and everything written
    // Group commit: what queued up while the disk was busy shares one fdatasync, so a slow disk
    // (a few ms a sync) still keeps up with a burst. Taking it is one swap: an append never
    // waits for more than that.
    batch.swap(queue_);
    lock.unlock();
    for (Pending& p : batch) writeLine(p);
    syncWritten();
    const std::size_t n = batch.size();
    batch.clear();  // the records are freed here, not under the lock
    lock.lock();
    finished_ += n;
    done_.notify_all();
  }
}

void EventLog::writeLine(Pending& p) {
  auto lost = [&] {
    ++failedSinceWrite_;
    droppedCarry_ += p.droppedBefore;  // the next record written says so instead
  };
  std::string line;
  try {
    line = render(p.record, p.time, p.seq, options_.node, droppedCarry_ + p.droppedBefore,
                  failedSinceWrite_);
  } catch (const std::exception& e) {
    failed(std::string("render: ") + e.what(), 0);
    lost();
    return;
  }
  if (fd_ >= 0 && size_ > 0 && size_ + line.size() > options_.maxBytes) (void)rotate();
  if (fd_ < 0 && !reopen()) {
    lost();
    return;
  }
  // A partial line left by an earlier failure that could not be cut off: end it, so that it
  // stands alone as one corrupt line instead of spoiling this record.
  if (partialLine_) line.insert(line.begin(), '\n');
  std::size_t done = 0;
  int err = 0;
  while (done < line.size()) {
    const ssize_t n = options_.ops.write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (err != 0) {
    // Cut the partial line off so that the file stays made of whole records.
    if (done > 0) {
      if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) {
        partialLine_ = false;
      } else {
        size_ += done;
        partialLine_ = true;
      }
    }
    failed("write", err);
    lost();
    return;
  }
  size_ += line.size();
  partialLine_ = false;
  // Written, not yet durable: syncWritten() counts it, or counts it lost.
  ++unsynced_;
  unsyncedDropped_ += droppedCarry_ + p.droppedBefore;
  unsyncedFailed_ += failedSinceWrite_;
  failedSinceWrite_ = 0;
  droppedCarry_ = 0;
}

void EventLog::syncWritten() {
  if (unsynced_ == 0) return;
  if (options_.ops.dataSync(fd_) != 0) {
    failed("fdatasync", errno);
    // Not known to be on disk: lost, with what they would have told.
    failedSinceWrite_ += unsynced_ + unsyncedFailed_;
    droppedCarry_ += unsyncedDropped_;
  } else {
    written_ += unsynced_;
    succeeded();
  }
  unsynced_ = 0;
  unsyncedDropped_ = 0;
  unsyncedFailed_ = 0;
}

bool EventLog::rotate() {
  syncWritten();  // the old file's records are durable before it is renamed
  ::close(fd_);
  fd_ = -1;
  const std::string& path = options_.path;
  int err = 0;
  std::string what;
  if (options_.keep == 0) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      err = errno;
      what = "remove " + path;
    }
  } else {
    for (int i = options_.keep - 1; i >= 1 && err == 0; --i) {
      const std::string from = path + "." + std::to_string(i);
      const std::string to = path + "." + std::to_string(i + 1);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
        err = errno;
        what = "rename " + from + " to " + to;
      }
    }
    if (err == 0 && ::rename(path.c_str(), (path + ".1").c_str()) != 0) {
      err = errno;
      what = "rename " + path + " to " + path + ".1";
    }
  }
  if (err == 0) {
    // The renames are durable before the new file gets records.
    const std::string dir = directoryOf(path);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || options_.ops.dirSync(dfd) != 0) {
      err = errno;
      what = "fsync directory " + dir;
    }
    if (dfd >= 0) ::close(dfd);
  }
  if (err != 0) failed("rotation: " + what, err);
  // Whatever happened, records go on into whichever file is at `path` now: an oversized file is
  // better than lost records; the next record tries the rotation again.
  if (!reopen()) return false;
  if (err == 0) ++rotations_;
  return err == 0;
}

bool EventLog::reopen() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  partialLine_ = false;  // a new or other file
  if (auto s = openForAppend(options_.path, fd_, size_); !s) {
    failed("reopen: " + s.what(), s.err());
    return false;
  }
  return true;
}

void EventLog::failed(const std::string& what, int err) {
  ++writeErrors_;
  ++burstErrors_;
  if (inErrorBurst_) return;  // once per burst: a full disk must not flood the log too
  inErrorBurst_ = true;
  spdlog::error("event log {}: {}{}{}; records are lost until a write succeeds", options_.path,
                what, err > 0 ? ": " : "", err > 0 ? std::strerror(err) : "");
}

void EventLog::succeeded() {
  if (!inErrorBurst_) return;
  spdlog::warn("event log {}: writing again after {} failed operations", options_.path,
               burstErrors_);
  inErrorBurst_ = false;
  burstErrors_ = 0;
}

}  // namespace quorate::server::events
