// libquorate-client: the public Client over the Director gRPC API (the proto compiled lite and
// hidden inside this library, so a program with its own copy of quorate.proto links it too).
#include "quorate/client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <vector>

#include "client/credentials.h"
#include "client/endpoint.h"
#include "quorate/v1/quorate.grpc.pb.h"

namespace quorate::sdk {

struct Cancellation::State {
  mutable std::mutex mu;
  bool cancelled = false;
  // The watches in flight under this Cancellation (one copy may serve several threads).
  std::vector<grpc::ClientContext*> contexts;
};

namespace {

namespace v1 = quorate::v1;
using SteadyClock = std::chrono::steady_clock;

// How often the connection wait of watch looks at its Cancellation.
constexpr std::chrono::milliseconds kCancelCheck{50};

Code fromGrpc(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return Code::kOk;
    case grpc::StatusCode::CANCELLED:
      return Code::kCancelled;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return Code::kInvalidArgument;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Code::kDeadlineExceeded;
    case grpc::StatusCode::NOT_FOUND:
      return Code::kNotFound;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return Code::kFailedPrecondition;
    case grpc::StatusCode::PERMISSION_DENIED:
      return Code::kPermissionDenied;
    case grpc::StatusCode::UNAUTHENTICATED:
      return Code::kUnauthenticated;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return Code::kUnavailable;
    case grpc::StatusCode::UNIMPLEMENTED:
      return Code::kUnimplemented;
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
      return Code::kInternal;
    default:
      return Code::kUnknown;
  }
}

// The call's error with the endpoint in front, so a caller's log line says which director.
Status fromGrpc(const grpc::Status& s, const std::string& target) {
  if (s.ok()) return {};
  std::string message = target + ": ";
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    message += "no answer in time (" + s.error_message() + ")";
  } else {
    message += s.error_message().empty() ? "call failed" : s.error_message();
  }
  return Status(fromGrpc(s.error_code()), std::move(message));
}

std::vector<std::string> strings(const google::protobuf::RepeatedPtrField<std::string>& in) {
  return {in.begin(), in.end()};
}

DirectorStatus toStatus(const v1::StatusReply& r, SteadyClock::time_point receivedAt) {
  DirectorStatus s;
  s.cluster = r.cluster();
  s.node = r.node();
  s.version = r.version();
  s.healthy = r.healthy();
  s.healthProblems = strings(r.health_problems());
  s.receivedAt = receivedAt;
  s.leases.reserve(static_cast<std::size_t>(r.leases_size()));
  for (const auto& l : r.leases()) {
    LeaseStatus out;
    out.name = l.name();
    out.role = l.role();
    out.roleReason = l.role_reason();
    out.holder = l.holder();
    out.epoch = l.epoch();
    out.remainingMs = l.lease_remaining_ms();
    out.preferred = l.preferred();
    out.instances = strings(l.instances());
    out.vips = strings(l.vips());
    out.claimed = l.vips_claimed();
    out.eligible = l.eligible();
    s.leases.push_back(std::move(out));
  }
  s.nodes.reserve(static_cast<std::size_t>(r.nodes_size()));
  for (const auto& n : r.nodes()) {
    NodeStatus out;
    out.id = n.id();
    out.role = n.role();
    out.reachable = n.reachable();
    out.lastSeenMs = n.last_seen_ms();
    out.address = n.address();
    out.self = n.self();
    s.nodes.push_back(std::move(out));
  }
  return s;
}

StepDownResult toStepDown(const v1::StepDownReply& r) {
  StepDownResult out;
  out.releasedEpoch = r.released_epoch();
  out.handedTo = r.handed_to();
  out.leases = strings(r.leases());
  out.holdRemainingMs = r.hold_remaining_ms();
  return out;
}

// The longest holder_lease_ms a director's config accepts (a day).
constexpr std::int64_t kLongestLeaseMs = 86'400'000;

// Lease names are ids (as quoratectl checks them): refused here, before anything is sent.
bool validLeaseName(const std::string& name) {
  if (name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Status badLease(const std::string& name) {
  return Status(Code::kInvalidArgument,
                "lease name \"" + name + "\": expected 1 to 64 of A-Z a-z 0-9 . _ -");
}

// Registers a watch's context with its Cancellation for the guard's lifetime.
class Attach {
 public:
  Attach(Cancellation::State& state, grpc::ClientContext* context)
      : state_(state), context_(context) {
    std::lock_guard<std::mutex> lock(state_.mu);
    state_.contexts.push_back(context);
    // Cancelled before the call started: gRPC cancels it as soon as it starts.
    if (state_.cancelled) context->TryCancel();
  }
  ~Attach() {
    std::lock_guard<std::mutex> lock(state_.mu);
    auto& all = state_.contexts;
    all.erase(std::remove(all.begin(), all.end(), context_), all.end());
  }
  Attach(const Attach&) = delete;
  Attach& operator=(const Attach&) = delete;

 private:
  Cancellation::State& state_;
  grpc::ClientContext* context_;
};

}  // namespace

const char* codeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kCancelled:
      return "CANCELLED";
    case Code::kUnknown:
      return "UNKNOWN";
    case Code::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case Code::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case Code::kNotFound:
      return "NOT_FOUND";
    case Code::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case Code::kPermissionDenied:
      return "PERMISSION_DENIED";
    case Code::kUnauthenticated:
      return "UNAUTHENTICATED";
    case Code::kUnavailable:
      return "UNAVAILABLE";
    case Code::kUnimplemented:
      return "UNIMPLEMENTED";
    case Code::kInternal:
      return "INTERNAL";
  }
  return "UNKNOWN";
}

const char* version() { return QUORATE_SDK_VERSION; }

Cancellation::Cancellation() : state_(std::make_shared<State>()) {}

void Cancellation::cancel() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->cancelled = true;
  for (grpc::ClientContext* context : state_->contexts) context->TryCancel();
}

bool Cancellation::cancelled() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->cancelled;
}

struct Client::Impl {
  std::string target;
  Options options;
  Status invalid;  // why the endpoint or options were refused; ok when usable
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Director::Stub> stub;

  void setDeadline(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + options.timeout);
  }

  Result<StepDownResult> stepDown(const v1::StepDownRequest& request) {
    if (!invalid.ok()) return invalid;
    grpc::ClientContext context;
    setDeadline(context);
    v1::StepDownReply reply;
    const grpc::Status s = stub->StepDown(&context, request, &reply);
    if (!s.ok()) return fromGrpc(s, target);
    return toStepDown(reply);
  }

  // Waits up to the timeout until the channel is connected or has failed to connect (the
  // fail-fast call that follows then says why), so a dead director fails the watch in time.
  Status waitForChannel(const Cancellation::State& cancel) {
    const auto deadline = std::chrono::system_clock::now() + options.timeout;
    grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
    while (state != GRPC_CHANNEL_READY && state != GRPC_CHANNEL_TRANSIENT_FAILURE) {
      {
        std::lock_guard<std::mutex> lock(cancel.mu);
        if (cancel.cancelled) return Status(Code::kCancelled, target + ": watch cancelled");
      }
      const auto now = std::chrono::system_clock::now();
      if (now >= deadline) {
        return Status(Code::kDeadlineExceeded, target + ": no connection within " +
                                                   std::to_string(options.timeout.count()) + " ms");
      }
      channel->WaitForStateChange(state, std::min(deadline, now + kCancelCheck));
      state = channel->GetState(/*try_to_connect=*/true);
    }
    return {};
  }
};

Client::Client(std::string endpoint, Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->target = endpoint;
  std::string error;
  const std::optional<client::Endpoint> parsed = client::parseEndpoint(endpoint, &error);
  if (!parsed) {
    impl_->invalid = Status(Code::kInvalidArgument, error);
    return;
  }
  impl_->target = parsed->target();
  if (options.timeout < std::chrono::milliseconds(1)) {
    impl_->invalid = Status(Code::kInvalidArgument, "timeout must be at least 1 ms, not " +
                                                        std::to_string(options.timeout.count()));
    return;
  }
  grpc::ChannelArguments args;
  // Directors are dialled directly on the management network, never via a proxy.
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  const auto credentials = client::credentialsFor(
      *parsed, client::TlsFiles{options.caFile, options.certFile, options.keyFile}, &error);
  if (!credentials) {
    impl_->invalid = Status(Code::kInvalidArgument, error);
    return;
  }
  impl_->channel = grpc::CreateCustomChannel(impl_->target, credentials, args);
  impl_->stub = v1::Director::NewStub(impl_->channel);
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Status Client::valid() const { return impl_->invalid; }

const std::string& Client::endpoint() const { return impl_->target; }

Result<DirectorStatus> Client::status() {
  if (!impl_->invalid.ok()) return impl_->invalid;
  grpc::ClientContext context;
  impl_->setDeadline(context);
  v1::StatusReply reply;
  const grpc::Status s = impl_->stub->Status(&context, v1::StatusRequest(), &reply);
  if (!s.ok()) return fromGrpc(s, impl_->target);
  return toStatus(reply, SteadyClock::now());
}

Status Client::watch(const WatchFn& onUpdate, Cancellation cancel) {
  if (!impl_->invalid.ok()) return impl_->invalid;
  if (!onUpdate) return Status(Code::kInvalidArgument, "watch needs a callback");
  if (Status ready = impl_->waitForChannel(*cancel.state_); !ready.ok()) return ready;

  // No deadline: the stream lives until it ends, is stopped or is cancelled.
  grpc::ClientContext context;
  Attach attach(*cancel.state_, &context);
  std::unique_ptr<grpc::ClientReader<v1::StatusReply>> reader =
      impl_->stub->WatchStatus(&context, v1::StatusRequest());
  v1::StatusReply update;
  Status stopped;
  bool stop = false;
  while (!stop && reader->Read(&update)) {
    try {
      stop = !onUpdate(toStatus(update, SteadyClock::now()));
    } catch (const std::exception& e) {
      stopped = Status(Code::kInternal, std::string("watch callback threw: ") + e.what());
      stop = true;
    } catch (...) {
      stopped = Status(Code::kInternal, "watch callback threw");
      stop = true;
    }
  }
  if (stop) context.TryCancel();
  const grpc::Status finished = reader->Finish();
  if (stop) return stopped;
  if (finished.error_code() == grpc::StatusCode::CANCELLED && cancel.cancelled()) {
    return Status(Code::kCancelled, impl_->target + ": watch cancelled");
  }
  return fromGrpc(finished, impl_->target);
}

Result<StepDownResult> Client::stepDown(const std::string& lease, bool force,
                                        std::uint64_t holdMs) {
  if (!lease.empty() && !validLeaseName(lease)) return badLease(lease);
  v1::StepDownRequest request;
  request.set_lease(lease);
  request.set_force(force);
  request.set_hold_ms(holdMs);
  return impl_->stepDown(request);
}

Result<StepDownResult> Client::clearHold(const std::string& lease) {
  if (!lease.empty() && !validLeaseName(lease)) return badLease(lease);
  v1::StepDownRequest request;
  request.set_lease(lease);
  request.set_clear_hold(true);
  return impl_->stepDown(request);
}

Result<std::optional<Tenure>> Client::localTenure(const std::string& lease) {
  if (!lease.empty() && !validLeaseName(lease)) return badLease(lease);
  // Taken before the request leaves: the director builds its reply later, so sent + remaining
  // is never after the end of the tenure it reports.
  const SteadyClock::time_point sent = SteadyClock::now();
  Result<DirectorStatus> s = status();
  if (!s.ok()) return s.status();
  const LeaseStatus* l = s->lease(lease);
  if (l == nullptr) {
    if (lease.empty()) {
      return Status(Code::kInvalidArgument, impl_->target + ": the director has " +
                                                std::to_string(s->leases.size()) +
                                                " leases; name one");
    }
    return Status(Code::kNotFound, impl_->target + ": no lease \"" + lease + "\"");
  }
  // The role is the director's own; holder == node guards against a reply that says "holder"
  // for another node's tenure.
  if (l->role != "holder" || l->holder != s->node || l->remainingMs <= 0) {
    return std::optional<Tenure>();
  }
  // No director can report these (a lease is at most a day long, epochs start at 1): a token
  // from such a reply would mislead, and remainingMs near INT64_MAX overflows validUntil.
  if (l->remainingMs > kLongestLeaseMs || l->epoch == 0) {
    return Status(Code::kInternal, impl_->target + ": lease \"" + l->name + "\" held at epoch " +
                                       std::to_string(l->epoch) + " for " +
                                       std::to_string(l->remainingMs) +
                                       " ms more: no director reports that");
  }
  Tenure t;
  t.lease = l->name;
  t.holder = s->node;
  t.epoch = l->epoch;
  t.remaining = std::chrono::milliseconds(l->remainingMs);
  t.validUntil = sent + t.remaining;
  t.claimed = l->claimed;
  return std::optional<Tenure>(std::move(t));
}

}  // namespace quorate::sdk
