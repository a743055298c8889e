// quorate's public C++ client library: a director's status, its watch stream, step-down, and the
// epoch of the local tenure as a fencing token. No gRPC or protobuf type appears here.
//
// Link with libquorate-client.so (CMake: find_package(quorate-client CONFIG) and the target
// quorate::client; pkg-config: quorate-client). Needs C++17. docs/client-library.md has the rest.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

// Everything the library exports is marked; the rest of the .so is hidden.
#if defined(QUORATE_SDK_BUILDING)
#define QUORATE_SDK_API __attribute__((visibility("default")))
#else
#define QUORATE_SDK_API
#endif

namespace quorate::sdk {

// What went wrong, in gRPC's terms (the library is a gRPC client), never as an exception.
enum class Code {
  kOk = 0,
  kCancelled,           // the caller cancelled (watch: Cancellation::cancel())
  kUnknown,             // the director or the transport gave no better reason
  kInvalidArgument,     // bad endpoint, lease name or option; nothing was sent
  kDeadlineExceeded,    // no answer within Options::timeout
  kNotFound,            // the director has no lease of that name
  kFailedPrecondition,  // refused in this state: step-down of a lease not held here
  kPermissionDenied,
  kUnauthenticated,
  kUnavailable,  // the director is not reachable (down, refused, reset)
  kUnimplemented,
  kInternal,  // a bug: a reply that cannot be read, or an exception inside the library
};

// "OK", "CANCELLED", "DEADLINE_EXCEEDED", ... as gRPC spells them.
QUORATE_SDK_API const char* codeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // success
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "DEADLINE_EXCEEDED: no answer from 127.0.0.1:7101 within 2000 ms"; "OK" on success.
  std::string toString() const {
    return ok() ? std::string(codeName(code_)) : std::string(codeName(code_)) + ": " + message_;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the error that kept it from being made.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  // `error` must not be ok; an ok Status becomes kInternal.
  Result(Status error)  // NOLINT(google-explicit-constructor)
      : v_(error.ok() ? Status(Code::kInternal, "a Result made from an ok Status")
                      : std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  // Only when ok().
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  // Ok when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

// One of the director's leases (an instance, or a sync group that moves together).
struct LeaseStatus {
  std::string name;        // "default" in a setup with one lease
  std::string role;        // this director's: holder | standby | candidate | quarantine | unknown
  std::string roleReason;  // why, in words
  std::string holder;      // the director holding it; empty when nobody is known to hold
  // The holder's epoch; the director's last epoch when nobody holds. Epochs only grow.
  std::uint64_t epoch = 0;
  // The director's view when it built the reply. On the holder: until it stops acting. On
  // the standby: until its acceptor's lease for the holder lapses. 0 when nobody holds.
  std::int64_t remainingMs = 0;
  std::string preferred;               // the preferred director; empty: none
  std::vector<std::string> instances;  // the instances that move with it
  std::vector<std::string> vips;       // "198.18.0.10/24 dev eth0"
  bool claimed = false;                // this director has the VIPs up and fenced open
  bool eligible = true;                // false: its own health keeps this director out
};

// A node of the cluster as the director sees it.
struct NodeStatus {
  std::string id;                // its name
  std::string role;              // director: holder | standby | ...; the arbiter: arbiter
  bool reachable = false;        // heard from recently
  std::int64_t lastSeenMs = -1;  // since the director last heard from it; -1: never
  std::string address;
  bool self = false;  // the director that answered
};

// One Status reply of one director.
struct DirectorStatus {
  std::string cluster;
  std::string node;           // the director that answered
  std::uint64_t version = 0;  // grows with every change of its state
  std::vector<LeaseStatus> leases;
  std::vector<NodeStatus> nodes;
  bool healthy = false;  // tracked interfaces and scripts all fine
  std::vector<std::string> healthProblems;
  // When the reply arrived, on this host's steady clock.
  std::chrono::steady_clock::time_point receivedAt;

  // The lease of that name; nullptr if the director has none. An empty name means the only
  // lease of a setup with one (nullptr when there are several).
  const LeaseStatus* lease(std::string_view name) const {
    if (name.empty()) return leases.size() == 1 ? &leases.front() : nullptr;
    for (const auto& l : leases) {
      if (l.name == name) return &l;
    }
    return nullptr;
  }
};

// "This director holds the lease now, under this epoch."
//
// The epoch is a fencing token only if whatever the holder's service writes to (a database, a
// lock service, a storage array) remembers the highest epoch it has seen and refuses writes
// carrying a lower one. Without that check on the storage side a paused old holder, whose
// lease ran out while it slept, can still write after a new holder took over; the epoch alone
// prevents nothing.
//
// `remaining` is the director's view at the instant it built the reply, not at the instant
// the caller reads it; `validUntil` turns it into a local deadline that errs on the safe
// side: it counts from before the request was sent, and so is never later than the
// director's own end of the tenure (on the same host, where the clocks are the same).
struct Tenure {
  std::string lease;
  std::string holder;  // the director at the endpoint (its node name)
  std::uint64_t epoch = 0;
  std::chrono::milliseconds remaining{0};
  std::chrono::steady_clock::time_point validUntil;
  bool claimed = false;  // its VIPs are up and fenced open
};

// The outcome of a step-down or of clearing a hold.
struct StepDownResult {
  std::uint64_t releasedEpoch = 0;   // of the first lease released; 0 when none
  std::string handedTo;              // the director asked to take over; empty: none
  std::vector<std::string> leases;   // the leases released
  std::int64_t holdRemainingMs = 0;  // the hold now in force (0: none)
};

// Cancels watches from any thread. Copies share one state, and one may serve several watches
// at once; once cancelled it stays so, and a watch started with a cancelled one ends at once
// with kCancelled.
class QUORATE_SDK_API Cancellation {
 public:
  Cancellation();
  void cancel();
  bool cancelled() const;

  struct State;  // the library's own

 private:
  std::shared_ptr<State> state_;
  friend class Client;
};

struct Options {
  // Bounds each status, localTenure and stepDown call, and for watch the wait for a
  // connection (the stream itself has no deadline).
  std::chrono::milliseconds timeout{2000};
  // A TCP endpoint speaks TLS only: the PEM files of the CA that signed the director's
  // certificate, and of this client's certificate (its common name picks the role) and key.
  // Leave all three empty for a unix:/path endpoint.
  std::string caFile;
  std::string certFile;
  std::string keyFile;
};

// A director's operator API. Thread-safe: calls may run at once from several threads.
// Nothing is dialled until the first call. A moved-from Client may only be destroyed or
// assigned to.
class QUORATE_SDK_API Client {
 public:
  // `endpoint` as quoratectl takes it: "unix:/path", "host:port", "a.b.c.d:port" or
  // "[v6]:port". A bad
  // endpoint or a timeout below 1 ms is not an exception: every call returns
  // kInvalidArgument, and valid() says so at once.
  explicit Client(std::string endpoint, Options options = {});
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Ok, or why the endpoint or the options were refused.
  Status valid() const;
  // The endpoint as dialled ("127.0.0.1:7101", "[::1]:7101").
  const std::string& endpoint() const;

  Result<DirectorStatus> status();

  // Called with the current state first, then at each change of role, holder, epoch or a
  // node's reachability; return false to stop.
  using WatchFn = std::function<bool(const DirectorStatus&)>;
  // Blocks until `onUpdate` returns false (ok), `cancel` fires (kCancelled), the director
  // ends the stream (ok) or it breaks (its error: kUnavailable when the director went away).
  // A callback that throws ends the watch with kInternal; the exception does not escape.
  Status watch(const WatchFn& onUpdate, Cancellation cancel = Cancellation());

  // Asks the director to release `lease` (empty: every lease it holds) and hand it to the
  // other director; `force` hands over even when the other looks unreachable. `holdMs` > 0:
  // afterwards this director does not take the lease back for that long (maintenance).
  // kFailedPrecondition when it does not hold it; kNotFound when it has no such lease.
  Result<StepDownResult> stepDown(const std::string& lease, bool force = false,
                                  std::uint64_t holdMs = 0);
  // Ends a hold set by stepDown now; releases nothing.
  Result<StepDownResult> clearHold(const std::string& lease);

  // Whether the director at the endpoint holds `lease` now: its tenure (epoch, remaining
  // time) if it does; nullopt if it does not (another director holds it, or nobody). An
  // error when the director could not be asked or has no such lease (or, kInternal, claims a
  // tenure no director can have: epoch 0, more than a day left): then nothing is known, and a
  // caller must treat it as "not the holder". An empty `lease` means the only lease.
  Result<std::optional<Tenure>> localTenure(const std::string& lease);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The library's version, the project's (e.g. "0.16.0").
QUORATE_SDK_API const char* version();

}  // namespace quorate::sdk
