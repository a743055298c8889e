// One HTTP(S) GET made exactly as the http/https probe makes it, with the reply handed back:
// what `quoratectl genhash` uses to print the digest a check would compare.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "server/check/probe.h"
#include "server/check/spec.h"

namespace quorate::server::check {

struct HttpReply {
  bool ok = false;    // a whole reply was read (whatever its status)
  std::string error;  // !ok: why, as a probe reports it ("connection refused", "timeout ...")
  int status = 0;
  std::string body;
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
// caFile); statusCodes and digest are the probe's business.
std::unique_ptr<HttpFetch> makeHttpFetch(const HttpSpec& spec, const Target& target,
                                         std::chrono::milliseconds timeout, ProbeContext& ctx);

}  // namespace quorate::server::check
