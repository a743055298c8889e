// The socket helpers under the probes' attempts: each returns a Status with the failed call's
// errno, and errorReason() words an error as the attempt reports it.
#include "server/check/attempt.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

namespace quorate::server::check {

asio::ip::address toAsio(const net::IpAddress& address) {
  if (address.isV4()) {
    asio::ip::address_v4::bytes_type bytes;
    std::copy_n(address.bytes.begin(), bytes.size(), bytes.begin());
    return asio::ip::address_v4(bytes);
  }
  asio::ip::address_v6::bytes_type bytes;
  std::copy_n(address.bytes.begin(), bytes.size(), bytes.begin());
  return asio::ip::address_v6(bytes);
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string errorReason(const error_code& ec) {
  namespace e = asio::error;
  if (ec == e::connection_refused) return "connection refused";
  if (ec == e::connection_reset || ec == e::broken_pipe) return "connection reset";
  if (ec == e::host_unreachable) return "no route to host";
  if (ec == e::network_unreachable) return "network unreachable";
  if (ec == e::connection_aborted) return "connection aborted";
  if (ec == e::timed_out) return "timed out";
  if (ec == e::eof) return "connection closed";
  return lowercase(ec.message());
}

std::string errnoReason(int err) {
  return errorReason(error_code(err, asio::error::get_system_category()));
}

std::string cannot(const Status& status) {
  return "cannot " + status.what() + ": " + errnoReason(status.err());
}

namespace {

template <class Socket, class Protocol>
Status open(Socket& socket, const Target& target) {
  const asio::ip::address address = toAsio(target.address);
  error_code ec;
  socket.open(address.is_v4() ? Protocol::v4() : Protocol::v6(), ec);
  if (ec) return Status::fail(ec.value(), "open a socket");
  if constexpr (std::is_same_v<Protocol, tcp>) {
    // As keepalived does: closing resets the connection, so no FIN handshake and no TIME_WAIT
    // entry per check (10,000 checks a second would keep 600,000 of them).
    socket.set_option(asio::socket_base::linger(true, 0), ec);
    // startConnect() calls connect(2) itself, which must not block.
    socket.non_blocking(true, ec);
    if (ec) return Status::fail(ec.value(), "make a socket non-blocking");
  }
  if (target.bindTo) {
    socket.bind(typename Protocol::endpoint(toAsio(*target.bindTo), 0), ec);
    if (ec) return Status::fail(ec.value(), "bind to " + target.bindTo->toString());
  }
  return Status::ok();
}

}  // namespace

Status openSocket(tcp::socket& socket, const Target& target) {
  return open<tcp::socket, tcp>(socket, target);
}

Status openSocket(udp::socket& socket, const Target& target) {
  return open<udp::socket, udp>(socket, target);
}

Status startConnect(tcp::socket& socket, const Target& target) {
  const tcp::endpoint endpoint(toAsio(target.address), target.port);
  if (::connect(socket.native_handle(), endpoint.data(), endpoint.size()) != 0 &&
      errno != EINPROGRESS) {
    return Status::fail(
        errno, "connect to " + target.address.toString() + " port " + std::to_string(target.port));
  }
  return Status::ok();
}

Status connectDatagram(udp::socket& socket, const Target& target) {
  error_code ec;
  socket.connect(udp::endpoint(toAsio(target.address), target.port), ec);
  if (ec) {
    return Status::fail(ec.value(), "connect to " + target.address.toString() + " port " +
                                        std::to_string(target.port));
  }
  return Status::ok();
}

Status connectResult(tcp::socket& socket) {
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) {
    error = errno;
  }
  if (error != 0) return Status::fail(error, "connect");
  return Status::ok();
}

Status disconnect(tcp::socket& socket) {
  sockaddr unspecified{};
  unspecified.sa_family = AF_UNSPEC;
  if (::connect(socket.native_handle(), &unspecified, sizeof unspecified) != 0) {
    return Status::fail(errno, "disconnect");
  }
  return Status::ok();
}

bool closedByPeer(tcp::socket& socket) {
  char byte = 0;
  const ssize_t got = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return got >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

}  // namespace quorate::server::check
