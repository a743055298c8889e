// Parses `metrics: {listen: ...}`: a host:port whose host is an IP address literal, since the
// endpoint binds it (a name could resolve to an address nobody meant to expose).
#include "common/metrics/config.h"

#include <boost/asio/ip/address.hpp>

namespace quorate::metrics {

std::optional<MetricsConfig> parseMetricsConfig(const std::optional<config::Value>& v) {
  if (!v) return std::nullopt;
  const config::Map m = v->asMap({"listen"});
  const config::Value listen = m.required("listen");
  MetricsConfig c;
  c.listen = listen.asHostPort();
  std::string host = c.listen.substr(0, c.listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(host, ec);
  if (ec) {
    listen.fail(
        "expected an IP address and a port, e.g. \"127.0.0.1:9362\" (the endpoint is "
        "unauthenticated: keep it on loopback or a management network), got " +
        config::quote(host));
  }
  return c;
}

}  // namespace quorate::metrics
