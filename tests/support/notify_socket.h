// A test's stand-in for systemd's notify socket: an AF_UNIX datagram socket that records what
// each process sent (sd_notify) with the sender's pid, as systemd sees it.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace quorate::testutil {

struct NotifyMessage {
  pid_t pid = 0;  // the sender, from SCM_CREDENTIALS
  std::string text;
  std::chrono::steady_clock::time_point at;  // when the test received it
};

class NotifySocket {
 public:
  // Binds `path` (which must not exist); throws std::runtime_error when it cannot.
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof(addr.sun_path)) throw std::runtime_error("path too long: " + path_);
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      throw std::runtime_error("bind " + path_ + ": " + std::strerror(errno));
    }
    const int on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }

  // The next datagram, waiting up to `timeout`; nullopt when none came.
  std::optional<NotifyMessage> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    std::vector<char> buf(1 << 16);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(fd_, &msg, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    NotifyMessage out;
    out.text.assign(buf.data(), static_cast<std::size_t>(n));
    out.at = std::chrono::steady_clock::now();
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred{};
        std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
        out.pid = cred.pid;
      }
    }
    return out;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Receives on a NotifySocket from a thread of its own and keeps every message.
class NotifyRecorder {
 public:
  explicit NotifyRecorder(std::string path) : socket_(std::move(path)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        auto m = socket_.receive(std::chrono::milliseconds(50));
        if (!m) continue;
        std::lock_guard<std::mutex> lock(mu_);
        messages_.push_back(std::move(*m));
        cv_.notify_all();
      }
    });
  }
  ~NotifyRecorder() {
    stop_ = true;
    thread_.join();
  }
  NotifyRecorder(const NotifyRecorder&) = delete;
  NotifyRecorder& operator=(const NotifyRecorder&) = delete;

  const std::string& path() const { return socket_.path(); }
  std::vector<NotifyMessage> messages() const {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  // Waits up to `timeout` for a message that satisfies `pred`; returns the first such one.
  std::optional<NotifyMessage> waitFor(const std::function<bool(const NotifyMessage&)>& pred,
                                       std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<NotifyMessage> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& m : messages_) {
        if (pred(m)) {
          found = m;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  // How many messages from `pid` contain `text` and arrived in [from, to).
  std::size_t count(pid_t pid, const std::string& text, std::chrono::steady_clock::time_point from,
                    std::chrono::steady_clock::time_point to) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t n = 0;
    for (const auto& m : messages_) {
      if (m.pid == pid && m.at >= from && m.at < to && m.text.find(text) != std::string::npos) ++n;
    }
    return n;
  }

 private:
  NotifySocket socket_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<NotifyMessage> messages_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace quorate::testutil
