// HOST:PORT endpoints of quoratectl: parsing and validation before anything is dialled.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quorate::client {

inline constexpr std::string_view kDefaultEndpoint = "127.0.0.1:7101";
inline constexpr std::string_view kEndpointEnv = "QUORATE_ENDPOINT";

struct Endpoint {
  std::string host;  // without brackets, also for IPv6 literals
  std::uint16_t port = 0;
  bool ipv6 = false;  // host is an IPv6 literal, written [host]:port

  // The gRPC target and the name used in messages: "host:port" or "[v6]:port".
  std::string target() const;
};

// Accepts "host:port", "a.b.c.d:port" and "[v6]:port" with port 1-65535.
// Host names are letters, digits, '-', '_' and '.' (at most 253 characters).
// On failure returns nullopt and, if `error` is set, a one-line reason.
std::optional<Endpoint> parseEndpoint(std::string_view text, std::string* error = nullptr);

}  // namespace quorate::client
