// The probe makers behind makeProbe(), one per file.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "server/check/probe.h"

namespace boost::asio::ssl {
class context;
}

namespace quorate::server::check {

// The network probes, each on attempt.h's machinery: tcp_probe.cc, http_probe.cc, smtp_probe.cc,
// dns_probe.cc. `timeout` is the deadline of each attempt.
std::unique_ptr<Probe> makeTcpProbe(const Target& target, std::chrono::milliseconds timeout,
                                    ProbeContext& ctx);
std::unique_ptr<Probe> makeHttpProbe(const HttpSpec& spec, const Target& target,
                                     std::chrono::milliseconds timeout, ProbeContext& ctx);
std::unique_ptr<Probe> makeSmtpProbe(const SmtpSpec& spec, const Target& target,
                                     std::chrono::milliseconds timeout, ProbeContext& ctx);
std::unique_ptr<Probe> makeDnsProbe(const DnsSpec& spec, const Target& target,
                                    std::chrono::milliseconds timeout, ProbeContext& ctx);
// udp_probe.cc and ping_probe.cc, on the same machinery.
std::unique_ptr<Probe> makeUdpProbe(const UdpSpec& spec, const Target& target,
                                    std::chrono::milliseconds timeout, ProbeContext& ctx);
std::unique_ptr<Probe> makePingProbe(const Target& target, std::chrono::milliseconds timeout,
                                     ProbeContext& ctx);
// script (MISC_CHECK): script_probe.cc.
std::unique_ptr<Probe> makeScriptProbe(const CheckSpec& spec, ProbeContext& ctx);
// file (FILE_CHECK): file_probe.cc.
std::unique_ptr<Probe> makeFileProbe(const FileSpec& spec, ProbeContext& ctx);

// The shared TLS client context for (verify, caFile), made on first use: probe.cc. nullptr, with
// `error` set, when it cannot be made (an unreadable caFile); that is then the attempt's outcome.
boost::asio::ssl::context* tlsClientContext(ProbeContext& ctx, bool verify,
                                            const std::string& caFile, std::string* error);

}  // namespace quorate::server::check
