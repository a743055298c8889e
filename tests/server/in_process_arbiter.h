// An arbiter in-process over real gRPC on loopback, for the director tests: cluster "t1" with
// key kTestKey, default quarantine, its state under `stateDir`.
#pragma once

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>

#include "arbiter/arbiter_service.h"
#include "common/clock.h"
#include "core/lease/timing.h"

namespace quorate::server {

// The key of cluster "t1" in the director tests.
inline const std::string kTestKey = "t1-test-key-0123456789";

struct InProcessArbiter {
  // `server` is null when it could not listen on `listen` (the caller asserts).
  InProcessArbiter(const std::string& listen, const std::string& stateDir) {
    arbiter::ArbiterConfig ac;
    ac.listen = listen;
    ac.stateDir = stateDir;
    std::filesystem::create_directories(ac.stateDir);
    ac.quarantine = lease::Timing{}.quarantine;
    ac.clusters = {{"t1", {kTestKey}}};
    service = std::make_unique<arbiter::ArbiterService>(ac, bootNow());
    grpc::ServerBuilder b;
    b.AddListeningPort(ac.listen, grpc::InsecureServerCredentials());
    b.RegisterService(service.get());
    server = b.BuildAndStart();
  }
  ~InProcessArbiter() {
    if (server) server->Shutdown();
  }
  InProcessArbiter(const InProcessArbiter&) = delete;
  InProcessArbiter& operator=(const InProcessArbiter&) = delete;

  std::unique_ptr<arbiter::ArbiterService> service;
  std::unique_ptr<grpc::Server> server;
};

}  // namespace quorate::server
