// Basic vocabulary of the lease protocol: node ids, local time, ballots.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <string>

namespace quorate::lease {

// A node's own clock (CLOCK_BOOTTIME in the daemons, a drifting clock in the
// simulation). Readings of two nodes' clocks are never compared.
struct LocalClock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<LocalClock>;
  static constexpr bool is_steady = true;
};
using Duration = LocalClock::duration;
using Time = LocalClock::time_point;

using NodeId = std::uint32_t;
inline constexpr NodeId kDirectorA = 0;
inline constexpr NodeId kDirectorB = 1;
inline constexpr NodeId kArbiter = 2;
inline constexpr NodeId kNodeCount = 3;
inline constexpr std::size_t kMajority = 2;

inline bool isDirector(NodeId n) { return n == kDirectorA || n == kDirectorB; }
inline NodeId otherDirector(NodeId n) { return n == kDirectorA ? kDirectorB : kDirectorA; }

// Unique: the proposer's id breaks ties between equal rounds, and its incarnation
// (bumped and persisted at every start) keeps a restarted proposer from reusing a
// ballot of its previous life, whose answers may still be on their way.
struct Ballot {
  std::uint64_t round = 0;
  NodeId node = 0;
  std::uint64_t incarnation = 0;
  auto operator<=>(const Ballot&) const = default;
  bool operator==(const Ballot&) const = default;
};

// A live lease as one acceptor sees it.
struct LeaseView {
  NodeId owner = 0;
  std::uint64_t epoch = 0;
  Duration remaining{0};
  bool operator==(const LeaseView&) const = default;
};

// What an acceptor must keep across restarts so that epochs only grow.
// Written (fsync'd, atomically replaced) before any reply that depends on it.
struct DurableState {
  std::uint64_t maxEpoch = 0;
  NodeId maxEpochOwner = 0;
  std::uint64_t incarnation = 0;  // directors: how many times this node has started
  bool operator==(const DurableState&) const = default;
};

std::string toString(const Ballot& b);

}  // namespace quorate::lease
