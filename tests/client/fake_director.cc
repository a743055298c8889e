// The fake Director of quoratectl's gRPC tests: canned replies, a scripted watch stream.
#include "fake_director.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <stdexcept>

namespace quorate::client::testing {

quorate::v1::StatusReply cannedStatus() {
  quorate::v1::StatusReply r;
  r.set_cluster("demo");
  r.set_node("alpha");
  r.set_role("holder");
  r.set_role_reason("renewed");
  r.set_holder("alpha");
  r.set_epoch(7);
  r.set_lease_remaining_ms(1433);
  r.set_version(1);
  auto add = [&r](const char* id, const char* role, std::int64_t seen, const char* address,
                  bool self) {
    quorate::v1::NodeStatus* n = r.add_nodes();
    n->set_id(id);
    n->set_role(role);
    n->set_reachable(seen >= 0);
    n->set_last_seen_ms(seen);
    n->set_address(address);
    n->set_self(self);
  };
  add("alpha", "holder", 0, "127.0.0.1:7101", true);
  add("beta", "standby", -1, "127.0.0.1:7102", false);
  add("arbiter", "arbiter", 98, "127.0.0.1:7100", false);
  return r;
}

void FakeDirector::release() {
  std::lock_guard<std::mutex> lock(mu_);
  released_ = true;
  released_cv_.notify_all();
}

bool FakeDirector::lastForce() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_force_;
}

std::string FakeDirector::lastLease() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_lease_;
}

void FakeDirector::waitForRelease() {
  std::unique_lock<std::mutex> lock(mu_);
  released_cv_.wait(lock, [this] { return released_; });
}

grpc::Status FakeDirector::Status(grpc::ServerContext* /*context*/,
                                  const quorate::v1::StatusRequest* /*request*/,
                                  quorate::v1::StatusReply* reply) {
  if (onStatusCall) onStatusCall();
  if (holdStatus) waitForRelease();
  *reply = cannedStatus();
  return grpc::Status::OK;
}

grpc::Status FakeDirector::WatchStatus(grpc::ServerContext* /*context*/,
                                       const quorate::v1::StatusRequest* /*request*/,
                                       grpc::ServerWriter<quorate::v1::StatusReply>* writer) {
  quorate::v1::StatusReply update = cannedStatus();
  const int updates = watchMode == WatchMode::kThreeThenEnd ? 3 : 1;
  for (int i = 1; i <= updates; ++i) {
    update.set_version(static_cast<std::uint64_t>(i));
    update.set_lease_remaining_ms(1500 - 100 * i);
    if (!writer->Write(update)) return grpc::Status(grpc::StatusCode::CANCELLED, "client left");
  }
  switch (watchMode) {
    case WatchMode::kThreeThenEnd:
      return grpc::Status::OK;
    case WatchMode::kOneThenBreak:
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "director shutting down");
    case WatchMode::kOneThenHold:
      waitForRelease();
      return grpc::Status::OK;
  }
  return grpc::Status::OK;
}

grpc::Status FakeDirector::StepDown(grpc::ServerContext* /*context*/,
                                    const quorate::v1::StepDownRequest* request,
                                    quorate::v1::StepDownReply* reply) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_force_ = request->force();
    last_lease_ = request->lease();
  }
  const bool known = request->lease().empty() || std::find(leaseNames.begin(), leaseNames.end(),
                                                           request->lease()) != leaseNames.end();
  if (!leaseNames.empty() && !known) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no lease named \"" + request->lease() + "\"");
  }
  if (!holder) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "not the holder (role standby, holder alpha)");
  }
  reply->set_released_epoch(7);
  reply->set_handed_to("beta");
  for (const std::string& name : leaseNames) {
    if (request->lease().empty() || request->lease() == name) reply->add_leases(name);
  }
  return grpc::Status::OK;
}

FakeServer::FakeServer(FakeDirector* service) : service_(service) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(service_);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) throw std::runtime_error("fake director failed to start");
}

FakeServer::~FakeServer() {
  service_->release();  // held calls must return before Shutdown can finish
  server_->Shutdown();
}

}  // namespace quorate::client::testing
