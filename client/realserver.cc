// quoratectl realserver: VIPs on a device over rtnetlink, the ARP sysctls, and the state that
// lets teardown put back what setup found.
#include "client/realserver.h"

#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/net_types.h"

namespace quorate::client {
namespace {

constexpr std::array<std::string_view, 2> kSysctls = {"arp_ignore", "arp_announce"};
constexpr std::array<std::string_view, 2> kWanted = {"1", "2"};

std::string errnoText(int e) { return std::strerror(e); }

// The address of a VIP as typed ("198.18.0.10", "198.18.0.10/32", "2001:db8::10/128").
std::optional<net::IpAddress> vipAddress(std::string_view text, std::string* why) {
  std::string_view host = text;
  const auto slash = text.find('/');
  if (slash != std::string_view::npos) host = text.substr(0, slash);
  const auto a = net::IpAddress::parse(host);
  if (!a) {
    *why = "\"" + std::string(text) + "\" is not an IPv4 or IPv6 address";
    return std::nullopt;
  }
  if (slash != std::string_view::npos) {
    const std::string_view prefix = text.substr(slash + 1);
    if (prefix != (a->isV4() ? "32" : "128")) {
      *why = "\"" + std::string(text) + "\": a real server holds a VIP as one address (" +
             (a->isV4() ? "/32" : "/128") + "); a wider prefix would make it answer for a subnet";
      return std::nullopt;
    }
  }
  const auto& b = a->bytes;
  const bool unset = std::all_of(b.begin(), b.begin() + static_cast<long>(a->size()),
                                 [](std::uint8_t x) { return x == 0; });
  const bool loopback =
      a->isV4() ? b[0] == 127
                : std::all_of(b.begin(), b.begin() + 15, [](std::uint8_t x) { return x == 0; }) &&
                      b[15] == 1;
  const bool multicast = a->isV4() ? (b[0] & 0xf0) == 0xe0 : b[0] == 0xff;
  // IPv4 "this network" and the limited broadcast; IPv6 link-local (a VIP has no scope) and
  // IPv4-mapped (never an IPv6 packet's destination).
  const bool special =
      a->isV4()
          ? b[0] == 0 ||
                std::all_of(b.begin(), b.begin() + 4, [](std::uint8_t x) { return x == 0xff; })
          : (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
                (std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; }) &&
                 b[10] == 0xff && b[11] == 0xff);
  if (unset || loopback || multicast || special) {
    *why = "\"" + std::string(text) +
           "\" cannot be a VIP (unspecified, loopback, multicast, broadcast, link-local or "
           "IPv4-mapped)";
    return std::nullopt;
  }
  return a;
}

std::string withPrefix(const net::IpAddress& a) {
  return a.toString() + (a.isV4() ? "/32" : "/128");
}

// One RTM_NEWADDR (create, exclusive) or RTM_DELADDR for `a` on `ifindex`: 0 or the errno.
int addressRequest(std::uint16_t type, int ifindex, const net::IpAddress& a) {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return errno;
  struct {
    nlmsghdr h;
    ifaddrmsg ifa;
    char attrs[64];
  } req{};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  if (type == RTM_NEWADDR) req.h.nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
  req.h.nlmsg_seq = 1;
  req.ifa.ifa_family = static_cast<std::uint8_t>(a.family);
  req.ifa.ifa_prefixlen = a.isV4() ? 32 : 128;
  req.ifa.ifa_flags = a.isV4() ? 0 : IFA_F_NODAD;  // answers at once, no duplicate detection
  req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  req.ifa.ifa_index = static_cast<unsigned>(ifindex);
  for (const std::uint16_t attr : {IFA_LOCAL, IFA_ADDRESS}) {
    auto* rta =
        reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&req) + NLMSG_ALIGN(req.h.nlmsg_len));
    rta->rta_type = attr;
    rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(a.size()));
    std::memcpy(RTA_DATA(rta), a.bytes.data(), a.size());
    req.h.nlmsg_len = NLMSG_ALIGN(req.h.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  int result = 0;
  if (::sendto(fd, &req, req.h.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) <
      0) {
    result = errno;
  } else {
    alignas(nlmsghdr) char reply[1024];
    const ssize_t n = ::recv(fd, reply, sizeof reply, 0);
    const auto* h = reinterpret_cast<const nlmsghdr*>(reply);
    if (n < 0) {
      result = errno;
    } else if (!NLMSG_OK(h, static_cast<unsigned>(n)) || h->nlmsg_type != NLMSG_ERROR) {
      result = EPROTO;
    } else {
      result = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
    }
  }
  ::close(fd);
  return result;
}

// Brings `device` up (lo is down in a new network namespace): 0 or the errno.
int linkUp(const std::string& device) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  ifreq r{};
  std::strncpy(r.ifr_name, device.c_str(), IFNAMSIZ - 1);
  int result = 0;
  if (::ioctl(fd, SIOCGIFFLAGS, &r) != 0) {
    result = errno;
  } else if ((r.ifr_flags & IFF_UP) == 0) {
    r.ifr_flags = static_cast<short>(r.ifr_flags | IFF_UP);
    if (::ioctl(fd, SIOCSIFFLAGS, &r) != 0) result = errno;
  }
  ::close(fd);
  return result;
}

std::optional<std::string> readLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Replaces `path` by a rename, so a crash leaves the old content or the new.
bool writeAtomically(const std::string& path, const std::string& text, std::ostream& err) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      err << "quoratectl: cannot write " << tmp << ": " << errnoText(errno) << std::endl;
      return false;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err << "quoratectl: cannot rename " << tmp << ": " << errnoText(errno) << std::endl;
    return false;
  }
  return true;
}

bool writeSysctl(const std::string& path, std::string_view value, std::ostream& err) {
  std::ofstream out(path);
  out << value << "\n";
  out.flush();
  if (!out) {
    err << "quoratectl: cannot write " << path << ": " << errnoText(errno) << std::endl;
    return false;
  }
  return true;
}

std::string sysctlPath(const RealServerOptions& o, std::string_view key) {
  return o.procSys + "/net/ipv4/conf/all/" + std::string(key);
}

bool saveList(const RealServerOptions& o, const std::vector<std::string>& vips, std::ostream& err) {
  const std::string path = o.stateDir + "/vips";
  if (vips.empty()) {
    std::filesystem::remove(path);
    return true;
  }
  std::string text;
  for (const auto& v : vips) text += v + "\n";
  return writeAtomically(path, text, err);
}

// The parsed VIPs, or nullopt with each bad one named on `err`.
std::optional<std::vector<net::IpAddress>> parseVips(const RealServerOptions& o,
                                                     std::ostream& err) {
  std::vector<net::IpAddress> out;
  bool ok = !o.vips.empty();
  if (!ok) err << "quoratectl: realserver: give at least one --vip" << std::endl;
  for (const auto& text : o.vips) {
    std::string why;
    if (const auto a = vipAddress(text, &why)) {
      out.push_back(*a);
    } else {
      err << "quoratectl: --vip: " << why << std::endl;
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace

std::string realServerVipError(std::string_view text) {
  std::string why;
  return vipAddress(text, &why) ? std::string() : why;
}

int runRealServerSetup(const RealServerOptions& o, std::ostream& out, std::ostream& err) {
  const auto vips = parseVips(o, err);
  if (!vips) return 2;
  const unsigned ifindex = ::if_nametoindex(o.device.c_str());
  if (ifindex == 0) {
    err << "quoratectl: realserver setup: no device \"" << o.device << "\" here ("
        << errnoText(errno) << ")" << std::endl;
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(o.stateDir, ec);
  if (ec) {
    err << "quoratectl: cannot create " << o.stateDir << ": " << ec.message() << std::endl;
    return 1;
  }
  // Saved before the first change and kept across repeated setups: teardown restores these.
  const std::string saved = o.stateDir + "/sysctls";
  if (!std::filesystem::exists(saved)) {
    std::string text;
    for (const auto key : kSysctls) {
      const auto value = readLine(sysctlPath(o, key));
      if (!value) {
        err << "quoratectl: cannot read " << sysctlPath(o, key) << ": " << errnoText(errno)
            << std::endl;
        return 1;
      }
      text += std::string(key) + "=" + *value + "\n";
    }
    if (!writeAtomically(saved, text, err)) return 1;
  }
  for (std::size_t i = 0; i < kSysctls.size(); ++i) {
    const std::string path = sysctlPath(o, kSysctls[i]);
    const auto now = readLine(path);
    if (now && *now == kWanted[i]) continue;
    if (!writeSysctl(path, kWanted[i], err)) return 1;
    out << "set " << kSysctls[i] << "=" << kWanted[i] << " (was " << now.value_or("?") << ")\n";
  }
  std::vector<std::string> listed = readLines(o.stateDir + "/vips");
  int status = 0;
  for (const auto& a : *vips) {
    const int e = addressRequest(RTM_NEWADDR, static_cast<int>(ifindex), a);
    if (e != 0 && e != EEXIST) {
      err << "quoratectl: cannot add " << withPrefix(a) << " to " << o.device << ": "
          << errnoText(e) << std::endl;
      status = 1;
      continue;
    }
    if (e == 0) out << "added " << withPrefix(a) << " to " << o.device << "\n";
    if (std::find(listed.begin(), listed.end(), a.toString()) == listed.end()) {
      listed.push_back(a.toString());
      if (!saveList(o, listed, err)) return 1;
    }
  }
  if (const int e = linkUp(o.device); e != 0) {
    err << "quoratectl: cannot bring " << o.device << " up: " << errnoText(e) << std::endl;
    status = 1;
  }
  out << std::flush;
  return status;
}

int runRealServerTeardown(const RealServerOptions& o, std::ostream& out, std::ostream& err) {
  const auto vips = parseVips(o, err);
  if (!vips) return 2;
  // A device that is gone holds no VIP: the state is cleaned up all the same.
  const unsigned ifindex = ::if_nametoindex(o.device.c_str());
  std::vector<std::string> listed = readLines(o.stateDir + "/vips");
  int status = 0;
  for (const auto& a : *vips) {
    const int e = ifindex == 0 ? EADDRNOTAVAIL : addressRequest(RTM_DELADDR, ifindex, a);
    if (e != 0 && e != EADDRNOTAVAIL && e != ENOENT && e != ESRCH) {
      err << "quoratectl: cannot remove " << withPrefix(a) << " from " << o.device << ": "
          << errnoText(e) << std::endl;
      status = 1;
      continue;
    }
    if (e == 0) out << "removed " << withPrefix(a) << " from " << o.device << "\n";
    listed.erase(std::remove(listed.begin(), listed.end(), a.toString()), listed.end());
  }
  if (std::filesystem::exists(o.stateDir) && !saveList(o, listed, err)) return 1;
  // The sysctls go back only when no VIP setup added is left.
  const std::string saved = o.stateDir + "/sysctls";
  if (listed.empty() && std::filesystem::exists(saved)) {
    for (const auto& line : readLines(saved)) {
      const auto eq = line.find('=');
      const std::string key = line.substr(0, eq);
      if (eq == std::string::npos ||
          std::find(kSysctls.begin(), kSysctls.end(), key) == kSysctls.end()) {
        continue;
      }
      if (!writeSysctl(sysctlPath(o, key), line.substr(eq + 1), err)) return 1;
    }
    std::filesystem::remove(saved);
    out << "ARP sysctls restored\n";
  }
  out << std::flush;
  return status;
}

}  // namespace quorate::client
