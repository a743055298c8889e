// Basic vocabulary of the lease protocol: node ids, local time, ballots.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <string>

namespace quorate::lease {

// A node's own clock (CLOCK_MONOTONIC_RAW plus suspend time in the daemons, a drifting clock in the
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

// A process of a node: two processes that believe they are the same node (a cloned VM, a
// copied configuration, a node restarted elsewhere while the old one still runs) differ in
// their instance, drawn at random at every start. The arbiter's instance is 0.
using Instance = std::uint64_t;

// Unique: the proposer's id breaks ties between equal rounds, and its incarnation
// (bumped and persisted at every start) keeps a restarted proposer from reusing a
// ballot of its previous life, whose answers may still be on their way. Two processes
// started from one disk (a clone) share id and incarnation: their instance tells their
// ballots apart, or both would take the promises of one ballot (and reuse an epoch).
struct Ballot {
  std::uint64_t round = 0;
  NodeId node = 0;
  std::uint64_t incarnation = 0;
  Instance instance = 0;
  auto operator<=>(const Ballot&) const = default;
  bool operator==(const Ballot&) const = default;
};

// A live lease as one acceptor sees it. Its owner is a process: node id and instance.
struct LeaseView {
  NodeId owner = 0;
  std::uint64_t epoch = 0;
  Duration remaining{0};
  Instance instance = 0;
  bool operator==(const LeaseView&) const = default;
};

// Epochs an acceptor reserves on disk at once: it persists `epoch + kEpochReserve` when it
// accepts an epoch above what is on disk, so that a campaign needs an fsync only once per
// kEpochReserve epochs (or per restart), not at every attempt. After a restart the acceptor
// reports the reserved ceiling as its highest epoch, so epochs jump but never go back.
inline constexpr std::uint64_t kEpochReserve = 1000;

// What an acceptor must keep across restarts so that epochs only grow and a restart outwaits
// every lease granted before it. Written (fsync'd, atomically replaced) before any reply that
// depends on it.
struct DurableState {
  std::uint64_t maxEpoch = 0;  // a ceiling: no epoch above it was ever accepted
  NodeId maxEpochOwner = 0;
  std::uint64_t incarnation = 0;  // directors: how many times this node has started
  // The longest lease granted in the last life that granted any: a restarted acceptor stays
  // quiet for at least this long, whatever its configuration says now.
  Duration maxLease{0};
  bool operator==(const DurableState&) const = default;
};

std::string toString(const Ballot& b);

}  // namespace quorate::lease
