// quoratectl genhash: fetches a URL exactly as an http/https check would and prints the MD5 of
// the body, the digest to put in the check (keepalived's genhash).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace quorate::client {

struct GenhashOptions {
  std::string url;
  bool verify = false;  // verify the certificate (against caFile, or the system's)
  std::string caFile;
  std::string sni;          // empty: the URL's host when it is a name, else none
  std::string virtualHost;  // the Host header; empty: the URL's host[:port]
  bool json = false;
};

struct Url {
  bool tls = false;  // https
  std::string host;  // a name or an address, IPv6 without brackets
  std::uint16_t port = 0;
  std::string path;  // with the query, at least "/"
};

// http://HOST[:PORT][/PATH] or https://...; HOST a name, an IPv4 address or [IPv6]. On failure
// returns nullopt with a one-line reason in `error`.
std::optional<Url> parseUrl(std::string_view text, std::string* error);

// Resolves the host (names with getaddrinfo), fetches within `timeout`, prints the status and
// "MD5SUM = <hex>" (or one JSON object) to `out`. Returns kExitOk, kExitUsage for a bad URL, or
// kExitFailure when the fetch failed (the reason on `err`).
int runGenhash(const GenhashOptions& options, std::chrono::milliseconds timeout, std::ostream& out,
               std::ostream& err);

}  // namespace quorate::client
