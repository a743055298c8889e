// quoratectl events: reads the event log from its end, renders records, and follows the file by
// polling its size and its inode (a rotation renames it away and a new file takes its place).
#include "client/events.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "client/commands.h"

namespace quorate::client {
namespace {

using nlohmann::json;

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kShownOfCorrupt = 80;  // bytes of a corrupt line quoted in the message
constexpr std::size_t kMaxLine = 4u << 20;   // a record longer than this is reported, not read

// Plain words are printed as they are; anything else is quoted, with every control and
// non-ASCII character escaped.
bool isPlain(std::string_view s) {
  if (s.empty()) return false;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

std::string jsonQuoted(std::string_view s) {
  return json(std::string(s)).dump(-1, ' ', true, json::error_handler_t::replace);
}

std::string word(const json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return isPlain(s) ? s : jsonQuoted(s);
  }
  return v.dump(-1, ' ', true, json::error_handler_t::replace);
}

std::string leading(const json& record, const char* key) {
  const auto it = record.find(key);
  return it == record.end() ? "-" : word(*it);
}

std::string errnoText(int err) { return std::strerror(err); }

// Feeds complete lines to `emit`, each with the byte offset where it starts in the file. A line
// longer than kMaxLine goes to `overlong` instead, once, and the rest of it is skipped: memory
// stays bounded whatever the file holds.
class LineSplitter {
 public:
  explicit LineSplitter(std::uint64_t offset = 0) : offset_(offset) {}
  template <typename Emit, typename Overlong>
  void feed(std::string_view data, Emit&& emit, Overlong&& overlong) {
    pending_.append(data);
    std::size_t start = 0;
    for (auto nl = pending_.find('\n'); nl != std::string::npos; nl = pending_.find('\n', start)) {
      if (skipping_) {
        skipping_ = false;  // the end of an overlong line
      } else {
        emit(std::string_view(pending_).substr(start, nl - start), offset_);
      }
      offset_ += nl - start + 1;
      start = nl + 1;
    }
    pending_.erase(0, start);
    if (pending_.size() > kMaxLine) {
      if (!skipping_) overlong(offset_);
      skipping_ = true;
      offset_ += pending_.size();
      pending_.clear();
    }
  }
  // What is left without a newline (a file cut short, or a record being written).
  template <typename Emit>
  void finish(Emit&& emit) {
    if (!pending_.empty() && !skipping_) emit(std::string_view(pending_), offset_);
    offset_ += pending_.size();
    pending_.clear();
    skipping_ = false;
  }

 private:
  std::string pending_;
  std::uint64_t offset_;
  bool skipping_ = false;  // inside a line longer than kMaxLine
};

class Printer {
 public:
  Printer(const EventsOptions& o, std::ostream& out, std::ostream& err)
      : options_(o), out_(out), err_(err) {}

  void line(std::string_view text, std::uint64_t offset) {
    if (text.empty()) return;  // a blank line carries nothing
    if (options_.json) {
      if (isObject(text)) {
        out_ << text << '\n';
        return;
      }
    } else if (auto formatted = formatEvent(text)) {
      out_ << *formatted << '\n';
      return;
    }
    out_.flush();  // the message lands between the records around it
    err_ << "quoratectl: " << options_.file << ": corrupt record at byte " << offset
         << ", skipped: " << jsonQuoted(text.substr(0, kShownOfCorrupt))
         << (text.size() > kShownOfCorrupt ? "..." : "") << std::endl;
  }

  void overlong(std::uint64_t offset) {
    out_.flush();
    err_ << "quoratectl: " << options_.file << ": corrupt record at byte " << offset
         << ", skipped: a line longer than " << kMaxLine << " bytes" << std::endl;
  }

 private:
  static bool isObject(std::string_view text) {
    const json j = json::parse(text, nullptr, false);
    return !j.is_discarded() && j.is_object();
  }

  const EventsOptions& options_;
  std::ostream& out_;
  std::ostream& err_;
};

// Reads from `fd` at `offset` to its end (or to `limit`) into `splitter`; returns the new
// offset, or -errno.
std::int64_t readToEnd(int fd, std::uint64_t offset, LineSplitter& splitter, Printer& printer,
                       std::uint64_t limit = UINT64_MAX) {
  std::vector<char> buf(kChunk);
  while (offset < limit) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), limit - offset));
    const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return static_cast<std::int64_t>(offset);
    splitter.feed(
        std::string_view(buf.data(), static_cast<std::size_t>(n)),
        [&](std::string_view l, std::uint64_t at) { printer.line(l, at); },
        [&](std::uint64_t at) { printer.overlong(at); });
    offset += static_cast<std::uint64_t>(n);
  }
  return static_cast<std::int64_t>(offset);
}

// The offset just past the n-th newline from the end of the first `size` bytes (0 when there are
// fewer), or -errno. Reads backwards in chunks, so a 16 MiB file costs only its tail.
std::int64_t afterNthNewlineFromEnd(int fd, std::uint64_t size, std::uint64_t n) {
  std::uint64_t newlines = 0;
  std::uint64_t end = size;
  std::vector<char> buf(kChunk);
  while (end > 0) {
    const std::uint64_t start = end > kChunk ? end - kChunk : 0;
    const auto want = static_cast<std::size_t>(end - start);
    const ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(start));
    if (got < 0 && errno == EINTR) continue;
    if (got != static_cast<ssize_t>(want)) return got < 0 ? -errno : -EIO;
    for (std::size_t i = want; i-- > 0;) {
      if (buf[i] == '\n' && ++newlines == n) return static_cast<std::int64_t>(start + i + 1);
    }
    end = start;
  }
  return 0;
}

// Where the last `lines` complete lines of the first `size` bytes start (0 for the whole file),
// or -errno. The byte at size-1 ends the last complete line (the caller cut `size` after a
// newline), so they start right after the (lines+1)-th newline from the end.
std::int64_t tailStart(int fd, std::uint64_t size, std::uint64_t lines) {
  if (lines == 0) return static_cast<std::int64_t>(size);
  return afterNthNewlineFromEnd(fd, size, lines + 1);
}

// The offset just past the last newline in the first `size` bytes (0 if none), or -errno.
std::int64_t lastNewlineEnd(int fd, std::uint64_t size) {
  return afterNthNewlineFromEnd(fd, size, 1);
}

bool interrupted(const CallCanceller* canceller) {
  return canceller != nullptr && canceller->cancelled();
}

int openFailed(const std::string& file, int err, std::ostream& out, std::ostream& err_) {
  out.flush();
  err_ << "quoratectl: " << file << ": " << errnoText(err);
  if (err == ENOENT) err_ << " (no event log there; is event_log.path elsewhere? use --file)";
  if (err == EACCES) err_ << " (the event log is readable by root and its group)";
  err_ << std::endl;
  return kExitFailure;
}

}  // namespace

std::optional<std::string> formatEvent(std::string_view line) {
  const json record = json::parse(line, nullptr, false);
  if (record.is_discarded() || !record.is_object()) return std::nullopt;
  std::string out = leading(record, "time") + ' ' + leading(record, "node") + ' ' +
                    leading(record, "lease") + ' ' + leading(record, "event");
  for (const auto& [key, value] : record.items()) {
    if (key == "time" || key == "node" || key == "lease" || key == "event") continue;
    out += ' ';
    out += isPlain(key) && key.find('=') == std::string::npos ? key : jsonQuoted(key);
    out += '=';
    out += word(value);
  }
  return out;
}

int runEvents(const EventsOptions& options, std::ostream& out, std::ostream& err,
              const CallCanceller* canceller) {
  const std::string& file = options.file;
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return openFailed(file, errno, out, err);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int e = S_ISREG(st.st_mode) ? errno : S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    ::close(fd);
    return openFailed(file, e, out, err);
  }
  Printer printer(options, out, err);
  auto fail = [&](int e) {
    ::close(fd);
    out.flush();
    err << "quoratectl: " << file << ": cannot read: " << errnoText(e) << std::endl;
    return kExitFailure;
  };
  // The last N complete lines, then (without --follow) whatever follows them unterminated.
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::int64_t complete = lastNewlineEnd(fd, size);
  if (complete < 0) return fail(static_cast<int>(-complete));
  const std::int64_t tail = tailStart(fd, static_cast<std::uint64_t>(complete), options.lines);
  if (tail < 0) return fail(static_cast<int>(-tail));
  const auto start = static_cast<std::uint64_t>(tail);
  LineSplitter splitter(start);
  // Without --follow, what was there when we looked; with it, on to whatever is there now.
  const std::int64_t read =
      readToEnd(fd, start, splitter, printer, options.follow ? UINT64_MAX : size);
  if (read < 0) return fail(static_cast<int>(-read));
  auto offset = static_cast<std::uint64_t>(read);
  if (!options.follow) {
    splitter.finish([&](std::string_view l, std::uint64_t at) { printer.line(l, at); });
    out.flush();
    ::close(fd);
    return kExitOk;
  }
  out.flush();
  while (!interrupted(canceller)) {
    std::this_thread::sleep_for(options.poll);
    const std::int64_t r = readToEnd(fd, offset, splitter, printer);
    if (r < 0) return fail(static_cast<int>(-r));
    offset = static_cast<std::uint64_t>(r);
    struct stat now {};
    struct stat mine {};
    if (::stat(file.c_str(), &now) != 0 || ::fstat(fd, &mine) != 0) {
      out.flush();
      continue;  // renamed away and not yet replaced: the new file comes shortly
    }
    if (now.st_ino != mine.st_ino || now.st_dev != mine.st_dev) {
      // Rotated: the old file to its end (the writer closed it before the rename, so what it
      // holds now is final), then the new one from its start.
      const int next = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (next < 0) {
        out.flush();
        continue;
      }
      const std::int64_t last = readToEnd(fd, offset, splitter, printer);
      if (last < 0) {
        ::close(next);
        return fail(static_cast<int>(-last));
      }
      splitter.finish([&](std::string_view l, std::uint64_t at) { printer.line(l, at); });
      ::close(fd);
      fd = next;
      offset = 0;
      splitter = LineSplitter(0);
      const std::int64_t first = readToEnd(fd, offset, splitter, printer);
      if (first < 0) return fail(static_cast<int>(-first));
      offset = static_cast<std::uint64_t>(first);
    } else if (static_cast<std::uint64_t>(mine.st_size) < offset) {
      // Truncated in place: start again from its beginning.
      splitter = LineSplitter(0);
      offset = 0;
    }
    out.flush();
  }
  ::close(fd);
  return kExitOk;
}

}  // namespace quorate::client
