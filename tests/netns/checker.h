// Who owns the VIP in the netns test bed: ARP prober, address/fence watcher, split-brain checker.
#pragma once

#include <array>
#include <atomic>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "netns/topology.h"

namespace quorate::netns {

// An Ethernet address.
struct Mac {
  std::array<std::uint8_t, 6> b{};
  // "02:71:00:00:00:01"; nullopt if malformed.
  static std::optional<Mac> parse(const std::string& text);
  std::string str() const;
  auto operator<=>(const Mac&) const = default;
};

// --- Records (plain data; the checker needs nothing else, so synthetic histories are easy) ---

// One ARP request sent by the prober.
struct ProbeRound {
  std::uint64_t round = 0;  // 0, 1, 2, ...
  std::int64_t sentNs = 0;  // CLOCK_MONOTONIC (monoNs()), just before send()
};

// One ARP reply for the VIP, attributed to the round whose request it answers.
struct ArpReply {
  std::int64_t ns = 0;  // CLOCK_MONOTONIC when the prober read it
  Mac sender;           // the ARP sender hardware address: who claims the VIP
  std::uint64_t round = 0;
};

// A gratuitous ARP / unsolicited announcement of the VIP (sender IP = VIP, not a reply to us).
struct Announcement {
  std::int64_t ns = 0;
  Mac sender;
};

struct ProbeHistory {
  std::int64_t periodNs = 0;
  std::vector<ProbeRound> rounds;  // in round order
  std::vector<ArpReply> replies;   // in arrival order
  std::vector<Announcement> announcements;
  std::uint64_t unattributed = 0;  // replies for the VIP whose round could not be named
};

// One poll result of a director that changed its ownership state (the first poll is kept too).
struct OwnershipSample {
  std::int64_t ns = 0;   // CLOCK_MONOTONIC at the end of the poll
  bool address = false;  // the VIP is on one of the host's interfaces
  // The fence lets the VIP through (fenceAdmits): no "inet quorate" table, or the VIP is not
  // in its map vips4 (not gated), or its lease's chain has a slot open.
  bool fenceOpen = false;
  // The instant this poll's state is known to have held: between its address read and its
  // fence read (a director opens the fence before adding the address and closes it before
  // removing the address, so an owning poll proves ownership there). 0: `ns`.
  std::int64_t seenNs = 0;
  // The same instant of the previous poll, the last one that saw the previous state (0: `ns`).
  std::int64_t prevSeenNs = 0;
  bool owns() const { return address && fenceOpen; }
  std::int64_t seen() const { return seenNs ? seenNs : ns; }
  std::int64_t prevSeen() const { return prevSeenNs ? prevSeenNs : ns; }
};

// Does the fence, given as the JSON listing of its "inet" table (`nft -j list table inet
// quorate`), let `vip` (dotted IPv4) through? Not gated (absent from the map vips4): yes. Gated:
// yes iff the chain the map jumps to has a rule ending in `return` or `accept` whose every set
// lookup ("@name") names a set with an element (the kernel lists only unexpired ones). A rule's
// real-time deadline is not read (nft prints it in whole seconds): the answer errs towards open,
// so the checker can only see more ownership than there is, never less.
bool fenceAdmits(const std::string& tableJson, const std::string& vip);

struct OwnershipHistory {
  std::string host;
  std::vector<OwnershipSample> transitions;  // in time order
  std::int64_t endNs = 0;                    // the last poll: states hold until then
};

// The times `h` was seen owning, as [first, last] seen instants of each run of owning polls:
// what the polls prove, never the poll-quantised margins around it. A handover whose two sides
// are a poll apart is not an overlap; two owners seen at overlapping instants are.
std::vector<std::pair<std::int64_t, std::int64_t>> seenOwning(const OwnershipHistory& h);

// --- Observers ---

struct ArpProberOptions {
  std::string vip = kVip;
  Ms period{5};
  // The request's sender IP is <client /24>.(poolFirst + round % poolSize), never an address
  // of a host; see ArpProber.
  int poolFirst = 150;
  int poolSize = 50;
};

// Sends an ARP request for the VIP from the client every period and records every reply.
//
// Attributing replies to rounds: a Linux responder answers a request with target IP = the
// request's sender IP. The prober varies that sender IP per round over a pool inside the
// client's /24 (on-link, so rp_filter-style checks accept it; unused by any host), so the
// reply's target IP names the round modulo the pool size; the reply is given to the latest
// round with that pool address sent before it arrived. That is unambiguous as long as a reply
// arrives within poolSize * period of its request (250 ms at the defaults); ARP replies on a
// bridge take microseconds. (Varying the sender MAC instead would name rounds with 48 bits but
// makes every reply an unknown unicast flooded to all hosts and fills neighbour tables with
// fake MACs.) Responders learn neighbour entries for the pool addresses; harmless.
//
// The thread enters the client's namespace itself and opens an AF_PACKET socket on its eth0.
class ArpProber {
 public:
  // Starts probing at once; throws std::runtime_error if the socket cannot be opened.
  ArpProber(const Topology& topo, const std::string& host = kClient, ArpProberOptions opts = {});
  ~ArpProber();
  ArpProber(const ArpProber&) = delete;
  ArpProber& operator=(const ArpProber&) = delete;

  void stop();  // idempotent; the history stays readable
  ProbeHistory history() const;
  std::uint64_t roundsSent() const;
  // Waits until some reply recorded at or after `sinceNs` satisfies `pred`.
  bool waitForReply(const std::function<bool(const ArpReply&)>& pred, std::int64_t sinceNs,
                    Ms timeout) const;
  // Waits until `rounds` more rounds have been sent, from now.
  bool waitRounds(std::uint64_t rounds, Ms timeout) const;

 private:
  void run(int fd);

  ArpProberOptions opts_;
  Mac mac_;
  int ifindex_ = 0;
  std::uint32_t vip_ = 0;       // network order
  std::uint32_t poolBase_ = 0;  // host order: client address & 0xffffff00
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  ProbeHistory history_;
  std::thread thread_;
};

struct AddressWatcherOptions {
  std::string vip = kVip;
  Ms period{1};  // between the end of one poll and the start of the next
  bool checkFence = true;
  std::string table = "quorate";  // the fence's "inet <table>" (fenceAdmits)
};

// Polling statistics of one watched host.
struct PollStats {
  std::uint64_t polls = 0;
  double meanPeriodUs = 0;  // start to start
  double maxPeriodUs = 0;
  double meanFenceUs = 0;  // of the fence check alone
};

// Watches whether each host owns the VIP: one thread per host enters its namespace and polls
// the VIP's presence with its own rtnetlink socket (RTM_GETADDR dump) and, when checkFence, the
// fence with libnftables ("list table inet quorate", read by fenceAdmits). Owning = address
// present AND fence open. Records transitions only.
class AddressWatcher {
 public:
  AddressWatcher(const Topology& topo, std::vector<std::string> hosts = {kAlpha, kBeta},
                 AddressWatcherOptions opts = {});
  ~AddressWatcher();
  AddressWatcher(const AddressWatcher&) = delete;
  AddressWatcher& operator=(const AddressWatcher&) = delete;

  void stop();
  std::vector<OwnershipHistory> histories() const;
  // The latest sample of `host` (nullopt before its first poll).
  std::optional<OwnershipSample> latest(const std::string& host) const;
  // Waits until a poll of `host` that started after this call finds owns() == `owns`.
  bool waitFor(const std::string& host, bool owns, Ms timeout) const;
  PollStats stats(const std::string& host) const;

 private:
  struct Watched {
    OwnershipHistory history;
    std::optional<OwnershipSample> latest;
    std::int64_t latestStartNs = 0;
    PollStats stats;
    double sumPeriodUs = 0;
    double sumFenceUs = 0;
    std::string error;
  };
  void run(std::size_t index, const std::string& nsPath);

  AddressWatcherOptions opts_;
  std::vector<std::string> hosts_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Watched> watched_;
  std::vector<std::thread> threads_;
};

// --- The checker ---

// A time during which two owners of the VIP were seen.
struct SplitBrainWindow {
  enum class Source { kArp, kAddress };
  Source source = Source::kArp;
  std::int64_t startNs = 0;
  std::int64_t endNs = 0;
  std::vector<Mac> macs;           // kArp: the two MACs
  std::vector<std::string> hosts;  // the hosts (kArp: those of the MACs, if known)
  std::uint64_t firstRound = 0;    // kArp: the probe rounds covered
  std::uint64_t lastRound = 0;
  std::string describe() const;
};

// The change from one answering MAC to another.
struct FailoverGap {
  Mac from, to;
  std::string fromHost, toHost;  // if known
  std::uint64_t lastFromRound = 0, firstToRound = 0;
  std::int64_t lastFromNs = 0;  // arrival of the last reply from `from`
  std::int64_t firstToNs = 0;   // arrival of the first reply from `to`
  // Rounds between them that nobody answered.
  std::uint64_t silentRounds() const {
    return firstToRound > lastFromRound ? firstToRound - lastFromRound - 1 : 0;
  }
  std::int64_t gapNs() const { return firstToNs - lastFromNs; }  // < 0 when they overlap
  std::string describe() const;
};

struct CheckerOptions {
  // Replies one MAC may miss in a row while still counted as answering throughout.
  std::uint64_t lossTolerance = 4;
};

// Split-brain checks over the observers' records.
//
// From the prober. For each MAC, A(m) is the set of rounds it answered. Its answering runs are
// the maximal round ranges [first, last] such that consecutive answered rounds in it are at
// most lossTolerance + 1 apart (up to lossTolerance lost replies in a row are bridged). A
// split-brain window is the intersection of a run of one MAC with a run of another, as round
// ranges [max(firsts), min(lasts)] when not empty. This covers one round answered by two MACs
// (two single-round runs on the same round) and interleaved answers (alpha, beta, alpha within
// the tolerance). Its time is that of the rounds: [sent(lo), sent(hi) + period], or to the last
// reply in it if later. Lost replies only shorten or bridge runs of a single MAC, so they never
// create a window; they may hide one only if every double answer is lost. Windows of the same
// pair that overlap or touch are merged.
//
// From the watchers: each host owns the VIP from a transition to owns() until the next
// transition away (or the end of its history); a window is any non-empty intersection of two
// hosts' owning intervals. Precision: one poll period on each side.
//
// Failover gaps: the runs of all MACs ordered by first round; for each consecutive pair with
// different MACs, from the last reply of the earlier run to the first reply of the later one.
class SplitBrainChecker {
 public:
  explicit SplitBrainChecker(std::map<Mac, std::string> hostOfMac = {}, CheckerOptions opts = {});
  // Names MACs after the topology's hosts.
  static SplitBrainChecker forTopology(const Topology& topo, CheckerOptions opts = {});

  std::vector<SplitBrainWindow> arpWindows(const ProbeHistory& h) const;
  std::vector<FailoverGap> failoverGaps(const ProbeHistory& h) const;
  std::vector<SplitBrainWindow> ownershipWindows(const std::vector<OwnershipHistory>& hs) const;

  struct Run {
    Mac mac;
    std::uint64_t firstRound = 0, lastRound = 0;
    std::int64_t firstNs = 0, lastNs = 0;  // first and last reply arrival
    std::uint64_t replies = 0;
  };
  // The answering runs, ordered by first round (then MAC).
  std::vector<Run> runs(const ProbeHistory& h) const;
  std::string hostOf(const Mac& m) const;

 private:
  std::map<Mac, std::string> hostOfMac_;
  CheckerOptions opts_;
};

// One line per window / gap, for failure messages.
std::string describe(const std::vector<SplitBrainWindow>& windows);
std::string describe(const std::vector<FailoverGap>& gaps);

}  // namespace quorate::netns
