// Basic vocabulary of the lease protocol: node ids, local time, ballots.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
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
// The same for ballot rounds: an acceptor persists `round + kRoundReserve` when it promises a
// round above what is on disk, so that after a restart it still knows roughly which rounds are
// in use and can tell an absurd one from a legitimate one (see kMaxStep).
inline constexpr std::uint64_t kRoundReserve = 1000;

// Insiders (a node with the cluster's credentials, buggy or hostile) choose every number they
// send. Rounds, epochs and incarnations never exceed kMaxCounter: the wire refuses larger ones,
// acceptors refuse to reach it, and a node whose next value would pass it stops (see
// nextCounter). With 2^62 no arithmetic near 2^64 is ever reached, and an honest cluster needs
// tens of thousands of years of campaigns to get there.
inline constexpr std::uint64_t kMaxCounter = 1ULL << 62;
// Honest proposers step a round by one per campaign or renewal and an epoch by one per tenure
// (plus kEpochReserve / kRoundReserve per restart), always from the highest value they learned.
// So a round or epoch more than kMaxStep above what a node knows comes from a broken or hostile
// peer; a node refuses it rather than adopt it. One refusal changes nothing, and an insider who
// stays inside the bound needs 2^42 accepted messages to push a counter to kMaxCounter.
inline constexpr std::uint64_t kMaxStep = 1ULL << 20;
// A node cut off for a while misses the steps the others took meanwhile, and an insider's step
// that honest nodes have not learned yet sets one node apart from the rest. So the bound widens
// by one per microsecond since a node last raised what it knows (no honest counter grows
// faster: each step is a message round trip): a gap of kMaxStep closes in about a second. An
// insider gains as much by waiting, which still leaves kMaxCounter some 140,000 years away.
inline constexpr Duration kAllowancePerStep = std::chrono::microseconds(1);

// The highest round or epoch a node admits at `now`, when the highest it knows is `known`, raised
// last at `since` (or the node's start). Never above kMaxCounter. A node with an empty state
// directory knows 0: joining a cluster whose rounds went far beyond kMaxStep, it admits them
// once enough time passed since its start (a year of renewals: about a minute).
std::uint64_t rangeLimit(std::uint64_t known, Time since, Time now);
// x + 1, or nullopt when that would pass kMaxCounter: the caller stops, it never wraps.
std::optional<std::uint64_t> nextCounter(std::uint64_t x);

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
  std::uint64_t maxRound = 0;  // a ceiling: no round above it was ever promised (0: none)
  bool operator==(const DurableState&) const = default;
};

std::string toString(const Ballot& b);

}  // namespace quorate::lease
