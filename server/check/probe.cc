// makeProbe() and what probes share on one io_context: the TLS client contexts.
#include "server/check/probe.h"

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <map>
#include <utility>

#include "server/check/probes_internal.h"

namespace quorate::server::check {

namespace ssl = boost::asio::ssl;

// One SSL_CTX per (verify, caFile), made on first use: making one (and loading a CA bundle)
// costs far more than a handshake, and every https check with the same settings shares it
// until the next reload (forgetTlsContexts).
struct ProbeContext::Tls {
  std::map<std::pair<bool, std::string>, std::unique_ptr<ssl::context>> contexts;
};

ProbeContext::ProbeContext(boost::asio::io_context& io, ScriptRunner& scripts)
    : io_(io), scripts_(scripts), tls_(std::make_unique<Tls>()) {}

ProbeContext::~ProbeContext() = default;

// An SSL made from a context holds a reference to its SSL_CTX (OpenSSL counts them), so the
// streams of attempts in flight outlive the contexts dropped here.
void ProbeContext::forgetTlsContexts() { tls_->contexts.clear(); }

ssl::context* tlsClientContext(ProbeContext& ctx, bool verify, const std::string& caFile,
                               std::string* error) {
  auto key = std::make_pair(verify, verify ? caFile : std::string());
  auto& contexts = ctx.tls().contexts;
  if (auto it = contexts.find(key); it != contexts.end()) return it->second.get();

  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  // Thousands of idle connections between checks should not each hold 2 x 16 KiB of buffers.
  SSL_CTX_set_mode(context->native_handle(), SSL_MODE_RELEASE_BUFFERS);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  // A server that closes without close_notify ends the reply like a plain EOF (Beast still
  // notices a body shorter than its Content-Length).
  SSL_CTX_set_options(context->native_handle(), SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  boost::system::error_code ec;
  if (verify) {
    context->set_verify_mode(ssl::verify_peer, ec);
    if (caFile.empty()) {
      context->set_default_verify_paths(ec);
      if (ec) {
        *error = "TLS: cannot load the system's CA certificates: " + ec.message();
        return nullptr;
      }
    } else {
      context->load_verify_file(caFile, ec);
      // Not cached: a file fixed on disk is picked up by the next attempt.
      if (ec) {
        *error = "TLS: cannot load CA file " + caFile + ": " + ec.message();
        return nullptr;
      }
    }
  } else {
    context->set_verify_mode(ssl::verify_none, ec);  // any certificate, self-signed included
  }
  return contexts.emplace(std::move(key), std::move(context)).first->second.get();
}

std::unique_ptr<Probe> makeProbe(const CheckSpec& spec, const Target& target, ProbeContext& ctx) {
  struct Make {
    const CheckSpec& spec;
    const Target& target;
    ProbeContext& ctx;
    std::unique_ptr<Probe> operator()(const TcpSpec&) const {
      return makeTcpProbe(target, spec.timeout, ctx);
    }
    std::unique_ptr<Probe> operator()(const HttpSpec& http) const {
      return makeHttpProbe(http, target, spec.timeout, ctx);
    }
    std::unique_ptr<Probe> operator()(const SmtpSpec& smtp) const {
      return makeSmtpProbe(smtp, target, spec.timeout, ctx);
    }
    std::unique_ptr<Probe> operator()(const DnsSpec& dns) const {
      return makeDnsProbe(dns, target, spec.timeout, ctx);
    }
    std::unique_ptr<Probe> operator()(const ScriptSpec&) const {
      return makeScriptProbe(spec, ctx);
    }
    std::unique_ptr<Probe> operator()(const UdpSpec& udp) const {
      return makeUdpProbe(udp, target, spec.timeout, ctx);
    }
    std::unique_ptr<Probe> operator()(const PingSpec&) const {
      return makePingProbe(target, spec.timeout, ctx);
    }
    std::unique_ptr<Probe> operator()(const FileSpec& file) const {
      return makeFileProbe(file, ctx);
    }
  };
  return std::visit(Make{spec, target, ctx}, spec.kind);
}

}  // namespace quorate::server::check
