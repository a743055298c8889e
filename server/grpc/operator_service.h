// The operator API (Status, WatchStatus, StepDown, Reload, IpvsTable, Drain, Enable) over the
// lease host, with roles and an audit.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "quorate/v1/quorate.grpc.pb.h"
#include "server/events/event_log.h"
#include "server/grpc/operator_auth.h"
#include "server/grpc/operator_ipvs.h"
#include "server/grpc/status_watcher.h"
#include "server/lease_host.h"

namespace quorate::server {

class UnixOperatorListener;

// `r` as it would have been built `age` later: remaining times shorter (never below 0), times
// since a peer was last heard longer. The other fields change only with a change of state, which
// invalidates the cache.
void ageStatus(v1::StatusReply& r, std::chrono::milliseconds age);

class OperatorService final : public v1::Director::CallbackService {
 public:
  // Runs a task on the host's thread.
  using Post = std::function<void(std::function<void()>)>;
  // Who called: from the call's TLS certificate or the socket's credentials.
  using Identify = std::function<Caller(const grpc::CallbackServerContext&)>;
  // Status is built at most once per this interval however often it is asked for, so that a
  // flood of Status calls costs the lease thread nothing more (a change of state invalidates).
  // A cached reply is aged when served (ageStatus): its relative times are as of the call, never
  // as of the build, so no reader sees a lease longer or a peer fresher than it is.
  static constexpr std::chrono::milliseconds kStatusMaxAge{100};

  // `current` builds the status now; called on the host's thread. `events` may be null.
  OperatorService(LeaseHost& host, StatusWatchers& watchers, Post post,
                  std::function<v1::StatusReply()> current, OperatorConfig policy,
                  Identify identify, events::EventLog* events);

  // The state changed: the next Status builds afresh. Host's thread.
  void invalidateStatus();
  // Status replies built on the host's thread, for tests and benchmarks.
  std::uint64_t statusBuilds() const;

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx, const v1::StatusRequest*,
                                   v1::StatusReply* reply) override;
  grpc::ServerWriteReactor<v1::StatusReply>* WatchStatus(grpc::CallbackServerContext* ctx,
                                                         const v1::StatusRequest*) override;
  grpc::ServerUnaryReactor* StepDown(grpc::CallbackServerContext* ctx,
                                     const v1::StepDownRequest* req,
                                     v1::StepDownReply* reply) override;
  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext* ctx, const v1::ReloadRequest*,
                                   v1::ReloadReply* reply) override;
  // What Reload runs (re-reads the file, plans, applies; blocks); before the server starts.
  void setReload(std::function<v1::ReloadReply()> reload) { reload_ = std::move(reload); }

  // IpvsTable, Drain and Enable (server/grpc/operator_ipvs_calls.cc). Each runs on gRPC's thread
  // what the director gives here (it may block on the loop thread; errors carry errnos, see
  // codeOfErrno); unset, the calls are UNAVAILABLE. Before the server starts.
  using IpvsTableFn = std::function<Result<IpvsTableView>()>;
  using DrainFn = std::function<Result<ipvs::DrainOutcome>(
      const std::string& virtualServer, const std::string& realServer, bool drain)>;
  void setIpvs(IpvsTableFn table, DrainFn drain) {
    ipvsTable_ = std::move(table);
    drain_ = std::move(drain);
  }
  grpc::ServerUnaryReactor* IpvsTable(grpc::CallbackServerContext* ctx, const v1::IpvsTableRequest*,
                                      v1::IpvsTableReply* reply) override;
  grpc::ServerUnaryReactor* Drain(grpc::CallbackServerContext* ctx, const v1::DrainRequest* req,
                                  v1::DrainReply* reply) override;
  grpc::ServerUnaryReactor* Enable(grpc::CallbackServerContext* ctx, const v1::DrainRequest* req,
                                   v1::DrainReply* reply) override;

 private:
  // Whether the caller may call `method`; on refusal logs it, records it and returns the
  // PERMISSION_DENIED status to finish with.
  std::optional<grpc::Status> refusal(const Caller& c, std::string_view method,
                                      const nlohmann::json& args);
  // An admin action's outcome: logged and recorded.
  void audit(const Caller& c, std::string_view method, const nlohmann::json& args,
             const std::string& outcome, bool ok);
  void rebuildStatus();  // host's thread
  // Drain and Enable.
  grpc::ServerUnaryReactor* changeDrain(grpc::CallbackServerContext* ctx,
                                        const v1::DrainRequest* req, v1::DrainReply* reply,
                                        bool drain);

  LeaseHost& host_;
  StatusWatchers& watchers_;
  Post post_;
  std::function<v1::StatusReply()> current_;
  OperatorConfig policy_;
  Identify identify_;
  events::EventLog* events_;
  std::function<v1::ReloadReply()> reload_;
  IpvsTableFn ipvsTable_;
  DrainFn drain_;

  struct Waiting {
    grpc::ServerUnaryReactor* reactor;
    v1::StatusReply* reply;
  };
  mutable std::mutex cacheMu_;
  std::optional<v1::StatusReply> cached_;
  std::chrono::steady_clock::time_point cachedAt_;
  bool building_ = false;
  std::vector<Waiting> waiting_;
  std::uint64_t builds_ = 0;
};

}  // namespace quorate::server
