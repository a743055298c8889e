// Atomic, fsync'd persistence of an acceptor's highest epoch.
#include "common/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace quorate {
namespace {

// Version 3 adds max_round, version 2 max_lease_us; older files (without them) are still read.
constexpr const char* kHeader = "quorate-acceptor-state 3";
constexpr const char* kHeaderV2 = "quorate-acceptor-state 2";
constexpr const char* kHeaderV1 = "quorate-acceptor-state 1";

Status sysError(const std::string& path, const std::string& what) {
  return Status::fail(errno, path + ": " + what);
}
Status formatError(const std::string& path, const std::string& what) {
  return Status::fail(0, path + ": " + what);
}

bool parseField(const std::string& line, const std::string& key, std::uint64_t& out) {
  if (line.rfind(key + " ", 0) != 0) return false;
  const char* b = line.data() + key.size() + 1;
  const char* e = line.data() + line.size();
  auto [p, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && p == e;
}

bool writeAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Result<lease::DurableState> StateFile::load() const {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec) && !ec) return lease::DurableState{};
  std::ifstream in(path_);
  if (!in) return sysError(path_, "cannot open state file");
  std::string header, epochLine, ownerLine, incarnationLine, leaseLine, roundLine, extra;
  std::getline(in, header);
  std::getline(in, epochLine);
  std::getline(in, ownerLine);
  std::getline(in, incarnationLine);
  const bool v1 = header == kHeaderV1;
  const bool v2 = header == kHeaderV2;
  if (header != kHeader && !v1 && !v2) {
    return formatError(path_, "line 1: expected '" + std::string(kHeader) + "'");
  }
  std::uint64_t epoch = 0, owner = 0;
  // A counter above the limit (an insider's epoch written before the range checks existed, an
  // edited file) would leave no room to go up: refused, by name, rather than run into it.
  const std::string limit = std::to_string(lease::kMaxCounter);
  if (!parseField(epochLine, "max_epoch", epoch)) {
    return formatError(path_, "line 2: expected 'max_epoch <n>'");
  }
  if (epoch > lease::kMaxCounter) {
    return formatError(path_, "line 2: max_epoch " + std::to_string(epoch) +
                                  " is above the limit " + limit +
                                  "; the cluster cannot go on from it (see docs/protocol.md, "
                                  "\"Insiders: ranges and arithmetic\")");
  }
  if (!parseField(ownerLine, "owner", owner) || owner >= lease::kNodeCount) {
    return formatError(path_, "line 3: expected 'owner <0|1|2>'");
  }
  std::uint64_t incarnation = 0;
  if (!parseField(incarnationLine, "incarnation", incarnation)) {
    return formatError(path_, "line 4: expected 'incarnation <n>'");
  }
  if (incarnation > lease::kMaxCounter) {
    return formatError(path_, "line 4: incarnation " + std::to_string(incarnation) +
                                  " is above the limit " + limit);
  }
  std::uint64_t maxLeaseUs = 0;
  if (!v1) {
    std::getline(in, leaseLine);
    // An hour is far above any lease a valid configuration grants.
    if (!parseField(leaseLine, "max_lease_us", maxLeaseUs) || maxLeaseUs > 3'600'000'000ULL) {
      return formatError(path_, "line 5: expected 'max_lease_us <n>' (at most an hour)");
    }
  }
  std::uint64_t maxRound = 0;
  if (!v1 && !v2) {
    std::getline(in, roundLine);
    if (!parseField(roundLine, "max_round", maxRound)) {
      return formatError(path_, "line 6: expected 'max_round <n>'");
    }
    if (maxRound > lease::kMaxCounter) {
      return formatError(
          path_, "line 6: max_round " + std::to_string(maxRound) + " is above the limit " + limit);
    }
  }
  if (std::getline(in, extra) && !extra.empty()) {
    return formatError(path_, "line " +
                                  std::string(v1   ? "5"
                                              : v2 ? "6"
                                                   : "7") +
                                  ": unexpected content");
  }
  return lease::DurableState{epoch, static_cast<lease::NodeId>(owner), incarnation,
                             std::chrono::microseconds(maxLeaseUs), maxRound};
}

lease::DurableState StateFile::loadOrThrow() const {
  auto loaded = load();
  if (!loaded) throw std::runtime_error(loaded.status().message());
  return *loaded;
}

Status StateFile::save(const lease::DurableState& s) const {
  std::ostringstream text;
  text << kHeader << "\nmax_epoch " << s.maxEpoch << "\nowner " << s.maxEpochOwner
       << "\nincarnation " << s.incarnation << "\nmax_lease_us "
       << std::chrono::ceil<std::chrono::microseconds>(s.maxLease).count() << "\nmax_round "
       << s.maxRound << "\n";
  return writeFileDurably(path_, text.str());
}

Status writeFileDurably(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return sysError(tmp, "cannot create");
  if (!writeAll(fd, text)) {
    auto e = sysError(tmp, "write failed");
    ::close(fd);
    return e;
  }
  if (::fsync(fd) != 0) {
    auto e = sysError(tmp, "fsync failed");
    ::close(fd);
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return sysError(path, "rename failed");
  const std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return sysError(dir, "cannot open directory");
  const bool ok = ::fsync(dfd) == 0;
  auto e = ok ? Status::ok() : sysError(dir, "directory fsync failed");
  ::close(dfd);
  return e;
}

bool isVolatileDirectory(const std::string& dir) {
  struct statfs fs {};
  if (::statfs(dir.c_str(), &fs) != 0) return false;
  constexpr long kTmpfs = 0x01021994, kRamfs = static_cast<long>(0x858458f6);
  return static_cast<long>(fs.f_type) == kTmpfs || static_cast<long>(fs.f_type) == kRamfs;
}

Status ensureDirectory(const std::string& dir) {
  std::error_code ec;
  // Each missing level made 0700 (create_directories would leave them to the umask, 0755 under
  // the usual one); levels that exist are the operator's and keep their modes.
  std::filesystem::path made;
  for (const auto& part : std::filesystem::path(dir)) {
    made /= part;
    if (part.empty() || std::filesystem::exists(made, ec)) continue;
    if (::mkdir(made.c_str(), 0700) != 0 && errno != EEXIST) {
      const int e = errno;
      return Status::fail(
          e, dir + ": cannot create state directory " + made.string() + ": " + std::strerror(e));
    }
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::fail(ec.value(), dir + ": state_dir is not a directory");
  }
  return Status::ok();
}

}  // namespace quorate
