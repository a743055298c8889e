// The director's event log: an append-only file of JSON lines (role changes, epochs, hook and
// fence runs), written and fdatasync'd by its own thread so that appending never blocks.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/status.h"

namespace quorate::server::events {

inline constexpr std::uint64_t kDefaultMaxBytes = 16u << 20;
inline constexpr int kDefaultKeep = 5;
inline constexpr std::size_t kDefaultQueue = 4096;

// The system calls the writer makes, as values a test can replace (to stall the writer, fail a
// write, or count syncs). Each returns what the system call returns and leaves errno set.
struct FileOps {
  std::function<ssize_t(int fd, const void* data, std::size_t size)> write;
  std::function<int(int fd)> dataSync;  // of the log file after each record
  std::function<int(int fd)> dirSync;   // of the directory after a rotation's renames
  static FileOps system();              // ::write, ::fdatasync, ::fsync
};

class EventLog {
 public:
  struct Options {
    std::string path;  // the current file; rotated ones are path.1 .. path.<keep>
    std::uint64_t maxBytes = kDefaultMaxBytes;
    int keep = kDefaultKeep;            // rotated files kept; 0: the full file is removed
    std::size_t queue = kDefaultQueue;  // records waiting for the writer, at most
    std::string node;                   // this director's name, in every record
    FileOps ops = FileOps::system();
  };
  struct Counters {
    std::uint64_t written = 0;      // records on disk (written, and fdatasync returned)
    std::uint64_t dropped = 0;      // records refused because the queue was full
    std::uint64_t writeErrors = 0;  // failed writes, syncs, rotations and reopens
    std::uint64_t rotations = 0;
  };

  // Opens (creating it with mode 0640) the file for appending and starts the writer. Fails,
  // naming the path, when its directory is missing or not writable.
  static Result<std::unique_ptr<EventLog>> open(Options options);
  // Writes what is queued, then stops the writer.
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Stamps `record` with time (UTC, RFC 3339, milliseconds), seq (from 1, one per call, dropped
  // records included, so a gap shows a loss) and node, and queues it. Never blocks on the disk
  // and never throws: a full queue drops the record and counts it; the next record written
  // then carries "dropped_before" (and "failed_before" for records whose write failed). A
  // record that is not a JSON object is kept under "record". The stamp's keys win over the
  // record's own.
  void append(nlohmann::json record) noexcept;
  // Returns once every record appended before the call has been written and fdatasync'd (or has
  // failed). Records that queued up together share one fdatasync; none counts as written before
  // its sync returned.
  void flush();
  Counters counters() const;
  const std::string& path() const { return options_.path; }

  // The line a record becomes (with its newline): one line whatever the record holds; invalid
  // UTF-8 is replaced, never thrown.
  static std::string render(const nlohmann::json& record,
                            std::chrono::system_clock::time_point time, std::uint64_t seq,
                            const std::string& node, std::uint64_t droppedBefore,
                            std::uint64_t failedBefore);
  // "2026-12-06T18:40:01.123Z".
  static std::string formatTime(std::chrono::system_clock::time_point time);

 private:
  struct Pending {
    nlohmann::json record;
    std::chrono::system_clock::time_point time;
    std::uint64_t seq = 0;
    std::uint64_t droppedBefore = 0;
  };

  EventLog(Options options, int fd, std::uint64_t size);
  void run();                  // the writer thread
  void writeLine(Pending& p);  // appends p's line; syncWritten() makes it count
  void syncWritten();          // fdatasync of the lines written since the last one
  bool rotate();               // false when the file could not be renamed or reopened
  bool reopen();               // opens options_.path again; false (counted) on failure
  void failed(const std::string& what, int err);
  void succeeded();

  Options options_;
  int fd_ = -1;                         // writer thread only (and open/destructor)
  std::uint64_t size_ = 0;              // bytes in the current file, writer thread only
  std::uint64_t failedSinceWrite_ = 0;  // records lost to write errors since the last written
  std::uint64_t droppedCarry_ = 0;      // dropped_before of records that were lost themselves
  bool partialLine_ = false;            // the file ends in a cut-off line we could not remove
  std::uint64_t unsynced_ = 0;          // lines written since the last fdatasync
  std::uint64_t unsyncedDropped_ = 0;   // the dropped_before and failed_before they carry
  std::uint64_t unsyncedFailed_ = 0;
  bool inErrorBurst_ = false;
  std::uint64_t burstErrors_ = 0;

  mutable std::mutex mu_;
  std::condition_variable wake_;  // the writer: work or stop
  std::condition_variable done_;  // flush(): progress
  std::deque<Pending> queue_;
  std::uint64_t nextSeq_ = 1;
  std::uint64_t droppedSinceQueued_ = 0;  // dropped since the last record queued
  std::uint64_t accepted_ = 0;            // records queued, ever
  std::uint64_t finished_ = 0;            // records the writer is done with, ever
  bool stop_ = false;
  // Atomics, so that the writer never takes mu_ to count.
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> writeErrors_{0};
  std::atomic<std::uint64_t> rotations_{0};
  std::thread writer_;
};

}  // namespace quorate::server::events
