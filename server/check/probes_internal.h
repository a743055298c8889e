// The probe makers behind makeProbe(), one per file.
#pragma once

#include <memory>
#include <string>

#include "server/check/probe.h"

namespace boost::asio::ssl {
class context;
}

namespace quorate::server::check {

// tcp, http(s), smtp, dns: net_probes.cc.
std::unique_ptr<Probe> makeNetProbe(const CheckSpec& spec, const Target& target, ProbeContext& ctx);
// script (MISC_CHECK): script_probe.cc.
std::unique_ptr<Probe> makeScriptProbe(const CheckSpec& spec, ProbeContext& ctx);

// The shared TLS client context for (verify, caFile), made on first use: probe.cc. nullptr, with
// `error` set, when it cannot be made (an unreadable caFile); that is then the attempt's outcome.
boost::asio::ssl::context* tlsClientContext(ProbeContext& ctx, bool verify,
                                            const std::string& caFile, std::string* error);

}  // namespace quorate::server::check
