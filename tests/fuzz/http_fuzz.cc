// Fuzz target: the http probe's reading of a reply (Beast's parser as the probe sets it up, the
// status and digest judged). There is no parser to call apart from the probe, so the real probe
// runs against a loopback server (127.0.0.1, port 0) that reads the request and answers with the
// input. The first input byte picks options: bit 0 a digest to compare, bit 1 keep-alive (up to
// 2 requests per connection); the reply is the rest.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_support.h"
#include "server/check/probe.h"
#include "server/script_runner.h"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace quorate::server;
using namespace std::chrono_literals;

struct Loopback {
  asio::io_context io;
  ScriptRunner scripts{io};
  check::ProbeContext ctx{io, scripts};
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fuzz = quorate::fuzz;
  if (size < 1) return 0;
  static Loopback* loop = new Loopback;  // never destroyed: libFuzzer ends by exit()
  const std::uint8_t options = data[0];
  const std::string reply = fuzz::text(data + 1, size - 1);

  check::HttpSpec http;
  http.statusCodes = {{200, 299}, {404, 404}};
  if (options & 1) http.digest = "9e107d9d372bb6826bd81d3542a419d6";
  if (options & 2) http.requestsPerConnection = 2;
  check::CheckSpec spec;
  spec.kind = http;
  spec.timeout = 2s;
  const check::Target target{
      *quorate::net::IpAddress::parse("127.0.0.1"), loop->acceptor.local_endpoint().port(), {}};
  std::unique_ptr<check::Probe> probe = check::makeProbe(spec, target, loop->ctx);

  // The server: read the request, answer with the input, then end its half of the connection.
  tcp::socket peer(loop->io);
  asio::streambuf request;
  loop->acceptor.async_accept(peer, [&](boost::system::error_code ec) {
    if (ec) return;
    asio::async_read_until(
        peer, request, "\r\n\r\n", [&](boost::system::error_code ec2, std::size_t) {
          if (ec2) return;
          asio::async_write(peer, asio::buffer(reply), [&](boost::system::error_code, std::size_t) {
            boost::system::error_code ignored;
            peer.shutdown(tcp::socket::shutdown_send, ignored);
          });
        });
  });

  std::optional<check::Outcome> outcome;
  probe->start([&](check::Outcome o) { outcome = std::move(o); });
  const auto giveUp = std::chrono::steady_clock::now() + 10s;
  while (!outcome && std::chrono::steady_clock::now() < giveUp) {
    if (loop->io.stopped()) loop->io.restart();
    loop->io.run_one_for(50ms);
  }
  fuzz::check(outcome.has_value(), "the probe did not finish within its deadline");
  fuzz::check(!outcome->reason.empty(), "an outcome without a reason");
  // Whatever the reply, the probe passes only on a status it was told to accept.
  if (outcome->ok) {
    fuzz::check(outcome->reason == "status 404" ||
                    (outcome->reason.starts_with("status 2") && outcome->reason.size() == 10),
                "a passing outcome on a status outside the accepted ranges: " + outcome->reason);
  }
  // Tear down the server side and let the handlers that still hold references run out.
  probe.reset();
  boost::system::error_code ignored;
  loop->acceptor.cancel(ignored);
  peer.close(ignored);
  loop->io.restart();
  loop->io.poll();
  return 0;
}
