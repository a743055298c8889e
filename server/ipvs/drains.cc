// Drained real servers: the JSON file in the state directory and the resolution of names.
#include "server/ipvs/drains.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "common/state_file.h"
#include "common/yaml_config.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;

constexpr int kFormatVersion = 1;

// An endpoint as typed: an address and, when given, a port. nullopt when it is neither
// "ADDRESS", "ADDRESS:PORT", "[V6]" nor "[V6]:PORT".
struct TypedEndpoint {
  net::IpAddress address;
  std::optional<std::uint16_t> port;
};

std::optional<std::uint16_t> parsePort(std::string_view text) {
  unsigned n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty() || n > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(n);
}

std::optional<TypedEndpoint> parseTyped(std::string_view text) {
  std::string_view host = text;
  std::optional<std::uint16_t> port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || !(port = parsePort(rest.substr(1)))) return std::nullopt;
    }
  } else if (text.find(':') != std::string_view::npos &&
             text.find(':') == text.rfind(':')) {  // one colon: IPv4 with a port
    host = text.substr(0, text.find(':'));
    if (!(port = parsePort(text.substr(text.find(':') + 1)))) return std::nullopt;
  }
  const auto address = net::IpAddress::parse(host);
  if (!address) return std::nullopt;
  return TypedEndpoint{*address, port};
}

// At most the first 20: a refusal travels in gRPC's trailers (about 8 KiB in all), and a longer
// one reaches the operator as a metadata error instead of itself.
std::string joined(const std::vector<std::string>& items) {
  constexpr std::size_t kShown = 20;
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < kShown; ++i) {
    out += (out.empty() ? "" : ", ") + items[i];
  }
  if (items.size() > kShown) out += " and " + std::to_string(items.size() - kShown) + " more";
  return out.empty() ? "none" : out;
}

Status notFound(std::string what) { return Status::fail(ENOENT, std::move(what)); }

// The operator's words in a refusal: quoted, control characters escaped and cut, so that a
// hostile name neither forges a log line nor makes the reply too large for gRPC's metadata.
std::string said(std::string_view words) { return config::quote(words, 100); }
Status invalid(std::string what) { return Status::fail(EINVAL, std::move(what)); }

// The virtual servers `words` names (see resolveDrain).
std::vector<const VirtualServerConfig*> matchVirtualServers(const IpvsConfig& config,
                                                            std::string_view words) {
  std::vector<const VirtualServerConfig*> out;
  for (const auto& vs : config.virtualServers) {
    if (vs.name == words) return {&vs};
  }
  const auto typed = parseTyped(words);
  for (const auto& vs : config.virtualServers) {
    const kipvs::ServiceKey& k = vs.service.key;
    if (k.toString() == words) return {&vs};
    if (k.isFwmark()) {
      if ("fwmark " + std::to_string(k.fwmark) == words) out.push_back(&vs);
    } else if (typed && typed->port && typed->address == k.address && *typed->port == k.port) {
      out.push_back(&vs);
    }
  }
  return out;
}

}  // namespace

std::string DrainKey::toString() const { return virtualServer + " " + realServer; }

std::string drainsToText(const DrainSet& drains) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& d : drains) {
    list.push_back({{"virtual_server", d.virtualServer}, {"real_server", d.realServer}});
  }
  return nlohmann::json{{"version", kFormatVersion}, {"drains", std::move(list)}}.dump() + "\n";
}

Result<DrainSet> drainsFromText(std::string_view text, const std::string& path) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid(path + ": not JSON");
  if (!j.is_object() || !j.contains("version") || !j["version"].is_number_integer()) {
    return invalid(path +
                   ": expected an object with \"version\": " + std::to_string(kFormatVersion));
  }
  if (j["version"].get<std::int64_t>() != kFormatVersion) {
    return invalid(path + ": version " + j["version"].dump() + " (this director reads " +
                   std::to_string(kFormatVersion) + ")");
  }
  if (!j.contains("drains") || !j["drains"].is_array()) {
    return invalid(path + ": expected \"drains\": [...]");
  }
  DrainSet out;
  std::size_t i = 0;
  for (const auto& d : j["drains"]) {
    const std::string where = path + ": drains[" + std::to_string(i++) + "]";
    if (!d.is_object() || !d.contains("virtual_server") || !d["virtual_server"].is_string() ||
        !d.contains("real_server") || !d["real_server"].is_string()) {
      return invalid(where + ": expected {\"virtual_server\": NAME, \"real_server\": ENDPOINT}");
    }
    DrainKey k{d["virtual_server"].get<std::string>(), d["real_server"].get<std::string>()};
    const auto ep = parseTyped(k.realServer);
    if (k.virtualServer.empty() || !ep || !ep->port) {
      return invalid(where + ": \"" + k.realServer + "\" is not ADDRESS:PORT");
    }
    out.insert(std::move(k));
  }
  return out;
}

Result<DrainSet> loadDrains(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return DrainSet{};
    return Status::fail(errno, "cannot read " + path);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::fail(errno, "cannot read " + path);
  if (!S_ISREG(st.st_mode)) return invalid(path + ": not a regular file");
  // One byte past the bound tells a file too large from one at it (it may grow meanwhile).
  std::string text(kMaxDrainsFileBytes + 1, '\0');
  std::size_t size = 0;
  while (size < text.size()) {
    const ssize_t got = ::read(fd, text.data() + size, text.size() - size);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Status::fail(errno, "cannot read " + path);
    if (got == 0) break;
    size += static_cast<std::size_t>(got);
  }
  if (size > kMaxDrainsFileBytes) {
    return invalid(path + ": larger than " + std::to_string(kMaxDrainsFileBytes) + " bytes");
  }
  text.resize(size);
  return drainsFromText(text, path);
}

Status saveDrains(const std::string& path, const DrainSet& drains) {
  return writeFileDurably(path, drainsToText(drains));
}

Result<DrainKey> resolveDrain(const IpvsConfig& config, std::string_view virtualServer,
                              std::string_view realServer) {
  const auto matches = matchVirtualServers(config, virtualServer);
  if (matches.empty()) {
    // A group's members share its name: it is listed once, or a large group makes the refusal
    // too long for gRPC's trailers and the operator reads a metadata error instead.
    std::vector<std::string> names;
    for (const auto& vs : config.virtualServers) {
      if (vs.group.empty()) {
        names.push_back(vs.name + " (" + vs.service.key.toString() + ")");
      } else if (vs.member == 0) {
        const auto n =
            std::count_if(config.virtualServers.begin(), config.virtualServers.end(),
                          [&](const VirtualServerConfig& o) { return o.name == vs.name; });
        names.push_back(vs.name + " (group " + vs.group + ", " + std::to_string(n) + " services)");
      }
    }
    return notFound("no virtual server " + said(virtualServer) + "; configured: " + joined(names));
  }
  if (matches.size() > 1) {
    std::vector<std::string> names;
    for (const auto* vs : matches)
      names.push_back(vs->name + " (" + vs->service.key.toString() + ")");
    return invalid(said(virtualServer) + " names " + joined(names) +
                   ": give the name or the protocol");
  }
  const VirtualServerConfig& vs = *matches.front();
  const auto typed = parseTyped(realServer);
  if (!typed) {
    return invalid(said(realServer) +
                   " is not a real server: ADDRESS:PORT, [IPV6]:PORT or an address");
  }
  std::vector<std::string> found, all;
  for (const auto& rs : vs.realServers) {
    all.push_back(rs.dest.endpoint());
    if (rs.dest.address == typed->address && (!typed->port || *typed->port == rs.dest.port)) {
      found.push_back(rs.dest.endpoint());
    }
  }
  if (found.empty()) {
    return notFound("virtual server " + vs.name + " has no real server " + said(realServer) +
                    "; its real servers: " + joined(all));
  }
  if (found.size() > 1) {
    return invalid(said(realServer) + " is " + joined(found) + " in " + vs.name +
                   ": give the port");
  }
  return DrainKey{vs.name, found.front()};
}

Result<DrainOutcome> changeDrain(const IpvsConfig& config, const DrainSet& drains,
                                 std::string_view virtualServer, std::string_view realServer,
                                 bool drain) {
  auto key = resolveDrain(config, virtualServer, realServer);
  if (!key && !drain && key.status().err() == ENOENT) {
    const DrainKey stale{std::string(virtualServer), std::string(realServer)};
    if (drains.count(stale)) key = stale;
  }
  if (!key) return key.status();
  DrainOutcome out{*key, false, drains};
  out.changed = drain ? out.drains.insert(*key).second : out.drains.erase(*key) > 0;
  return out;
}

}  // namespace quorate::server::ipvs
