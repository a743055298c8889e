// Endpoints of quoratectl (unix:/path or HOST:PORT): parsing and validation before dialling.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quorate::client {

inline constexpr std::string_view kDefaultEndpoint = "unix:/run/quorate/director.sock";
inline constexpr std::string_view kEndpointEnv = "QUORATE_ENDPOINT";

struct Endpoint {
  std::string unixPath;  // set: a Unix socket (host and port unused)
  std::string host;      // without brackets, also for IPv6 literals
  std::uint16_t port = 0;
  bool ipv6 = false;  // host is an IPv6 literal, written [host]:port

  // The gRPC target and the name used in messages: "unix:/path", "host:port" or "[v6]:port".
  std::string target() const;
};

// Accepts "unix:/absolute/path" (at most 107 bytes, the limit of a socket address), "host:port",
// "a.b.c.d:port" and "[v6]:port" with port 1-65535. Host names are letters, digits, '-', '_' and
// '.' (at most 253 characters). On failure returns nullopt and, if `error` is set, a one-line
// reason.
std::optional<Endpoint> parseEndpoint(std::string_view text, std::string* error = nullptr);

}  // namespace quorate::client
