// Rendering of Director replies for quoratectl: JSON objects, the status table, watch lines.
#include "client/format.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

namespace quorate::client {
namespace {

using quorate::v1::NodeStatus;
using quorate::v1::StatusReply;

constexpr std::size_t kMinColumn = 8;  // narrowest content column, before the gap
constexpr std::size_t kColumnGap = 2;
constexpr std::int64_t kLongAgoMs = 10'000;  // from here on, show seconds

nlohmann::json stringOrNull(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

bool showsReason(const StatusReply& reply) {
  return reply.role() != "holder" && reply.role() != "standby" && !reply.role_reason().empty();
}

std::string roleText(const StatusReply& reply) {
  std::string text = reply.role().empty() ? "unknown" : reply.role();
  if (showsReason(reply)) text += " (" + reply.role_reason() + ")";
  return text;
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
  };
}

nlohmann::json watchUpdateToJson(const StatusReply& reply, std::chrono::milliseconds elapsed) {
  nlohmann::json j = statusToJson(reply);
  j["elapsed_ms"] = elapsed.count();
  return j;
}

nlohmann::json stepDownToJson(const quorate::v1::StepDownReply& reply) {
  return {{"released_epoch", reply.released_epoch()},
          {"handed_to", stringOrNull(reply.handed_to())}};
}

std::string formatStatus(const StatusReply& reply) {
  std::ostringstream out;
  out << "cluster " << reply.cluster() << "  node " << reply.node() << "  role " << roleText(reply)
      << "  epoch " << reply.epoch() << "  " << leaseText(reply) << "\n";
  out << "holder " << orNone(reply.holder());
  if (!reply.preferred().empty()) out << " (preferred " << reply.preferred() << ")";
  out << "\n";

  const std::vector<std::string> headers = {"NODE", "ROLE", "REACHABLE", "LAST SEEN", "ADDRESS"};
  std::vector<std::vector<std::string>> rows;
  for (const NodeStatus& n : reply.nodes()) {
    rows.push_back({n.self() ? n.id() + " *" : n.id(), n.role().empty() ? "unknown" : n.role(),
                    n.reachable() ? "yes" : "no", lastSeenText(n), n.address()});
  }
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
  return out.str();
}

std::string formatWatchLine(const StatusReply& reply, std::chrono::milliseconds elapsed) {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "[%10.3f]", static_cast<double>(elapsed.count()) / 1000.0);
  std::ostringstream out;
  out << stamp << " v" << reply.version() << "  node " << reply.node() << "  role "
      << roleText(reply) << "  holder " << orNone(reply.holder()) << "  epoch " << reply.epoch()
      << "  " << leaseText(reply);
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
  std::string text = "released epoch " + std::to_string(reply.released_epoch());
  text += reply.handed_to().empty() ? ", handed to nobody" : ", handed to " + reply.handed_to();
  return text;
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
