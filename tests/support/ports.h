// reservePort(): a loopback TCP port for a test's server, kept out of other tests' way.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace quorate::testutil {

namespace detail {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

[[noreturn]] inline void portFailure(const char* what) {
  throw std::runtime_error(std::string("reservePort: ") + what + ": " + std::strerror(errno));
}

}  // namespace detail

// A port on 127.0.0.1 that no socket listens on, for a server the test starts next (the
// daemons and gRPC servers bind with SO_REUSEADDR, as servers do).
//
// "Bind port 0, read it, close" alone leaves a window in which the kernel hands the same port
// to anyone else asking for port 0, including the ephemeral end of a connection another test
// opens under ctest -j. So the port is closed through one accepted connection, closed on the
// accepted side first: that side stays in TIME_WAIT (60 s on Linux), which makes the kernel
// skip the port for port-0 binds and makes plain bind() to it fail with EADDRINUSE, while
// bind() with SO_REUSEADDR (a server) still gets it.
inline std::uint16_t reservePort() {
  detail::Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) detail::portFailure("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    detail::portFailure("bind 127.0.0.1:0");
  }
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    detail::portFailure("getsockname");
  }
  // After bind(), so the port is picked as for any plain bind to port 0. The accepted socket
  // inherits the option, which is what lets a server bind the port over its TIME_WAIT.
  const int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::listen(listener.get(), 1) != 0) detail::portFailure("listen");

  detail::Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (client.get() < 0) detail::portFailure("socket");
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    detail::portFailure("connect");
  }
  detail::Fd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (accepted.get() < 0) detail::portFailure("accept");
  // The accepted side closes first, so the TIME_WAIT is on 127.0.0.1:port.
  accepted.reset();
  char byte;
  while (::recv(client.get(), &byte, 1, 0) > 0) {  // Wait for its FIN before answering it.
  }
  client.reset();
  return ntohs(addr.sin_port);
}

// "127.0.0.1:<reservePort()>".
inline std::string reserveLoopbackEndpoint() {
  return "127.0.0.1:" + std::to_string(reservePort());
}

}  // namespace quorate::testutil
