// keepalived's pool semantics for one virtual server.
#include "server/ipvs/pool.h"

#include <utility>

namespace quorate::server::ipvs {

std::string PoolEvent::toString() const {
  std::string s = virtualServer + ": ";
  switch (kind) {
    case Kind::kRealServerUp:
      s += "real server " + endpoint + " up";
      break;
    case Kind::kRealServerDown:
      s += "real server " + endpoint + " down";
      break;
    case Kind::kRealServerWeight:
      s += "real server " + endpoint + " weight " + std::to_string(weight);
      break;
    case Kind::kQuorumUp:
      s += "quorum gained";
      break;
    case Kind::kQuorumDown:
      s += "quorum lost";
      break;
  }
  if (!reason.empty()) s += ": " + reason;
  return s;
}

Pool::Pool(VirtualServerConfig config, std::vector<bool> checked) : config_(std::move(config)) {
  servers_.reserve(config_.realServers.size());
  for (std::size_t i = 0; i < config_.realServers.size(); ++i) {
    RealServerState s;
    s.config = config_.realServers[i];
    s.checked = i < checked.size() ? checked[i] : true;
    s.alive = !(s.config.alpha && s.checked);
    s.weight = s.config.dest.weight;
    if (s.alive) aliveWeight_ += s.weight;
    servers_.push_back(std::move(s));
  }
  quorumUp_ = aliveWeight_ >= config_.quorum;
}

std::optional<std::size_t> Pool::indexOf(const net::IpAddress& address, std::uint16_t port) const {
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (servers_[i].config.dest.address == address && servers_[i].config.dest.port == port) {
      return i;
    }
  }
  return std::nullopt;
}

std::vector<PoolEvent> Pool::setAlive(std::size_t index, bool alive, const std::string& reason,
                                      std::optional<std::int32_t> weight) {
  std::vector<PoolEvent> events;
  if (index >= servers_.size()) return events;
  RealServerState& s = servers_[index];
  const std::int32_t newWeight = weight.value_or(s.config.dest.weight);
  if (!reason.empty()) s.reason = reason;
  if (s.alive == alive && s.weight == newWeight) return events;
  const std::int64_t before = s.alive ? s.weight : 0;
  const std::int64_t after = alive ? newWeight : 0;
  aliveWeight_ += after - before;
  if (s.alive != alive) {
    events.push_back(
        PoolEvent{alive ? PoolEvent::Kind::kRealServerUp : PoolEvent::Kind::kRealServerDown,
                  config_.name, s.config.dest.endpoint(), reason, aliveWeight_});
  }
  if (s.weight != newWeight) {
    PoolEvent e{PoolEvent::Kind::kRealServerWeight, config_.name, s.config.dest.endpoint(), reason,
                aliveWeight_};
    e.weight = newWeight;
    events.push_back(std::move(e));
  }
  s.alive = alive;
  s.weight = newWeight;
  updateQuorum(events);
  return events;
}

void Pool::updateQuorum(std::vector<PoolEvent>& events) {
  // keepalived's update_quorum_state(): up at quorum + hysteresis, down below quorum -
  // hysteresis, so a weight wobbling around the quorum does not toggle the pool.
  const std::int64_t quorum = config_.quorum, hysteresis = config_.hysteresis;
  const std::string weights = "alive weight " + std::to_string(aliveWeight_);
  const std::string sorry =
      config_.sorryServer ? " (sorry server " + config_.sorryServer->endpoint() + ")" : "";
  if (!quorumUp_ && aliveWeight_ >= quorum + hysteresis) {
    quorumUp_ = true;
    events.push_back(PoolEvent{PoolEvent::Kind::kQuorumUp,
                               config_.name,
                               {},
                               weights + " >= quorum " + std::to_string(quorum) + " + hysteresis " +
                                   std::to_string(hysteresis),
                               aliveWeight_});
  } else if (quorumUp_ && aliveWeight_ < quorum - hysteresis) {
    quorumUp_ = false;
    events.push_back(PoolEvent{PoolEvent::Kind::kQuorumDown,
                               config_.name,
                               {},
                               weights + " < quorum " + std::to_string(quorum) + " - hysteresis " +
                                   std::to_string(hysteresis) + sorry,
                               aliveWeight_});
  }
}

std::vector<PoolEvent> Pool::setAlive(const net::IpAddress& address, std::uint16_t port, bool alive,
                                      const std::string& reason,
                                      std::optional<std::int32_t> weight) {
  const auto i = indexOf(address, port);
  if (!i) return {};
  return setAlive(*i, alive, reason, weight);
}

DesiredService Pool::desired() const {
  DesiredService out;
  out.service = config_.service;
  out.destinations.reserve(servers_.size() + 1);
  for (const auto& s : servers_) {
    if (quorumUp_ && s.alive) {
      out.destinations.push_back(s.config.dest);
      out.destinations.back().weight = s.weight;
    } else if (s.config.inhibitOnFailure) {
      kernel::ipvs::Destination quiescent = s.config.dest;
      quiescent.weight = 0;
      out.destinations.push_back(quiescent);
    }
  }
  if (!quorumUp_ && config_.sorryServer) out.destinations.push_back(*config_.sorryServer);
  return out;
}

}  // namespace quorate::server::ipvs
