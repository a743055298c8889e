// Names of the check types, as the config and the logs spell them.
#include "server/check/spec.h"

namespace quorate::server::check {

std::string kindName(const Kind& kind) {
  struct Name {
    std::string operator()(const TcpSpec&) const { return "tcp"; }
    std::string operator()(const HttpSpec& h) const { return h.tls ? "https" : "http"; }
    std::string operator()(const SmtpSpec&) const { return "smtp"; }
    std::string operator()(const DnsSpec&) const { return "dns"; }
    std::string operator()(const ScriptSpec&) const { return "script"; }
    std::string operator()(const UdpSpec&) const { return "udp"; }
    std::string operator()(const PingSpec&) const { return "ping"; }
    std::string operator()(const FileSpec&) const { return "file"; }
  };
  return std::visit(Name{}, kind);
}

}  // namespace quorate::server::check
