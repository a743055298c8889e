// The operator socket: bind with a safe mode, accept, read SO_PEERCRED, hand the fd to gRPC.
#include "server/grpc/operator_listener.h"

#include <fcntl.h>
#include <grp.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <vector>

namespace quorate::server {
namespace {

std::string errnoText(int e) { return std::strerror(e); }

std::string userNameOf(uid_t uid) {
  std::vector<char> buf(4096);
  passwd pw{};
  passwd* out = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &out) != 0 || out == nullptr) return {};
  return out->pw_name;
}

// The groups the user belongs to (passwd and group files): SO_PEERCRED gives only the primary.
std::vector<gid_t> groupsOf(const std::string& user, gid_t primary) {
  if (user.empty()) return {primary};
  int n = 32;
  std::vector<gid_t> out(static_cast<std::size_t>(n));
  for (int i = 0; i < 4; ++i) {
    int count = n;
    if (::getgrouplist(user.c_str(), primary, out.data(), &count) >= 0) {
      out.resize(static_cast<std::size_t>(count));
      return out;
    }
    n = std::max(count, n * 4);
    out.resize(static_cast<std::size_t>(n));
  }
  return {primary};
}

sockaddr_un addressOf(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.data(), std::min(path.size(), sizeof a.sun_path - 1));
  return a;
}

// Whether something accepts connections at `path` now.
bool answers(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_un a = addressOf(path);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

UnixOperatorListener::UnixOperatorListener(std::string path, std::optional<gid_t> group,
                                           int maxConnections)
    : path_(std::move(path)), group_(group), maxConnections_(maxConnections) {}

UnixOperatorListener::~UnixOperatorListener() { stop(); }

Status UnixOperatorListener::open() {
  if (path_.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status::fail(ENAMETOOLONG, "operator socket " + path_ + ": path too long");
  }
  const std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::fail(errno, "operator socket directory " + dir.string());
    // Only the last component: a missing parent is a mistake to report, not to paper over.
    if (::mkdir(dir.c_str(), 0755) != 0 || ::stat(dir.c_str(), &st) != 0) {
      return Status::fail(errno, "cannot create the operator socket directory " + dir.string());
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::fail(ENOTDIR, "operator socket directory " + dir.string() + ": not a directory");
  }
  // Whoever may write the directory may swap the socket for their own.
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || (st.st_uid != 0 && st.st_uid != ::geteuid())) {
    return Status::fail(EPERM, "operator socket directory " + dir.string() +
                                   " is writable by its group or others, or owned by another user; "
                                   "use a directory only root can write (e.g. /run/quorate)");
  }
  struct stat old {};
  if (::lstat(path_.c_str(), &old) == 0) {
    if (!S_ISSOCK(old.st_mode)) {
      return Status::fail(EEXIST, "operator socket " + path_ + " exists and is not a socket");
    }
    if (answers(path_)) {
      return Status::fail(EADDRINUSE,
                          "operator socket " + path_ + ": another process listens on it");
    }
    if (::unlink(path_.c_str()) != 0) {
      return Status::fail(errno, "cannot remove the stale operator socket " + path_);
    }
  }
  listenFd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listenFd_ < 0) return Status::fail(errno, "operator socket");
  const sockaddr_un a = addressOf(path_);
  if (::bind(listenFd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    return Status::fail(errno, "cannot bind the operator socket " + path_);
  }
  // Bound but not listening: connects are refused until the mode below is in place.
  if (group_ && ::chown(path_.c_str(), static_cast<uid_t>(-1), *group_) != 0) {
    return Status::fail(errno, "cannot give the operator socket " + path_ + " its group");
  }
  if (::chmod(path_.c_str(), group_ ? 0660 : 0600) != 0) {
    return Status::fail(errno, "cannot set the mode of the operator socket " + path_);
  }
  if (::listen(listenFd_, 64) != 0) return Status::fail(errno, "operator socket: listen");
  wakeFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd_ < 0) return Status::fail(errno, "operator socket: eventfd");
  return Status::ok();
}

void UnixOperatorListener::start(grpc::Server* server) {
  server_ = server;
  thread_ = std::thread([this] { run(); });
}

void UnixOperatorListener::stop() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    (void)!::write(wakeFd_, &one, sizeof one);
    thread_.join();
  }
  if (listenFd_ >= 0) {
    ::close(listenFd_);
    listenFd_ = -1;
    ::unlink(path_.c_str());
  }
  if (wakeFd_ >= 0) {
    ::close(wakeFd_);
    wakeFd_ = -1;
  }
}

void UnixOperatorListener::run() {
  while (true) {
    pollfd fds[2] = {{listenFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("operator socket: poll: {}", errnoText(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents != 0) acceptOne();
  }
}

void UnixOperatorListener::acceptOne() {
  const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
      spdlog::warn("operator socket: accept: {}", errnoText(errno));
      // EMFILE and the like: do not spin on a listener that stays readable.
      ::usleep(100'000);
    }
    return;
  }
  ucred cred{};
  socklen_t len = sizeof cred;
  struct stat st {};
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || ::fstat(fd, &st) != 0) {
    spdlog::warn("operator socket: no peer credentials: {}", errnoText(errno));
    ::close(fd);
    return;
  }
  Caller c;
  c.via = Caller::Via::kSocket;
  c.uid = cred.uid;
  c.gid = cred.gid;
  c.pid = cred.pid;
  c.userName = userNameOf(cred.uid);
  c.groups = groupsOf(c.userName, cred.gid);
  {
    std::lock_guard lock(mu_);
    sweep();
    if (conns_.size() >= static_cast<std::size_t>(maxConnections_)) {
      const auto n = refused_.fetch_add(1, std::memory_order_relaxed);
      // A flood should not flood the log too.
      if ((n & (n + 1)) == 0) {
        spdlog::warn(
            "operator socket: {} connections open (the limit); closed one from {} ({} "
            "refused so far)",
            conns_.size(), c.describe(), n + 1);
      }
      ::close(fd);
      return;
    }
    // Recorded before gRPC sees the descriptor: its first call finds its caller.
    conns_[fd] = Conn{st.st_ino, std::move(c)};
  }
  grpc::AddInsecureChannelFromFd(server_, fd);
}

bool UnixOperatorListener::live(int fd, const Conn& c) const {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == c.inode;
}

void UnixOperatorListener::sweep() {
  for (auto it = conns_.begin(); it != conns_.end();) {
    it = live(it->first, it->second) ? std::next(it) : conns_.erase(it);
  }
}

std::size_t UnixOperatorListener::openConnections() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [fd, c] : conns_) n += live(fd, c) ? 1 : 0;
  return n;
}

std::optional<Caller> UnixOperatorListener::callerOf(std::string_view peer) const {
  constexpr std::string_view kPrefix = "fd:";
  if (peer.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  int fd = -1;
  const auto digits = peer.substr(kPrefix.size());
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), fd);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  std::lock_guard lock(mu_);
  const auto it = conns_.find(fd);
  if (it == conns_.end() || !live(fd, it->second)) return std::nullopt;
  return it->second.caller;
}

Caller callerOf(const grpc::ServerContextBase& ctx, const UnixOperatorListener* socket) {
  const auto auth = ctx.auth_context();
  if (auth && auth->IsPeerAuthenticated()) {
    for (const auto& cn : auth->FindPropertyValues("x509_common_name")) {
      Caller c;
      c.via = Caller::Via::kTls;
      c.commonName = std::string(cn.data(), cn.size());
      return c;
    }
  }
  if (socket != nullptr) {
    if (auto c = socket->callerOf(ctx.peer())) return *c;
  }
  return Caller{};
}

}  // namespace quorate::server
