// Parsing of health checks; every error names the file, the line and the key.
#include "server/check/config.h"

#include <sys/socket.h>

#include <array>
#include <optional>
#include <regex>
#include <utility>

#include "common/yaml_config.h"

namespace quorate::server::check {
namespace {

using config::Map;
using config::Value;

net::IpAddress asAddress(const Value& v, int family) {
  const std::string text = v.asString();
  const auto a = net::IpAddress::parse(text);
  if (!a) v.fail("expected an IPv4 or IPv6 address, got " + config::quote(text));
  if (family != 0 && a->family != family) {
    v.fail(std::string("expected an ") + (family == AF_INET6 ? "IPv6" : "IPv4") +
           " address like the real server's, got " + text);
  }
  return *a;
}

constexpr std::array<std::pair<std::string_view, std::uint16_t>, 11> kDnsTypes = {{
    {"A", 1},
    {"NS", 2},
    {"CNAME", 5},
    {"SOA", 6},
    {"PTR", 12},
    {"MX", 15},
    {"TXT", 16},
    {"AAAA", 28},
    {"SRV", 33},
    {"CAA", 257},
    {"ANY", 255},
}};

StatusRange asStatusRange(const Value& v) {
  const std::string text = v.asString();
  const auto dash = text.find('-');
  auto number = [&](std::string_view s) {
    int n = 0;
    if (s.empty() || s.size() > 3) n = -1;
    for (char c : s) {
      if (c < '0' || c > '9') n = -1;
      if (n >= 0) n = n * 10 + (c - '0');
    }
    if (n < 100 || n > 599) {
      v.fail("expected a status code 100..599 or a range such as 200-299, got " +
             config::quote(text));
    }
    return n;
  };
  StatusRange r;
  if (dash == std::string::npos) {
    r.low = r.high = number(text);
  } else {
    r.low = number(std::string_view(text).substr(0, dash));
    r.high = number(std::string_view(text).substr(dash + 1));
    if (r.low > r.high) v.fail("range " + text + " is empty (its start is above its end)");
  }
  return r;
}

std::string asDigest(const Value& v) {
  std::string d = v.asString();
  for (char& c : d) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  const bool hex = d.size() == 32 && d.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!hex) v.fail("expected an MD5 digest of 32 hex digits (quoratectl genhash prints it)");
  return d;
}

std::string asDnsName(const Value& v) {
  const std::string name = v.asString();
  if (name == ".") return name;
  if (name.size() > 253) v.fail("a DNS name has at most 253 characters");
  std::size_t start = 0;
  while (start < name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    const std::size_t len = dot - start;
    if (len == 0 || len > 63) {
      v.fail("expected a DNS name of labels of 1 to 63 characters, got " + config::quote(name));
    }
    start = dot + 1;
  }
  return name;
}

std::string asUrlPath(const Value& v) {
  const std::string path = v.asString();
  if (path[0] != '/' || path.find_first_of(" \t\r\n") != std::string::npos) {
    v.fail("expected a path starting with '/' and without spaces, got " + config::quote(path));
  }
  return path;
}

std::string asHostName(const Value& v) {
  const std::string h = v.asString();
  if (h.find_first_of(" \t\r\n/") != std::string::npos) {
    v.fail("expected a host name without spaces or '/', got " + config::quote(h));
  }
  return h;
}

// Bytes written in hex ("0a1b2c", or "0a 1b 2c"), at most `max` of them.
std::string asHex(const Value& v, std::size_t max) {
  const std::string text = v.asString();
  std::string out;
  int high = -1;  // the first digit of a byte under way
  for (char ch : text) {
    if (ch == ' ' && high < 0) continue;
    int digit = -1;
    if (ch >= '0' && ch <= '9') digit = ch - '0';
    if (ch >= 'a' && ch <= 'f') digit = ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') digit = ch - 'A' + 10;
    if (digit < 0) v.fail("expected bytes in hex such as \"0a1b2c\", got " + config::quote(text));
    if (high < 0) {
      high = digit;
    } else {
      out += static_cast<char>(high << 4 | digit);
      high = -1;
    }
  }
  if (high >= 0) v.fail("expected an even number of hex digits (two per byte)");
  if (out.empty()) v.fail("expected at least one byte");
  if (out.size() > max) v.fail("at most " + std::to_string(max) + " bytes");
  return out;
}

constexpr std::size_t kMaxUdpPayload = 65507;  // the most one IPv4 UDP datagram carries
constexpr std::size_t kMaxUdpExpect = 1024;
constexpr std::size_t kMaxUdpPattern = 256;

UdpSpec parseUdp(const std::optional<Value>& payload, const std::optional<Value>& payloadHex,
                 const std::optional<Value>& requireReply, const std::optional<Value>& expect,
                 const std::optional<Value>& expectHex, const std::optional<Value>& match) {
  UdpSpec u;
  if (payload && payloadHex) payloadHex->fail("give payload or payload_hex, not both");
  if (payload) {
    u.payload = payload->asString();
    if (u.payload.size() > kMaxUdpPayload) {
      payload->fail("at most " + std::to_string(kMaxUdpPayload) + " bytes");
    }
  }
  if (payloadHex) u.payload = asHex(*payloadHex, kMaxUdpPayload);
  if (expect && expectHex) expectHex->fail("give expect or expect_hex, not both");
  const std::string how = match ? match->asOneOf({"exact", "prefix", "regex"}) : "prefix";
  if (match && !expect && !expectHex) match->fail("needs expect or expect_hex to match against");
  if (expectHex) {
    if (how == "regex") match->fail("a regex is text: give it as expect, not expect_hex");
    u.expect = asHex(*expectHex, kMaxUdpExpect);
  }
  if (expect) {
    u.expect = expect->asString();
    if (how == "regex") {
      if (u.expect.size() > kMaxUdpPattern) {
        expect->fail("a pattern of at most " + std::to_string(kMaxUdpPattern) + " characters");
      }
      try {
        const std::regex compiled(u.expect, std::regex::ECMAScript);
        static_cast<void>(compiled);
      } catch (const std::regex_error& e) {
        expect->fail(std::string("not a valid regular expression (ECMAScript): ") + e.what());
      }
    } else if (u.expect.size() > kMaxUdpExpect) {
      expect->fail("at most " + std::to_string(kMaxUdpExpect) + " bytes");
    }
  }
  if (expect || expectHex) {
    u.match = how == "exact"   ? UdpSpec::Match::kExact
              : how == "regex" ? UdpSpec::Match::kRegex
                               : UdpSpec::Match::kPrefix;
    u.requireReply = true;
  }
  if (requireReply) {
    const bool required = requireReply->asBool();
    if (!required && u.requireReply) {
      requireReply->fail("false contradicts expect / expect_hex, which need a reply");
    }
    u.requireReply = required;
  }
  return u;
}

CheckSpec parseCheck(const Value& v, const CheckDefaults& defaults, int family) {
  const Map m =
      v.asMap({"type",        "connect_ip",  "connect_port",   "bind_to", "timeout_ms",
               "interval_ms", "retries",     "retry_delay_ms", "rise",    "fall",
               "warmup_ms",   "path",        "status_codes",   "digest",  "virtualhost",
               "sni",         "verify",      "ca_file",        "helo",    "name",
               "query_type",  "command",     "user",           "dynamic", "requests_per_connection",
               "payload",     "payload_hex", "require_reply",  "expect",  "expect_hex",
               "match"});
  const Value typeValue = m.required("type");
  const std::string type =
      typeValue.asOneOf({"tcp", "http", "https", "smtp", "dns", "script", "udp", "ping", "file"});
  CheckSpec c;
  c.interval = defaults.interval;
  c.warmup = defaults.interval;

  // Keys that belong to some types only.
  auto only = [&](std::string_view key, std::initializer_list<std::string_view> types) {
    const auto x = m.optional(key);
    if (!x) return x;
    for (auto t : types) {
      if (t == type) return x;
    }
    std::string list;
    for (auto t : types) list += (list.empty() ? "" : ", ") + std::string(t);
    x->fail("not a key of a " + type + " check (only of " + list + ")");
  };
  const auto connectIp = only("connect_ip", {"tcp", "http", "https", "smtp", "dns", "udp", "ping"});
  const auto connectPort = only("connect_port", {"tcp", "http", "https", "smtp", "dns", "udp"});
  const auto bindTo = only("bind_to", {"tcp", "http", "https", "smtp", "dns", "udp", "ping"});
  const auto path = only("path", {"http", "https", "file"});
  const auto codes = only("status_codes", {"http", "https"});
  const auto digest = only("digest", {"http", "https"});
  const auto vhost = only("virtualhost", {"http", "https"});
  // An https check handshakes afresh every time (its session is not kept).
  const auto perConnection = only("requests_per_connection", {"http"});
  const auto sni = only("sni", {"https"});
  const auto verify = only("verify", {"https"});
  const auto caFile = only("ca_file", {"https"});
  const auto helo = only("helo", {"smtp"});
  const auto name = only("name", {"dns"});
  const auto queryType = only("query_type", {"dns"});
  const auto command = only("command", {"script"});
  const auto user = only("user", {"script"});
  const auto dynamic = only("dynamic", {"script"});
  const auto payload = only("payload", {"udp"});
  const auto payloadHex = only("payload_hex", {"udp"});
  const auto requireReply = only("require_reply", {"udp"});
  const auto expect = only("expect", {"udp"});
  const auto expectHex = only("expect_hex", {"udp"});
  const auto match = only("match", {"udp"});

  if (connectIp) c.address = asAddress(*connectIp, family);
  if (connectPort) c.port = static_cast<std::uint16_t>(connectPort->asInt(1, 65535, "port"));
  if (bindTo) c.bindTo = asAddress(*bindTo, c.address ? c.address->family : family);

  if (const auto x = m.optional("timeout_ms")) c.timeout = x->asMillis(1, 3'600'000);
  if (const auto x = m.optional("interval_ms")) c.interval = x->asMillis(10, 86'400'000);
  if (const auto x = m.optional("retries")) c.retries = static_cast<int>(x->asInt(0, 100, "tries"));
  if (const auto x = m.optional("retry_delay_ms")) c.retryDelay = x->asMillis(0, 3'600'000);
  if (const auto x = m.optional("rise")) c.rise = static_cast<int>(x->asInt(1, 100, "rounds"));
  if (const auto x = m.optional("fall")) c.fall = static_cast<int>(x->asInt(1, 100, "rounds"));
  c.warmup = c.interval;
  if (const auto x = m.optional("warmup_ms")) c.warmup = x->asMillis(0, 86'400'000);

  if (type == "tcp") {
    c.kind = TcpSpec{};
  } else if (type == "http" || type == "https") {
    HttpSpec h;
    h.tls = type == "https";
    if (path) h.path = asUrlPath(*path);
    if (codes) {
      h.statusCodes.clear();
      const auto list = codes->asList();
      if (list.empty()) codes->fail("expected at least one status code or range");
      for (const Value& r : list) h.statusCodes.push_back(asStatusRange(r));
    }
    if (digest) h.digest = asDigest(*digest);
    if (vhost) h.virtualHost = asHostName(*vhost);
    if (perConnection) {
      h.requestsPerConnection = static_cast<int>(perConnection->asInt(1, 1'000'000, "requests"));
    }
    if (sni) h.sni = asHostName(*sni);
    if (verify) h.verify = verify->asBool();
    if (caFile) {
      if (!h.verify) caFile->fail("only with verify: true (without it no certificate is checked)");
      h.caFile = caFile->asPath();
    }
    c.kind = std::move(h);
  } else if (type == "smtp") {
    SmtpSpec s;
    if (helo) s.helo = asHostName(*helo);
    c.kind = std::move(s);
  } else if (type == "dns") {
    DnsSpec d;
    if (name) d.name = asDnsName(*name);
    if (queryType) {
      std::string t = queryType->asString();
      for (char& ch : t) {
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
      }
      d.type = dnsTypeCode(t);
      if (d.type == 0) {
        queryType->fail(
            "expected one of A, AAAA, NS, SOA, CNAME, PTR, MX, TXT, SRV, CAA, ANY, got " +
            config::quote(t));
      }
    }
    c.kind = std::move(d);
  } else if (type == "udp") {
    c.kind = parseUdp(payload, payloadHex, requireReply, expect, expectHex, match);
  } else if (type == "ping") {
    c.kind = PingSpec{};
  } else if (type == "file") {
    if (!path) v.fail("a file check needs path: /absolute/file (its number is the weight)");
    c.kind = FileSpec{path->asPath()};
  } else {
    ScriptSpec s;
    if (!command) v.fail("a script check needs command: [\"/absolute/program\", \"arg\", ...]");
    s.argv = command->asCommand();
    if (user) s.user = user->asId();
    if (dynamic) s.dynamic = dynamic->asBool();
    c.kind = std::move(s);
  }
  return c;
}

}  // namespace

std::uint16_t dnsTypeCode(std::string_view name) {
  for (const auto& [n, code] : kDnsTypes) {
    if (n == name) return code;
  }
  return 0;
}

std::vector<CheckSpec> parseChecks(const Value& list, const CheckDefaults& defaults, int family) {
  std::vector<CheckSpec> out;
  for (const Value& v : list.asList()) out.push_back(parseCheck(v, defaults, family));
  return out;
}

}  // namespace quorate::server::check
