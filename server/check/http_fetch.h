// One HTTP(S) GET made exactly as the http/https probe makes it, with the reply handed back:
// what `quoratectl genhash` uses to print the digest a check would compare.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/check/probe.h"
#include "server/check/spec.h"

namespace quorate::server::check {

// The body itself is never kept: it goes through an MD5 as it arrives, or is read and dropped,
// so a fetch holds a few buffers whatever the server sends (docs/security.md, "Limits").
struct HttpReply {
  bool ok = false;    // a whole reply was read (whatever its status)
  std::string error;  // !ok: why, as a probe reports it ("connection refused", "timeout ...")
  int status = 0;
  std::uint64_t bodyBytes = 0;  // the body's length, after any chunked coding is removed
  // The body's MD5 (32 lowercase hex digits) when the fetch was asked for it; nullopt when not,
  // or where this OpenSSL offers no MD5 (kMd5Unavailable).
  std::optional<std::string> md5;
};

class HttpFetch {
 public:
  using Done = std::function<void(HttpReply)>;
  // Destroying a fetch abandons it: `done` is then never called.
  virtual ~HttpFetch() = default;
  // GET spec.path from `target` within `timeout` (connect, TLS, request, reply). `done` runs
  // once, on the io_context's thread, never from inside start(). One fetch at a time.
  virtual void start(Done done) = 0;
};

// Only the request and TLS fields of `spec` matter (path, virtualHost, tls, sni, verify,
// caFile); statusCodes and digest are the probe's business. `md5`: hash the body as it arrives
// (HttpReply::md5); without it the body is read and dropped.
std::unique_ptr<HttpFetch> makeHttpFetch(const HttpSpec& spec, const Target& target,
                                         std::chrono::milliseconds timeout, ProbeContext& ctx,
                                         bool md5);

}  // namespace quorate::server::check
