// The attempt machinery the network probes share: one deadline per attempt, the socket kept
// between attempts, the connect without Asio's extra poll, and the socket helpers below it.
//
// Every attempt is a fresh object shared by its handlers. The probe only points at it: destroying
// the probe marks the attempt abandoned and closes its socket, and the handlers still queued
// then see the mark and return without calling anyone.
//
// A TCP probe keeps its socket from one attempt to the next (SpareSocket): an attempt that ends
// with no operation pending disconnects it instead of closing it (connect to AF_UNSPEC, which
// resets the connection as a close with SO_LINGER 0 does), and the next attempt connects it
// again. That spares, per check, the socket's creation, options, epoll registration and close:
// five of eleven system calls, and the kernel's work behind them (docs/bench-checks.md).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/status.h"
#include "server/check/http_fetch.h"
#include "server/check/probe.h"

namespace quorate::server::check {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using boost::system::error_code;

// ---- socket helpers (attempt.cc): errors as Status, with the errno of the failed call.

asio::ip::address toAsio(const net::IpAddress& address);
std::string lowercase(std::string text);

// A socket error as a short lowercase reason: "connection refused", "connection reset".
std::string errorReason(const error_code& ec);
std::string errnoReason(int err);
// A failed preparation as an attempt reports it: "cannot bind to 198.18.0.1: ...".
std::string cannot(const Status& status);

// Opens `socket` for the target's family and binds it to the target's source address, if any;
// a TCP socket is made non-blocking and to reset its connection on close.
Status openSocket(tcp::socket& socket, const Target& target);
Status openSocket(udp::socket& socket, const Target& target);
// Starts connecting the open, non-blocking `socket` to the target (EINPROGRESS is success).
Status startConnect(tcp::socket& socket, const Target& target);
// Connects a UDP socket to the target: only its datagrams are received, and its port's ICMP
// errors fail the receive.
Status connectDatagram(udp::socket& socket, const Target& target);
// How the connect started by startConnect() ended, once the socket is writable (SO_ERROR).
Status connectResult(tcp::socket& socket);
// Resets `socket`'s connection and leaves it open for connecting again; on failure the caller
// closes it.
Status disconnect(tcp::socket& socket);
// Whether the server closed (or reset) an idle kept connection, or sent what nobody asked for:
// one non-blocking peek.
bool closedByPeer(tcp::socket& socket);

inline Outcome failed(Outcome*, std::string reason) {
  return Outcome{false, std::move(reason), {}};
}
inline HttpReply failed(HttpReply*, std::string reason) {
  HttpReply reply;
  reply.error = std::move(reason);
  return reply;
}

// The TCP socket a probe keeps between its attempts (see the top of this file): disconnected,
// or still connected after `replies` HTTP replies; closed with the last of the probe and its
// attempts.
struct SpareSocket {
  std::optional<tcp::socket> socket;
  int replies = 0;  // > 0: connected, that many replies read on this connection
};

// What the handlers of one attempt share: the deadline, the caller's callback, and whether the
// attempt is over (finished, or abandoned by its probe).
template <class Result>
class Attempt : public std::enable_shared_from_this<Attempt<Result>> {
 public:
  using Done = std::function<void(Result)>;
  // `spare`: a TCP attempt's probe's (takeSocket, endSocket); null for UDP.
  Attempt(asio::io_context& io, std::shared_ptr<SpareSocket> spare)
      : timer_(io), spare_(std::move(spare)) {}
  virtual ~Attempt() = default;
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;

  // The probe is gone or starts another attempt: nobody is called back any more.
  void abandon() {
    finished_ = true;
    done_ = nullptr;
    timer_.cancel();
    closeSocket(false);
  }

 protected:
  // Starts the deadline of the whole attempt.
  void arm(Done done, std::chrono::milliseconds timeout) {
    done_ = std::move(done);
    timer_.expires_after(timeout);
    timer_.async_wait([self = this->shared_from_this()](const error_code& ec) {
      // An operation is pending: the socket is closed, not kept.
      if (!ec && !self->finished_) self->finish(self->atDeadline(), false);
    });
  }
  // What a timeout now reports ("timeout while connecting", "timeout waiting for the reply").
  void waiting(const char* reason) { waiting_ = reason; }
  // How the deadline ends the attempt: a failure naming what it waited for, unless the probe
  // says otherwise (a UDP check that needs no reply passes on silence).
  virtual Result atDeadline() { return failed(static_cast<Result*>(nullptr), waiting_); }
  bool over() const { return finished_; }

  // `keepSocket`: no operation is pending on the socket (the attempt ends in a handler), so a
  // TCP socket may be kept for the probe's next attempt.
  void finish(Result result, bool keepSocket = true) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    closeSocket(keepSocket);
    Done done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));  // may destroy the probe, or start its next attempt
  }
  void fail(std::string reason) {
    finish(failed(static_cast<Result*>(nullptr), std::move(reason)));
  }
  // The socket for a TCP attempt: the probe's spare one (disconnected, or connected: see
  // takenReplies) or a new one (closed; connect() opens it).
  tcp::socket takeSocket(asio::io_context& io) {
    if (spare_ && spare_->socket) {
      tcp::socket socket = std::move(*spare_->socket);
      spare_->socket.reset();
      takenReplies_ = std::exchange(spare_->replies, 0);
      return socket;
    }
    return tcp::socket(io);
  }
  // > 0: takeSocket gave a connection still up, which has carried that many replies.
  int takenReplies() const { return takenReplies_; }
  // Keeps `socket` connected for the probe's next attempt, which takes it with takenReplies()
  // `replies` (HTTP keep-alive); closes it when the probe is gone.
  void keepConnected(tcp::socket& socket, int replies) {
    if (spare_ && socket.is_open()) {
      spare_->socket.emplace(std::move(socket));
      spare_->replies = replies;
      return;
    }
    error_code ignored;
    socket.close(ignored);
  }
  // The end of a TCP attempt's socket: disconnected and kept for the probe's next attempt when
  // `keep` allows it, else (or if the disconnect fails) closed. Either resets the connection.
  void endSocket(tcp::socket& socket, bool keep) {
    error_code ignored;
    if (keep && spare_ && socket.is_open()) {
      socket.cancel(ignored);
      if (disconnect(socket)) {
        spare_->socket.emplace(std::move(socket));
      } else {
        socket.close(ignored);
      }
      return;
    }
    socket.close(ignored);
  }

  // Opens `socket` for `target` unless it is a kept one, and starts connecting it: "" or why it
  // could not, as the attempt reports it.
  std::string beginConnect(tcp::socket& socket, const Target& target) {
    if (!socket.is_open()) {
      if (Status opened = openSocket(socket, target); !opened) {
        error_code ignored;
        socket.close(ignored);  // not kept: the next attempt must bind it again
        return cannot(opened);
      }
    }
    if (Status started = startConnect(socket, target); !started) return errnoReason(started.err());
    return {};
  }
  // beginConnect(), then `connected` runs once the socket is connected, unless the attempt is
  // over by then. A failure to start fails the attempt from the io_context, a failed connect
  // with the socket's error. One wait for writability and SO_ERROR: Asio's async_connect adds a
  // poll(2) per connection.
  template <class Connected>
  void connect(tcp::socket& socket, const Target& target, Connected connected) {
    if (std::string error = beginConnect(socket, target); !error.empty()) {
      return failSoon(std::move(error));
    }
    // Connected at once (never for TCP on Linux, but allowed) or in progress: either way the
    // socket becomes writable, and SO_ERROR tells how the connect went.
    socket.async_wait(tcp::socket::wait_write,
                      [self = this->shared_from_this(), &socket,
                       connected = std::move(connected)](error_code ec) mutable {
                        if (self->finished_) return;
                        if (ec) return self->fail(errorReason(ec));
                        if (Status result = connectResult(socket); !result) {
                          return self->fail(errnoReason(result.err()));
                        }
                        connected();
                      });
  }
  // A failure found inside start(): reported from the io_context, never from start() itself.
  void failSoon(std::string reason) {
    asio::post(timer_.get_executor(),
               [self = this->shared_from_this(), reason = std::move(reason)]() mutable {
                 if (!self->finished_) self->fail(std::move(reason));
               });
  }
  // Ends the attempt's socket: endSocket() for TCP (`keep` as there), a close for UDP.
  virtual void closeSocket(bool keep) = 0;

 private:
  asio::steady_timer timer_;
  std::shared_ptr<SpareSocket> spare_;
  Done done_;
  bool finished_ = false;
  const char* waiting_ = "timeout while connecting";
  int takenReplies_ = 0;
};

// A plain TCP attempt of a probe configured by `ConfigT`: it takes the probe's spare socket
// (a kept connection, or a fresh socket) and gives it back, kept or closed, when it ends.
template <class ConfigT>
class TcpAttempt : public Attempt<Outcome> {
 public:
  using Config = ConfigT;
  TcpAttempt(ProbeContext& ctx, std::shared_ptr<const Config> config,
             std::shared_ptr<SpareSocket> spare)
      : Attempt(ctx.io(), std::move(spare)),
        config_(std::move(config)),
        socket_(takeSocket(ctx.io())) {}

 protected:
  void closeSocket(bool keep) override { endSocket(socket_, keep); }

  std::shared_ptr<const Config> config_;
  tcp::socket socket_;
};

// Runs attempts of one kind for a probe (or a fetch): one at a time, each a fresh object. An
// attempt lives as long as its handlers hold it: between two attempts a probe holds only its
// configuration and its spare socket (not the last attempt's buffers, parser or TLS state).
template <class Interface, class AttemptType>
class AttemptRunner final : public Interface {
 public:
  using Config = typename AttemptType::Config;
  AttemptRunner(ProbeContext& ctx, std::shared_ptr<const Config> config)
      : ctx_(ctx), config_(std::move(config)) {}
  ~AttemptRunner() override {
    if (auto attempt = current_.lock()) attempt->abandon();
  }
  void start(typename Interface::Done done) override {
    if (auto attempt = current_.lock()) attempt->abandon();
    auto attempt = std::make_shared<AttemptType>(ctx_, config_, spare_);
    current_ = attempt;
    attempt->run(std::move(done));  // its deadline's handler holds it from here
  }

 private:
  ProbeContext& ctx_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<SpareSocket> spare_ = std::make_shared<SpareSocket>();
  std::weak_ptr<AttemptType> current_;
};

}  // namespace quorate::server::check
