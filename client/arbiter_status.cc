// quoratectl status against an arbiter's operator socket: the call, and its rendering.
#include "client/arbiter_status.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "client/commands.h"
#include "client/format.h"

namespace quorate::client {
namespace {

// "1.2 s" for an age or a remaining time given in milliseconds.
std::string seconds(std::int64_t ms) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << static_cast<double>(ms) / 1000.0 << " s";
  return out.str();
}

}  // namespace

nlohmann::json arbiterStatusToJson(const quorate::v1::ArbiterStatusReply& reply) {
  nlohmann::json clusters = nlohmann::json::array();
  for (const auto& c : reply.clusters()) {
    nlohmann::json leases = nlohmann::json::array();
    for (const auto& l : c.leases()) {
      leases.push_back(
          {{"name", l.name()},
           {"holder", l.holder().empty() ? nlohmann::json() : nlohmann::json(l.holder())},
           {"epoch", l.epoch()},
           {"remaining_ms", l.remaining_ms()},
           {"quarantine", l.quarantine()}});
    }
    nlohmann::json contacts = nlohmann::json::array();
    for (const auto& n : c.contacts()) {
      contacts.push_back({{"node", n.node()}, {"age_ms", n.age_ms()}});
    }
    clusters.push_back({{"id", c.id()}, {"leases", leases}, {"contacts", contacts}});
  }
  return {{"arbiter", true},
          {"clusters", clusters},
          {"reloads", reply.reloads()},
          {"reload_failures", reply.reload_failures()}};
}

std::string formatArbiterStatus(const quorate::v1::ArbiterStatusReply& reply) {
  std::vector<std::vector<std::string>> rows = {
      {"CLUSTER", "LEASE", "HOLDER", "EPOCH", "LEFT", "STATE"}};
  for (const auto& c : reply.clusters()) {
    for (const auto& l : c.leases()) {
      rows.push_back({c.id(), l.name(), l.holder().empty() ? "-" : l.holder(),
                      std::to_string(l.epoch()),
                      l.remaining_ms() > 0 ? std::to_string(l.remaining_ms()) + " ms" : "-",
                      l.quarantine() ? "quarantine" : "serving"});
    }
  }
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::ostringstream out;
  out << "arbiter: " << reply.clusters_size() << " clusters";
  if (reply.reloads() > 0 || reply.reload_failures() > 0) {
    out << ", " << reply.reloads() << " reloads (" << reply.reload_failures() << " refused)";
  }
  out << "\n";
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
  for (const auto& c : reply.clusters()) {
    out << "cluster " << c.id() << " last contact:";
    if (c.contacts_size() == 0) out << " none since the arbiter's start";
    for (const auto& n : c.contacts())
      out << " " << n.node() << " " << seconds(n.age_ms()) << " ago";
    out << "\n";
  }
  return out.str();
}

int runArbiterStatus(DirectorClient& client, bool json, std::ostream& out, std::ostream& err,
                     const CallCanceller* canceller) {
  quorate::v1::ArbiterStatusReply reply;
  const grpc::Status status = client.arbiterStatus(&reply);
  if (canceller != nullptr && canceller->cancelled()) {
    err << "quoratectl: interrupted" << std::endl;
    return kExitInterrupted;
  }
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    err << "quoratectl: " << client.target()
        << ": neither a director's nor an arbiter's status API answers there (both calls "
           "UNIMPLEMENTED)"
        << std::endl;
    return kExitFailure;
  }
  if (!status.ok()) {
    err << formatRpcError(client.target(), status) << std::endl;
    return kExitFailure;
  }
  if (json) {
    out << arbiterStatusToJson(reply).dump() << std::endl;
  } else {
    out << formatArbiterStatus(reply) << std::flush;
  }
  return kExitOk;
}

}  // namespace quorate::client
