// The checker's input: real server keys and check targets.
#include "server/check/targets.h"

namespace quorate::server::check {

std::string ServerKey::endpoint() const {
  const std::string host = address.isV6() ? "[" + address.toString() + "]" : address.toString();
  return host + ":" + std::to_string(port);
}

CheckTarget checkTarget(const CheckSpec& spec, const net::IpAddress& address, std::uint16_t port) {
  return CheckTarget{
      spec, Target{spec.address.value_or(address), spec.port != 0 ? spec.port : port, spec.bindTo}};
}

}  // namespace quorate::server::check
