// Rendering of the kernel's IPVS table for quoratectl ipvs.
#include "client/ipvs_format.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace quorate::client {
namespace {

using quorate::v1::IpvsDestination;
using quorate::v1::IpvsService;
using quorate::v1::IpvsStats;

std::string endpoint(const std::string& address, std::uint32_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::string serviceText(const IpvsService& s) {
  std::string protocol = s.fwmark() != 0 ? "FWM" : s.protocol();
  std::transform(protocol.begin(), protocol.end(), protocol.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string text = protocol + "  " +
                     (s.fwmark() != 0 ? std::to_string(s.fwmark()) + (s.ipv6() ? " IPv6" : "")
                                      : endpoint(s.address(), s.port()));
  text += " " + s.scheduler();
  if (s.persistence_s() > 0) text += " persistent " + std::to_string(s.persistence_s());
  if (!s.virtual_server().empty()) text += " (" + s.virtual_server() + ")";
  return text;
}

std::vector<std::string> statsCells(const IpvsStats& s, bool rates) {
  auto n = [](std::uint64_t v) { return std::to_string(v); };
  if (rates) {
    return {n(s.connections()), n(s.cps()),    n(s.in_pps()),
            n(s.out_pps()),     n(s.in_bps()), n(s.out_bps())};
  }
  return {n(s.connections()), n(s.in_packets()), n(s.out_packets()),
          n(s.in_bytes()),    n(s.out_bytes()),  n(s.cps())};
}

nlohmann::json statsJson(const IpvsStats& s) {
  return {{"connections", s.connections()}, {"in_packets", s.in_packets()},
          {"out_packets", s.out_packets()}, {"in_bytes", s.in_bytes()},
          {"out_bytes", s.out_bytes()},     {"cps", s.cps()},
          {"in_pps", s.in_pps()},           {"out_pps", s.out_pps()},
          {"in_bps", s.in_bps()},           {"out_bps", s.out_bps()}};
}

nlohmann::json orNull(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

}  // namespace

std::string formatIpvsTable(const quorate::v1::IpvsTableReply& reply, bool rates) {
  if (reply.services_size() == 0) return "no IPVS services\n";
  std::vector<std::string> headers = {"SERVICE / -> REAL SERVER", "FWD", "WEIGHT", "ACTIVE",
                                      "INACT"};
  const std::vector<std::string> counters =
      rates ? std::vector<std::string>{"CONNS", "CPS", "INPPS", "OUTPPS", "INBPS", "OUTBPS"}
            : std::vector<std::string>{"CONNS", "INPKTS", "OUTPKTS", "INBYTES", "OUTBYTES", "CPS"};
  headers.insert(headers.end(), counters.begin(), counters.end());
  std::vector<std::vector<std::string>> rows;
  for (const IpvsService& s : reply.services()) {
    std::vector<std::string> row = {serviceText(s), "", "", "", ""};
    for (auto& c : statsCells(s.stats(), rates)) row.push_back(std::move(c));
    rows.push_back(std::move(row));
    for (const IpvsDestination& d : s.destinations()) {
      std::vector<std::string> r = {
          "  -> " + endpoint(d.address(), d.port()), d.forward(), std::to_string(d.weight()),
          std::to_string(d.active_connections()), std::to_string(d.inactive_connections())};
      for (auto& c : statsCells(d.stats(), rates)) r.push_back(std::move(c));
      rows.push_back(std::move(r));
    }
  }
  std::vector<std::size_t> widths(headers.size());
  for (std::size_t c = 0; c < headers.size(); ++c) {
    widths[c] = headers[c].size();
    for (const auto& row : rows) widths[c] = std::max(widths[c], row[c].size());
  }
  std::ostringstream out;
  auto write = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string gap(widths[c] - cells[c].size(), ' ');
      // The first two columns are words (left), the rest numbers (right).
      if (c < 2) {
        line += cells[c] + (c + 1 < cells.size() ? gap + "  " : "");
      } else {
        line += gap + cells[c] + (c + 1 < cells.size() ? "  " : "");
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  write(headers);
  for (const auto& row : rows) write(row);
  return out.str();
}

nlohmann::json ipvsTableToJson(const quorate::v1::IpvsTableReply& reply) {
  nlohmann::json services = nlohmann::json::array();
  for (const IpvsService& s : reply.services()) {
    const bool mark = s.fwmark() != 0;
    nlohmann::json dests = nlohmann::json::array();
    for (const IpvsDestination& d : s.destinations()) {
      dests.push_back({{"address", d.address()},
                       {"port", d.port()},
                       {"forward", d.forward()},
                       {"weight", d.weight()},
                       {"active_connections", d.active_connections()},
                       {"inactive_connections", d.inactive_connections()},
                       {"stats", statsJson(d.stats())}});
    }
    services.push_back({{"protocol", mark ? nlohmann::json(nullptr) : nlohmann::json(s.protocol())},
                        {"address", mark ? nlohmann::json(nullptr) : nlohmann::json(s.address())},
                        {"port", mark ? nlohmann::json(nullptr) : nlohmann::json(s.port())},
                        {"fwmark", mark ? nlohmann::json(s.fwmark()) : nlohmann::json(nullptr)},
                        {"family", s.ipv6() ? "ipv6" : "ipv4"},
                        {"scheduler", s.scheduler()},
                        {"persistence_s", s.persistence_s()},
                        {"virtual_server", orNull(s.virtual_server())},
                        {"stats", statsJson(s.stats())},
                        {"real_servers", std::move(dests)}});
  }
  return {{"services", std::move(services)}};
}

}  // namespace quorate::client
