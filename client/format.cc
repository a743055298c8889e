// Rendering of Director replies for quoratectl: JSON objects, the status table, watch lines.
#include "client/format.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string_view>
#include <vector>

namespace quorate::client {
namespace {

using quorate::v1::LeaseStatus;
using quorate::v1::NodeStatus;
using quorate::v1::StatusReply;

constexpr std::size_t kMinColumn = 8;  // narrowest content column, before the gap
constexpr std::size_t kColumnGap = 2;
constexpr std::int64_t kLongAgoMs = 10'000;  // from here on, show seconds

nlohmann::json stringOrNull(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

nlohmann::json stringArray(const google::protobuf::RepeatedPtrField<std::string>& items) {
  nlohmann::json array = nlohmann::json::array();
  for (const std::string& item : items) array.push_back(item);
  return array;
}

// Holder and standby are self-explanatory; any other role comes with the director's reason.
bool showsReason(const std::string& role, const std::string& reason) {
  return role != "holder" && role != "standby" && !reason.empty();
}

std::string roleText(const std::string& role, const std::string& reason) {
  std::string text = role.empty() ? "unknown" : role;
  if (showsReason(role, reason)) text += " (" + reason + ")";
  return text;
}

std::string roleText(const StatusReply& reply) {
  return roleText(reply.role(), reply.role_reason());
}

std::string leaseText(const StatusReply& reply) {
  if (reply.lease_remaining_ms() <= 0) return "no lease";
  return "lease " + std::to_string(reply.lease_remaining_ms()) + " ms left";
}

std::string orNone(const std::string& s) { return s.empty() ? "none" : s; }

std::string lastSeenText(const NodeStatus& node) {
  if (node.self()) return "-";
  const std::int64_t ms = node.last_seen_ms();
  if (ms < 0) return "never";
  if (ms < kLongAgoMs) return std::to_string(ms) + " ms";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// Left-aligned columns at least kMinColumn wide, kColumnGap apart, no trailing blanks.
void writeTable(std::ostream& out, const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(headers.size());
  for (std::size_t c = 0; c < headers.size(); ++c) {
    std::size_t w = std::max(headers[c].size(), kMinColumn);
    for (const auto& row : rows) w = std::max(w, row[c].size());
    widths[c] = w + kColumnGap;
  }
  auto writeRow = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      line += c + 1 < cells.size() ? pad(cells[c], widths[c]) : cells[c];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  writeRow(headers);
  for (const auto& row : rows) writeRow(row);
}

std::string joined(const std::vector<std::string>& parts, std::string_view separator) {
  std::string text;
  for (const std::string& part : parts) {
    if (!text.empty()) text += separator;
    text += part;
  }
  return text;
}

// The table appears only where a single default lease would just repeat the header.
bool showsLeaseTable(const StatusReply& reply) {
  if (reply.leases_size() > 1) return true;
  return std::any_of(reply.leases().begin(), reply.leases().end(),
                     [](const LeaseStatus& l) { return l.vips_size() > 0; });
}

// "edge", or "edge [web, dns]" for a sync group whose instances are not just the lease itself.
std::string leaseNameText(const LeaseStatus& lease) {
  std::string text = lease.name().empty() ? "-" : lease.name();
  if (lease.instances_size() == 0 ||
      (lease.instances_size() == 1 && lease.instances(0) == lease.name())) {
    return text;
  }
  return text + " [" + joined({lease.instances().begin(), lease.instances().end()}, ", ") + "]";
}

// "standby", "candidate (waiting for a quorum)", "standby (not eligible)".
std::string leaseRoleText(const LeaseStatus& lease) {
  std::vector<std::string> notes;
  if (showsReason(lease.role(), lease.role_reason())) notes.push_back(lease.role_reason());
  if (!lease.eligible()) notes.push_back("not eligible");
  if (lease.quorum_lost()) notes.push_back("quorum lost");
  if (!lease.claim_gate().empty()) notes.push_back("claim waits for " + lease.claim_gate());
  if (lease.hold_remaining_ms() > 0) {
    notes.push_back("no preemption back for " + std::to_string(lease.hold_remaining_ms() / 1000) +
                    " s");
  }
  std::string text = lease.role().empty() ? "unknown" : lease.role();
  if (!notes.empty()) text += " (" + joined(notes, "; ") + ")";
  return text;
}

std::string leaseVipsText(const LeaseStatus& lease) {
  if (lease.vips_size() == 0) return "-";
  std::vector<std::string> vips;
  for (const std::string& v : lease.vips()) vips.push_back(compactVip(v));
  std::string text = joined(vips, ", ");
  if (lease.vips_claimed()) text += " (up here)";
  return text;
}

// "health ok", "health: eth1 down; check_web failed"; empty for replies that predate
// health reporting (no leases) and report no problem.
std::string healthText(const StatusReply& reply) {
  if (reply.health_problems_size() > 0) {
    return "health: " +
           joined({reply.health_problems().begin(), reply.health_problems().end()}, "; ");
  }
  if (reply.leases_size() == 0) return "";
  return reply.healthy() ? "health ok" : "health: not ok (no details given)";
}

}  // namespace

namespace {

// The counters of the director's parts beside the lease; null for a part that is off.
struct PartsJson {
  nlohmann::json hooks;
  nlohmann::json eventLog;
  nlohmann::json watchdog;
};
PartsJson partsToJson(const StatusReply& reply) {
  PartsJson p;
  if (reply.has_hooks()) {
    const auto& h = reply.hooks();
    p.hooks = {{"runs", h.runs()},
               {"failures", h.failures()},
               {"timeouts", h.timeouts()},
               {"dropped", h.dropped()},
               {"fifo_errors", h.fifo_errors()},
               {"fences", h.fences()},
               {"fence_failures", h.fence_failures()},
               {"gates_failed", h.gates_failed()}};
  }
  if (reply.has_event_log()) {
    const auto& e = reply.event_log();
    p.eventLog = {
        {"written", e.written()}, {"dropped", e.dropped()}, {"write_errors", e.write_errors()}};
  }
  if (reply.has_watchdog()) {
    const auto& w = reply.watchdog();
    p.watchdog = {
        {"pets", w.pets()}, {"refusals", w.refusals()}, {"pet_failures", w.pet_failures()}};
  }
  return p;
}

}  // namespace

nlohmann::json statusToJson(const StatusReply& reply) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const NodeStatus& n : reply.nodes()) {
    nodes.push_back({
        {"id", n.id()},
        {"role", n.role()},
        {"reachable", n.reachable()},
        {"last_seen_ms",
         n.last_seen_ms() < 0 ? nlohmann::json(nullptr) : nlohmann::json(n.last_seen_ms())},
        {"address", n.address()},
        {"self", n.self()},
    });
  }
  nlohmann::json leases = nlohmann::json::array();
  for (const LeaseStatus& l : reply.leases()) {
    leases.push_back({
        {"name", l.name()},
        {"role", l.role()},
        {"role_reason", l.role_reason()},
        {"holder", stringOrNull(l.holder())},
        {"epoch", l.epoch()},
        {"lease_remaining_ms", l.lease_remaining_ms()},
        {"preferred", stringOrNull(l.preferred())},
        {"instances", stringArray(l.instances())},
        {"vips", stringArray(l.vips())},
        {"vips_claimed", l.vips_claimed()},
        {"eligible", l.eligible()},
        {"state", stringOrNull(l.state())},
        {"quorum_lost", l.quorum_lost()},
        {"claim_gate", stringOrNull(l.claim_gate())},
        {"hold_remaining_ms", l.hold_remaining_ms()},
    });
  }
  nlohmann::json virtualServers = nlohmann::json::array();
  for (const auto& v : reply.virtual_servers()) {
    nlohmann::json servers = nlohmann::json::array();
    for (const auto& rs : v.real_servers()) {
      servers.push_back({
          {"endpoint", rs.endpoint()},
          {"weight", rs.weight()},
          {"weight_in_effect", rs.weight_in_effect()},
          {"drained", rs.drained()},
          {"alive", rs.alive()},
          {"checked", rs.checked()},
          {"health", rs.health()},
          {"installed", rs.installed()},
          {"sorry", rs.sorry()},
          {"active_connections", rs.active_connections()},
          {"inactive_connections", rs.inactive_connections()},
          {"connections", rs.connections()},
          {"in_bytes", rs.in_bytes()},
          {"out_bytes", rs.out_bytes()},
          {"cps", rs.cps()},
      });
    }
    virtualServers.push_back({
        {"name", v.name()},
        {"lease", v.lease()},
        {"service", v.service()},
        {"programmed", v.programmed()},
        {"quorum_up", v.quorum_up()},
        {"alive_weight", v.alive_weight()},
        {"last_error", stringOrNull(v.last_error())},
        {"connections", v.connections()},
        {"in_bytes", v.in_bytes()},
        {"out_bytes", v.out_bytes()},
        {"cps", v.cps()},
        {"real_servers", std::move(servers)},
    });
  }
  // Directors that report leases also report health; older ones send neither.
  nlohmann::json healthy =
      reply.leases_size() > 0 ? nlohmann::json(reply.healthy()) : nlohmann::json(nullptr);
  return {
      {"cluster", reply.cluster()},
      {"node", reply.node()},
      {"role", reply.role()},
      {"role_reason", reply.role_reason()},
      {"holder", stringOrNull(reply.holder())},
      {"epoch", reply.epoch()},
      {"lease_remaining_ms", reply.lease_remaining_ms()},
      {"preferred", stringOrNull(reply.preferred())},
      {"version", reply.version()},
      {"nodes", std::move(nodes)},
      {"leases", std::move(leases)},
      {"healthy", std::move(healthy)},
      {"health_problems", stringArray(reply.health_problems())},
      {"virtual_servers", std::move(virtualServers)},
      {"frames_suppressed", reply.frames_suppressed()},
      {"lease_lapses", reply.lease_lapses()},
      {"hooks", partsToJson(reply).hooks},
      {"event_log", partsToJson(reply).eventLog},
      {"watchdog", partsToJson(reply).watchdog},
  };
}

nlohmann::json watchUpdateToJson(const StatusReply& reply, std::chrono::milliseconds elapsed) {
  nlohmann::json j = statusToJson(reply);
  j["elapsed_ms"] = elapsed.count();
  return j;
}

nlohmann::json stepDownToJson(const quorate::v1::StepDownReply& reply) {
  return {{"released_epoch", reply.released_epoch()},
          {"handed_to", stringOrNull(reply.handed_to())},
          {"leases", stringArray(reply.leases())},
          {"hold_remaining_ms", reply.hold_remaining_ms()},
          {"after_pre_release", reply.after_pre_release()}};
}

std::string compactVip(std::string_view vip) {
  // "<prefix> dev <device> [label <label>]"; the label is left out to keep the table narrow.
  std::istringstream in{std::string(vip)};
  std::string prefix;
  std::string word;
  in >> prefix;
  while (in >> word) {
    std::string device;
    if (word == "dev" && in >> device) return prefix + "@" + device;
  }
  return std::string(vip);
}

std::string formatStatus(const StatusReply& reply) {
  std::ostringstream out;
  out << "cluster " << reply.cluster() << "  node " << reply.node() << "  role " << roleText(reply)
      << "  epoch " << reply.epoch() << "  " << leaseText(reply) << "\n";
  out << "holder " << orNone(reply.holder());
  if (!reply.preferred().empty()) out << " (preferred " << reply.preferred() << ")";
  out << "\n";
  if (const std::string health = healthText(reply); !health.empty()) out << health << "\n";
  if (reply.has_hooks() && (reply.hooks().failures() > 0 || reply.hooks().dropped() > 0 ||
                            reply.hooks().fence_failures() > 0)) {
    // Only when something went wrong: a quiet line otherwise would be noise.
    const auto& h = reply.hooks();
    out << "hooks: " << h.failures() << " of " << h.runs() << " runs failed (" << h.timeouts()
        << " timed out), " << h.dropped() << " transitions dropped; " << h.fence_failures()
        << " of " << h.fences() << " fences failed\n";
  }

  if (showsLeaseTable(reply)) {
    std::vector<std::vector<std::string>> leases;
    for (const LeaseStatus& l : reply.leases()) {
      leases.push_back(
          {leaseNameText(l), leaseRoleText(l), orNone(l.holder()), std::to_string(l.epoch()),
           l.lease_remaining_ms() > 0 ? std::to_string(l.lease_remaining_ms()) + " ms" : "-",
           leaseVipsText(l)});
    }
    writeTable(out, {"LEASE", "ROLE", "HOLDER", "EPOCH", "LEFT", "VIPS"}, leases);
  }
  if (reply.virtual_servers_size() > 0) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& v : reply.virtual_servers()) {
      std::string state = v.programmed() ? "in IPVS" : "not here";
      if (v.programmed() && !v.quorum_up()) state += ", no quorum";
      if (!v.last_error().empty()) state += ", error: " + v.last_error();
      rows.push_back({v.name() + " (" + v.lease() + ")", v.service(), state, "", ""});
      for (const auto& rs : v.real_servers()) {
        std::string health = rs.sorry() ? (rs.alive() ? "sorry, in use" : "sorry, idle")
                                        : (rs.alive() ? "alive" : "dead");
        if (v.programmed()) health += rs.installed() ? ", installed" : ", not installed";
        if (!rs.health().empty()) health += " (" + rs.health() + ")";
        std::string weight = "w" + std::to_string(rs.weight());
        if ((rs.checked() || rs.drained()) && rs.weight_in_effect() != rs.weight()) {
          weight += "->" + std::to_string(rs.weight_in_effect());
        }
        if (rs.drained()) health = "drained, " + health;
        rows.push_back({"", "  -> " + rs.endpoint() + " " + weight, health,
                        std::to_string(rs.active_connections()) + "/" +
                            std::to_string(rs.inactive_connections()),
                        std::to_string(rs.connections())});
      }
    }
    writeTable(out, {"VIRTUAL SERVER", "SERVICE", "STATE", "ACT/INACT", "CONNS"}, rows);
  }

  std::vector<std::vector<std::string>> nodes;
  for (const NodeStatus& n : reply.nodes()) {
    nodes.push_back({n.self() ? n.id() + " *" : n.id(), n.role().empty() ? "unknown" : n.role(),
                     n.reachable() ? "yes" : "no", lastSeenText(n), n.address()});
  }
  writeTable(out, {"NODE", "ROLE", "REACHABLE", "LAST SEEN", "ADDRESS"}, nodes);
  return out.str();
}

std::string formatWatchLine(const StatusReply& reply, std::chrono::milliseconds elapsed) {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "[%10.3f]", static_cast<double>(elapsed.count()) / 1000.0);
  std::ostringstream out;
  out << stamp << " v" << reply.version() << "  node " << reply.node() << "  role "
      << roleText(reply) << "  holder " << orNone(reply.holder()) << "  epoch " << reply.epoch()
      << "  " << leaseText(reply);
  if (reply.leases_size() > 1) {
    out << "  leases";
    for (const LeaseStatus& l : reply.leases()) out << " " << l.name() << "=" << orNone(l.holder());
  }
  if (reply.health_problems_size() > 0) out << "  " << healthText(reply);
  std::string peers;
  for (const NodeStatus& n : reply.nodes()) {
    if (n.self()) continue;
    if (!peers.empty()) peers += ", ";
    peers += n.id() + (n.reachable() ? " up" : " DOWN");
  }
  if (!peers.empty()) out << "  peers " << peers;
  return out.str();
}

std::string formatStepDown(const quorate::v1::StepDownReply& reply) {
  const std::string epoch = "epoch " + std::to_string(reply.released_epoch());
  std::string text;
  if (reply.leases_size() == 0) {
    text = "released " + epoch;  // a director from before leases had names
  } else {
    text = "released " + reply.leases(0) + " (" + epoch + ")";
    for (int i = 1; i < reply.leases_size(); ++i) {
      text += (i + 1 == reply.leases_size() ? " and " : ", ") + reply.leases(i);
    }
  }
  text += reply.handed_to().empty() ? ", handed to nobody" : ", handed to " + reply.handed_to();
  if (reply.after_pre_release()) text += " once the pre-release hooks have run";
  if (reply.hold_remaining_ms() > 0) {
    text += "; no preemption back for " + std::to_string(reply.hold_remaining_ms() / 1000) + " s";
  }
  return text;
}

std::string statusCodeName(int code) {
  // grpc::StatusCode's values are 0..16 (UNAUTHENTICATED).
  if (code < 0 || code > static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) {
    return "CODE_" + std::to_string(code);
  }
  return statusCodeName(static_cast<grpc::StatusCode>(code));
}

std::string statusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::DO_NOT_USE:
      break;
  }
  return "CODE_" + std::to_string(static_cast<int>(code));
}

std::string formatRpcError(std::string_view endpoint, const grpc::Status& status) {
  std::string text =
      "quoratectl: " + std::string(endpoint) + ": " + statusCodeName(status.error_code());
  if (!status.error_message().empty()) text += ": " + status.error_message();
  return text;
}

}  // namespace quorate::client
