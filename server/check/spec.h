// What one health check of a real server is (keepalived's TCP_CHECK, HTTP_GET, SSL_GET,
// SMTP_CHECK, DNS_CHECK, MISC_CHECK, UDP_CHECK, PING_CHECK, FILE_CHECK): plain data, parsed from
// the director's YAML by parseCheck() and compared by value on reload (an unchanged check keeps its
// state).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/net_types.h"

namespace quorate::server::check {

struct TcpSpec {
  bool operator==(const TcpSpec&) const = default;
};

// An inclusive range of HTTP status codes ("200", "200-299").
struct StatusRange {
  int low = 200;
  int high = 299;
  bool operator==(const StatusRange&) const = default;
};

// HTTP_GET, and SSL_GET when `tls` is set.
struct HttpSpec {
  std::string path = "/";
  std::vector<StatusRange> statusCodes = {StatusRange{}};  // any of them passes
  std::optional<std::string> digest;  // MD5 of the body, 32 lowercase hex digits
  std::string virtualHost;            // the Host header; empty: the target's address[:port]
  bool tls = false;
  std::string sni;      // TLS server name; empty: none sent (keepalived's enable_sni off)
  bool verify = false;  // verify the server's certificate (against caFile, or the system's)
  std::string caFile;   // PEM; empty: the system's default paths
  // Plain HTTP only: how many checks one connection may carry (HTTP/1.1 keep-alive). 1, the
  // default, is keepalived's way: a new connection per check, each testing that the server
  // accepts connections. N > 1 keeps an answered connection for up to N checks, then opens a
  // new one: a check then costs a request and a reply instead of a TCP connection's life.
  int requestsPerConnection = 1;
  bool operator==(const HttpSpec&) const = default;
};

struct SmtpSpec {
  std::string helo = "quorate";  // the name sent with HELO
  bool operator==(const SmtpSpec&) const = default;
};

struct DnsSpec {
  std::string name = ".";  // the name queried
  std::uint16_t type = 6;  // the query type (RFC 1035 code; 6 = SOA, keepalived's default)
  bool operator==(const DnsSpec&) const = default;
};

// MISC_CHECK: a program run without a shell. Exit 0 passes, anything else fails; with
// `dynamic` (keepalived's misc_dynamic) exit 1 fails and 2..255 pass with weight code - 2.
struct ScriptSpec {
  std::vector<std::string> argv;
  std::string user;  // run as this user (name); empty: as the director
  bool dynamic = false;
  bool operator==(const ScriptSpec&) const = default;
};

// UDP_CHECK: one datagram to the target. Without `requireReply` (keepalived's default) the
// check passes unless the port is unreachable (an ICMP error) or a reply does not match; with
// it, a matching reply must come back within the timeout.
struct UdpSpec {
  std::string payload;  // the bytes sent; empty: an empty datagram
  bool requireReply = false;
  enum class Match { kAny, kExact, kPrefix, kRegex };
  Match match = Match::kAny;  // kAny: any reply passes
  std::string expect;         // the bytes (exact, prefix) or the ECMAScript pattern (regex)
  bool operator==(const UdpSpec&) const = default;
};

// PING_CHECK: one ICMP (or ICMPv6) echo request, answered by an echo reply with our identifier,
// sequence number and payload.
struct PingSpec {
  bool operator==(const PingSpec&) const = default;
};

// FILE_CHECK: a file an operator writes. A positive number is the weight while up; 0, an empty
// or missing file, or anything else takes the real server down.
struct FileSpec {
  std::string path;
  bool operator==(const FileSpec&) const = default;
};

using Kind =
    std::variant<TcpSpec, HttpSpec, SmtpSpec, DnsSpec, ScriptSpec, UdpSpec, PingSpec, FileSpec>;

// "tcp", "http", "https", "smtp", "dns", "script", "udp", "ping", "file".
std::string kindName(const Kind& kind);

struct CheckSpec {
  Kind kind;
  // Where the check connects: the real server's address and port unless overridden
  // (keepalived's connect_ip / connect_port). Unused by scripts and files; ping has no port.
  std::optional<net::IpAddress> address;
  std::uint16_t port = 0;                // 0: the real server's
  std::optional<net::IpAddress> bindTo;  // source address; unset: the kernel's choice

  // One deadline for a whole attempt (connect, exchange, or the script's run).
  std::chrono::milliseconds timeout{5000};
  // delay_loop: from the end of one round to the start of the next (keepalived's meaning).
  std::chrono::milliseconds interval{5000};
  // While the check is up, a failed attempt is tried again `retries` times, `retryDelay` after
  // it, before the round counts as failed (a check that is down needs no confirming).
  int retries = 1;
  std::chrono::milliseconds retryDelay{1000};
  // Rounds in a row that bring the check up / down.
  int rise = 1;
  int fall = 1;
  // The first round starts at a random point in [0, warmup) so that checks spread out.
  std::chrono::milliseconds warmup{5000};

  bool operator==(const CheckSpec&) const = default;
};

// Where one check of a real server connects (address and port after the overrides).
struct Target {
  net::IpAddress address;
  std::uint16_t port = 0;
  std::optional<net::IpAddress> bindTo;
  bool operator==(const Target&) const = default;
};

}  // namespace quorate::server::check
