#include "server/check/spec.h"

namespace quorate::server::check {

std::string kindName(const Kind& kind) {
  struct Name {
    std::string operator()(const TcpSpec&) const { return "tcp"; }
    std::string operator()(const HttpSpec& h) const { return h.tls ? "https" : "http"; }
    std::string operator()(const SmtpSpec&) const { return "smtp"; }
    std::string operator()(const DnsSpec&) const { return "dns"; }
    std::string operator()(const ScriptSpec&) const { return "script"; }
  };
  return std::visit(Name{}, kind);
}

}  // namespace quorate::server::check
