// Who may speak the lease protocol to a node: requests and replies carry an HMAC-SHA256 under
// the cluster's key (never the key itself), a request a counter that is never accepted twice.
// Shared by the director's and the arbiter's peer services and the peer client.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "common/secret.h"
#include "quorate/v1/quorate.pb.h"

namespace quorate {

// A request whose counter is further than this from the receiver's wall clock is refused: with
// counters in memory only, a restarted receiver accepts any counter inside the window once, so
// the window bounds how old a captured request can be. Clocks further apart than this stop the
// cluster, loudly (the error gives the skew). With TLS the MAC is checked too, so this holds in
// both modes: keep the nodes' clocks synchronised (the units start after time-sync.target).
inline constexpr std::chrono::seconds kMaxClockSkew{300};
// Two requests of one sender can overtake each other (sent at once on one connection, handled
// by two server threads): a counter up to this far below the highest seen is still accepted once.
inline constexpr std::chrono::milliseconds kReorderWindow{1000};

// The wall clock in microseconds since the epoch.
std::uint64_t wallClockMicros();

// This process's next request counter: wall-clock microseconds, strictly above every counter it
// returned before (a clock stepped back does not make a counter repeat). Thread-safe.
std::uint64_t nextCounter();

// The wire form of `body` (an ExchangeRequest with fields 1 and 3 to 6 only): cluster, auth
// {key id, counter, mac} and the serialized body.
v1::ExchangeRequest sealRequest(const v1::ExchangeRequest& body, const std::string& key,
                                std::uint64_t counter);

// A request whose MAC was verified.
struct OpenedRequest {
  v1::ExchangeRequest body;          // what the sender signed, parsed
  const std::string* key = nullptr;  // the key it was signed with (points into the KeyRing)
  std::string mac;                   // binds the reply to this request
  std::uint64_t counter = 0;
};

// Checks `wire` against `keys`: a known key id, the MAC over the body as received, the counter
// within kMaxClockSkew of `nowMicros`, and a body that parses. UNAUTHENTICATED (until the MAC
// verifies, unknownCluster()'s answer; after, naming the cluster and the skew) or
// INVALID_ARGUMENT; touches no state, so a
// refused request changes nothing. The replay check is ReplayGuard's, after this.
grpc::Status openRequest(const v1::ExchangeRequest& wire, const KeyRing& keys,
                         std::uint64_t nowMicros, OpenedRequest& out);

// Turns `reply` (with messages) into its wire form: body and mac under `key`, bound to
// `requestMac`.
void sealReply(v1::ExchangeReply& reply, const std::string& key, const std::string& requestMac);

// Checks a reply to the request whose mac was `requestMac` and parses its body into `out`.
// UNAUTHENTICATED when the MAC is missing or wrong, INTERNAL when the body does not parse.
grpc::Status openReply(const v1::ExchangeReply& wire, const std::string& key,
                       const std::string& requestMac, v1::ExchangeReply& out);

// Remembers, per sender, the counters it accepted, and refuses a counter accepted before or
// older than the reorder window below the highest. In memory only: a restart forgets, and
// kMaxClockSkew bounds what can be replayed then. Thread-safe.
class ReplayGuard {
 public:
  // At most this many counters kept per sender inside the reorder window; beyond it the oldest
  // are dropped and the window shrinks (never a counter accepted twice).
  static constexpr std::size_t kMaxRemembered = 4096;
  // A cluster has two directors; a key holder inventing names must not grow the map without end,
  // nor lock the real senders out: beyond this the sender with the oldest highest counter goes.
  static constexpr std::size_t kMaxSenders = 16;

  // OK and remembers `counter` for `sender`, or UNAUTHENTICATED saying why. `cluster` names the
  // cluster in the message only.
  grpc::Status admit(const std::string& cluster, const std::string& sender, std::uint64_t counter);

 private:
  struct Seen {
    std::uint64_t highest = 0;
    std::set<std::uint64_t> recent;  // accepted counters within kReorderWindow below highest
  };
  std::mutex mu_;
  std::map<std::string, Seen> senders_;  // guarded by mu_
};

// The refusal of a request for a cluster this node does not serve: UNAUTHENTICATED with the same
// message as an unknown key or a wrong MAC, and no cluster name (strangers cannot list clusters).
grpc::Status unknownCluster(const std::string& asked);

// Logs, at start-up, that the peer protocol runs in shared-secret mode without TLS: fine in a
// lab, not in production. `who` names the daemon.
void warnNoTls(std::string_view who);

}  // namespace quorate
