// quoratectl status against an arbiter's status API (and against an endpoint serving neither
// API), over loopback gRPC.
#include "client/arbiter_status.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "client/commands.h"
#include "client/director_client.h"

namespace quorate::client {
namespace {

constexpr std::chrono::milliseconds kTimeout{5000};

// An arbiter's operator API with a fixed reply: cluster "web" held by beta at epoch 12.
class FakeArbiter final : public v1::ArbiterOperator::Service {
 public:
  grpc::Status Status(grpc::ServerContext*, const v1::ArbiterStatusRequest*,
                      v1::ArbiterStatusReply* reply) override {
    reply->set_reloads(2);
    reply->set_reload_failures(1);
    auto& c = *reply->add_clusters();
    c.set_id("web");
    auto& l = *c.add_leases();
    l.set_name("default");
    l.set_holder("beta");
    l.set_epoch(12);
    l.set_remaining_ms(1400);
    auto& n = *c.add_contacts();
    n.set_node("beta");
    n.set_age_ms(300);
    auto& idle = *reply->add_clusters();
    idle.set_id("db");
    auto& q = *idle.add_leases();
    q.set_name("default");
    q.set_epoch(3);
    q.set_quarantine(true);
    return grpc::Status::OK;
  }
};

// `service` on 127.0.0.1 at a port the kernel picks.
class Server {
 public:
  explicit Server(grpc::Service* service) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(service);
    server_ = b.BuildAndStart();
  }
  ~Server() { server_->Shutdown(); }
  Endpoint endpoint() const { return *parseEndpoint("127.0.0.1:" + std::to_string(port_)); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST(ArbiterStatus, StatusFallsBackToTheArbitersApiJson) {
  FakeArbiter arbiter;
  Server server(&arbiter);
  DirectorClient client(server.endpoint(), kTimeout);
  std::ostringstream out, err;
  EXPECT_EQ(runStatus(client, /*json=*/true, out, err), kExitOk) << err.str();
  const auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["arbiter"], true);
  EXPECT_EQ(j["clusters"][0]["id"], "web");
  EXPECT_EQ(j["clusters"][0]["leases"][0]["holder"], "beta");
  EXPECT_EQ(j["clusters"][0]["leases"][0]["epoch"], 12);
  EXPECT_EQ(j["clusters"][0]["contacts"][0]["age_ms"], 300);
  EXPECT_TRUE(j["clusters"][1]["leases"][0]["holder"].is_null());
  EXPECT_EQ(j["reload_failures"], 1);
}

TEST(ArbiterStatus, StatusFallsBackToTheArbitersApiTable) {
  FakeArbiter arbiter;
  Server server(&arbiter);
  DirectorClient client(server.endpoint(), kTimeout);
  std::ostringstream out, err;
  EXPECT_EQ(runStatus(client, /*json=*/false, out, err), kExitOk) << err.str();
  EXPECT_EQ(out.str(),
            "arbiter: 2 clusters, 2 reloads (1 refused)\n"
            "CLUSTER  LEASE    HOLDER  EPOCH  LEFT     STATE\n"
            "web      default  beta    12     1400 ms  serving\n"
            "db       default  -       3      -        quarantine\n"
            "cluster web last contact: beta 0.3 s ago\n"
            "cluster db last contact: none since the arbiter's start\n");
}

// An endpoint that serves neither API (here: only the peer protocol) gets a clear error.
TEST(ArbiterStatus, NeitherApiIsAClearError) {
  v1::Peer::Service peerOnly;
  Server server(&peerOnly);
  DirectorClient client(server.endpoint(), kTimeout);
  std::ostringstream out, err;
  EXPECT_EQ(runStatus(client, /*json=*/false, out, err), kExitFailure);
  EXPECT_TRUE(out.str().empty()) << out.str();
  EXPECT_NE(err.str().find("neither a director's nor an arbiter's status API answers"),
            std::string::npos)
      << err.str();
}

}  // namespace
}  // namespace quorate::client
