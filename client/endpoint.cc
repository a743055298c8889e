// unix:/path and HOST:PORT parsing for quoratectl's --endpoint.
#include "client/endpoint.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace quorate::client {
namespace {

constexpr std::size_t kMaxHostLength = 253;

std::optional<Endpoint> fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return std::nullopt;
}

bool validHostName(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  if (host.front() == '.' || host.front() == '-') return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
}

bool validIpv6(std::string_view host) {
  std::string copy(host);
  in6_addr addr{};
  return inet_pton(AF_INET6, copy.c_str(), &addr) == 1;
}

}  // namespace

std::string Endpoint::target() const {
  if (!unixPath.empty()) return "unix:" + unixPath;
  std::string portText = std::to_string(port);
  return ipv6 ? "[" + host + "]:" + portText : host + ":" + portText;
}

std::optional<Endpoint> parseEndpoint(std::string_view text, std::string* error) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  if (text.empty()) return fail(error, "empty endpoint, expected unix:/PATH or HOST:PORT");
  constexpr std::string_view kUnix = "unix:";
  if (text.substr(0, kUnix.size()) == kUnix) {
    Endpoint e;
    e.unixPath = std::string(text.substr(kUnix.size()));
    if (e.unixPath.empty() || e.unixPath.front() != '/') {
      return fail(error, quoted + ": expected unix:/ABSOLUTE/PATH");
    }
    // sun_path holds 108 bytes with the terminating NUL.
    if (e.unixPath.size() > 107) {
      return fail(error, quoted + ": a Unix socket path is at most 107 bytes");
    }
    if (std::any_of(e.unixPath.begin(), e.unixPath.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      return fail(error, quoted + ": control character in the socket path");
    }
    return e;
  }

  Endpoint result;
  std::string_view portText;
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return fail(error, quoted + ": missing ']' after the IPv6 address");
    }
    result.host = std::string(text.substr(1, close - 1));
    result.ipv6 = true;
    if (!validIpv6(result.host)) {
      return fail(error, quoted + ": \"" + result.host + "\" is not an IPv6 address");
    }
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return fail(error, quoted + ": expected [IPV6]:PORT");
    }
    portText = rest.substr(1);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return fail(error, quoted + ": missing port, expected HOST:PORT");
    }
    const std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return fail(error, quoted + ": write IPv6 addresses as [IPV6]:PORT");
    }
    if (!validHostName(host)) {
      return fail(error, quoted + ": bad host \"" + std::string(host) + "\"");
    }
    result.host = std::string(host);
    portText = text.substr(colon + 1);
  }

  if (portText.empty()) return fail(error, quoted + ": missing port, expected HOST:PORT");
  const bool digits =
      std::all_of(portText.begin(), portText.end(), [](char c) { return c >= '0' && c <= '9'; });
  unsigned long port = 0;
  const auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (!digits || ec != std::errc() || end != portText.data() + portText.size() || port < 1 ||
      port > 65535) {
    return fail(error, quoted + ": port must be a number from 1 to 65535");
  }
  result.port = static_cast<std::uint16_t>(port);
  return result;
}

}  // namespace quorate::client
