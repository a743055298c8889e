// A weight file's content to an outcome, and its read: non-blocking, regular files only,
// bounded, so that a FIFO or a huge file cannot stall or bloat the checker.
#include "server/check/file_weight.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "server/check/attempt.h"
#include "server/check/udp_reply.h"

namespace quorate::server::check {

Outcome judgeWeightFile(std::string_view content) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = content.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return Outcome{false, "empty file", {}};
  const std::string_view text = content.substr(first, content.find_last_not_of(kSpace) - first + 1);
  if (text.find_first_not_of("0123456789") != std::string_view::npos) {
    return Outcome{false, "not a weight: \"" + printable(text) + "\"", {}};
  }
  const std::string_view digits = text.substr(std::min(text.find_first_not_of('0'), text.size()));
  int value = 0;
  if (digits.size() <= 5) {
    static_cast<void>(std::from_chars(digits.data(), digits.data() + digits.size(), value));
  }
  if (digits.size() > 5 || value > kMaxCheckWeight) {
    return Outcome{
        false, "weight " + printable(text) + " above " + std::to_string(kMaxCheckWeight), {}};
  }
  const int weight = value;
  return Outcome{weight > 0, "weight " + std::to_string(weight),
                 weight > 0 ? std::optional<int>(weight) : std::nullopt};
}

Outcome readWeightFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return Outcome{false, "no file " + path, {}};
    return Outcome{false, "cannot open " + path + ": " + errnoReason(errno), {}};
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return Outcome{false, "cannot stat " + path + ": " + errnoReason(errno), {}};
  if (!S_ISREG(st.st_mode)) return Outcome{false, path + " is not a regular file", {}};
  // One byte more than allowed tells a file too large from one just at the limit (a file may
  // grow after the fstat).
  std::array<char, kMaxWeightFile + 1> buffer;
  std::size_t size = 0;
  while (size < buffer.size()) {
    const ssize_t got = ::read(fd, buffer.data() + size, buffer.size() - size);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Outcome{false, "cannot read " + path + ": " + errnoReason(errno), {}};
    if (got == 0) break;
    size += static_cast<std::size_t>(got);
  }
  if (size > kMaxWeightFile) {
    return Outcome{
        false, path + " is larger than " + std::to_string(kMaxWeightFile) + " bytes", {}};
  }
  return judgeWeightFile(std::string_view(buffer.data(), size));
}

}  // namespace quorate::server::check
