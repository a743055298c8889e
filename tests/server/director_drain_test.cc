// Drain and enable in-process (fake kernel, standby: warm so the table is programmed without a
// lease): weight 0 in the kernel with the entry kept, the state file written before, the drain
// kept across a reload and a restart until enabled, refusals named; IpvsTable shows the table.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "server/daemon.h"
#include "server/reload/plan.h"
#include "tests/common/config_test_util.h"
#include "tests/server/fake_kernel.h"
#include "tests/server/in_process_arbiter.h"  // kTestKey
#include "tests/support/ports.h"

namespace quorate::server {
namespace {

using namespace std::chrono_literals;

class DirectorDrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    for (int& p : ports_) p = testutil::reservePort();
    std::filesystem::create_directories(dir_ + "/alpha");
    start(config(3));
  }
  void TearDown() override { director_.reset(); }

  std::string addr(int i) const { return "127.0.0.1:" + std::to_string(ports_[i]); }
  // Two unchecked (so alive) real servers; b's weight is `bWeight`.
  std::string config(int bWeight) const {
    return "cluster: t1\nnode: alpha\nsecret: " + kTestKey + "\nlisten: \"" + addr(0) +
           "\"\nstate_dir: " + dir_ + "/alpha\noperator: {socket: " + dir_ +
           "/alpha/director.sock}\n"
           "directors: [{id: alpha, address: \"" +
           addr(0) + "\"}, {id: beta, address: \"" + addr(1) + "\"}]\narbiter: {address: \"" +
           addr(2) +
           "\"}\n"
           "instances: [{name: web, vips: [{address: 198.18.0.10/24, device: eth0}]}]\n"
           "ipvs: {standby: warm}\n"
           "virtual_servers:\n"
           "  - name: http\n"
           "    address: 198.18.0.10\n"
           "    port: 80\n"
           "    forwarding: nat\n"
           "    real_servers:\n"
           "      - {address: 198.18.0.21, port: 80, weight: 3}\n"
           "      - {address: 198.18.0.22, port: 80, weight: " +
           std::to_string(bWeight) + "}\n";
  }
  void start(const std::string& text) {
    text_ = text;
    director_ =
        std::make_unique<Daemon>(parseDirectorConfig(text, dir_ + "/alpha.yaml"), kernel_.ports());
    ASSERT_TRUE(director_->start().isOk());
    stub_ = v1::Director::NewStub(grpc::CreateChannel("unix:" + dir_ + "/alpha/director.sock",
                                                      grpc::InsecureChannelCredentials()));
  }
  grpc::Status call(bool drain, const std::string& vs, const std::string& rs,
                    v1::DrainReply* reply) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    v1::DrainRequest req;
    req.set_virtual_server(vs);
    req.set_real_server(rs);
    return drain ? stub_->Drain(&ctx, req, reply) : stub_->Enable(&ctx, req, reply);
  }
  // The weight of `endpoint` in the (fake) kernel, read through IpvsTable; nullopt when absent.
  std::optional<int> kernelWeight(const std::string& address) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    v1::IpvsTableReply r;
    EXPECT_TRUE(stub_->IpvsTable(&ctx, {}, &r).ok());
    for (const auto& s : r.services()) {
      for (const auto& d : s.destinations()) {
        if (d.address() == address && d.port() == 80) return d.weight();
      }
    }
    return std::nullopt;
  }
  const v1::RealServerStatus* statusOf(const v1::StatusReply& r, const std::string& endpoint) {
    for (const auto& vs : r.virtual_servers()) {
      for (const auto& rs : vs.real_servers()) {
        if (rs.endpoint() == endpoint) return &rs;
      }
    }
    return nullptr;
  }
  v1::StatusReply status() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    v1::StatusReply r;
    EXPECT_TRUE(stub_->Status(&ctx, {}, &r).ok());
    return r;
  }
  std::string drainsFile() const { return dir_ + "/alpha/drains.json"; }
  std::string fileText(const std::string& path) const {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  testutil::TempDir tmp_{"quorate-director-drain"};
  std::string dir_;
  int ports_[3] = {};
  testing::FakeKernel kernel_;
  std::string text_;
  std::unique_ptr<Daemon> director_;
  std::unique_ptr<v1::Director::Stub> stub_;
};

TEST_F(DirectorDrainTest, IpvsTableShowsTheKernelsTableWithTheVirtualServersName) {
  grpc::ClientContext ctx;
  v1::IpvsTableReply r;
  ASSERT_TRUE(stub_->IpvsTable(&ctx, {}, &r).ok());
  ASSERT_EQ(r.services_size(), 1);
  EXPECT_EQ(r.services(0).virtual_server(), "http");
  EXPECT_EQ(r.services(0).protocol(), "tcp");
  EXPECT_EQ(r.services(0).address(), "198.18.0.10");
  EXPECT_EQ(r.services(0).port(), 80u);
  ASSERT_EQ(r.services(0).destinations_size(), 2);
  EXPECT_EQ(r.services(0).destinations(0).address(), "198.18.0.21");
  EXPECT_EQ(r.services(0).destinations(0).forward(), "nat");
  EXPECT_EQ(r.services(0).destinations(1).weight(), 3);
}

TEST_F(DirectorDrainTest, DrainIsWeightZeroKeptAcrossReloadAndRestartUntilEnabled) {
  ASSERT_EQ(kernelWeight("198.18.0.21"), 3);
  v1::DrainReply reply;
  // By address alone: it is the only real server of http with it.
  ASSERT_TRUE(call(true, "http", "198.18.0.21", &reply).ok());
  EXPECT_EQ(reply.real_server(), "198.18.0.21:80");
  EXPECT_TRUE(reply.changed());
  EXPECT_EQ(kernelWeight("198.18.0.21"), 0);  // kept, with weight 0: its connections finish
  EXPECT_EQ(kernelWeight("198.18.0.22"), 3);
  EXPECT_NE(fileText(drainsFile()).find("198.18.0.21:80"), std::string::npos);
  {
    const auto s = status();
    const auto* rs = statusOf(s, "198.18.0.21:80");
    ASSERT_NE(rs, nullptr);
    EXPECT_TRUE(rs->drained());
    EXPECT_EQ(rs->weight(), 3);
    EXPECT_EQ(rs->weight_in_effect(), 0);
    EXPECT_FALSE(statusOf(s, "198.18.0.22:80")->drained());
  }
  // Again: nothing changes, and it says so. By the service's endpoint this time.
  ASSERT_TRUE(call(true, "198.18.0.10:80", "198.18.0.21:80", &reply).ok());
  EXPECT_FALSE(reply.changed());

  // A reload that changes the other real server keeps the drain.
  const std::string next = config(5);
  const auto plan = reload::planReload(parseDirectorConfig(text_, "x"), text_,
                                       parseDirectorConfig(next, "x"), next);
  ASSERT_TRUE(plan.accepted()) << plan.summary();
  const auto result = director_->applyReload(parseDirectorConfig(next, "x"), plan);
  ASSERT_TRUE(result.applied) << result.text;
  EXPECT_EQ(kernelWeight("198.18.0.22"), 5);
  EXPECT_EQ(kernelWeight("198.18.0.21"), 0);

  // A restart reads it back before the first table goes in.
  director_.reset();
  start(next);
  EXPECT_EQ(kernelWeight("198.18.0.21"), 0);
  EXPECT_TRUE(statusOf(status(), "198.18.0.21:80")->drained());

  ASSERT_TRUE(call(false, "http", "198.18.0.21:80", &reply).ok());
  EXPECT_TRUE(reply.changed());
  EXPECT_EQ(reply.drained_size(), 0);
  EXPECT_EQ(kernelWeight("198.18.0.21"), 3);
  EXPECT_FALSE(statusOf(status(), "198.18.0.21:80")->drained());
  EXPECT_EQ(fileText(drainsFile()).find("198.18.0.21"), std::string::npos);
  ASSERT_TRUE(call(false, "http", "198.18.0.21:80", &reply).ok());
  EXPECT_FALSE(reply.changed());
}

TEST_F(DirectorDrainTest, UnknownNamesAndAnUnwritableFileChangeNothing) {
  v1::DrainReply reply;
  auto s = call(true, "nope", "198.18.0.21:80", &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("http (tcp 198.18.0.10:80)"), std::string::npos)
      << s.error_message();
  s = call(true, "http", "198.18.0.99:80", &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("198.18.0.21:80, 198.18.0.22:80"), std::string::npos)
      << s.error_message();
  s = call(true, "http", "not-an-address", &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  // The file cannot be replaced (a directory stands in its way): refused, the kernel untouched.
  std::filesystem::create_directories(drainsFile() + "/in-the-way");
  s = call(true, "http", "198.18.0.21:80", &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_NE(s.error_message().find("nothing changed"), std::string::npos) << s.error_message();
  EXPECT_EQ(kernelWeight("198.18.0.21"), 3);
  EXPECT_FALSE(statusOf(status(), "198.18.0.21:80")->drained());
}

// Hostile words: a name whose 200-byte cut for the audit would split a UTF-8 character (the
// audit's JSON must stay valid, or gRPC answers UNIMPLEMENTED and nothing is audited), a long
// name with a newline (below the socket's 16 KiB message bound; the refusal and the audit must
// quote it bounded and escaped, not forge a log line). Refused, and the director still serves.
TEST_F(DirectorDrainTest, HostileNamesAreRefusedBoundedAndTheDirectorStaysUp) {
  v1::DrainReply reply;
  std::string split(199, 'a');
  split += "\xc3\xa9";  // "e" with an acute accent: bytes 200 and 201
  auto s = call(true, split, "198.18.0.21:80", &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  s = call(false, "http", std::string(199, '1') + "\xc3\xa9", &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  const std::string huge = "web\nforged line " + std::string(12000, 'y');
  for (const bool vsSide : {true, false}) {
    s = vsSide ? call(true, huge, "198.18.0.21:80", &reply) : call(true, "http", huge, &reply);
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::NOT_FOUND ||
                s.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_code() << " " << s.error_message().substr(0, 200);
    EXPECT_LT(s.error_message().size(), 4096u);
    EXPECT_EQ(s.error_message().find('\n'), std::string::npos);
    EXPECT_NE(s.error_message().find("web\\nforged line yyy"), std::string::npos)
        << s.error_message().substr(0, 300);
  }

  ASSERT_TRUE(call(true, "http", "198.18.0.21:80", &reply).ok());
  EXPECT_EQ(kernelWeight("198.18.0.21"), 0);
}

// A name that is not there, with a group of 1,024 members configured: the refusal names each
// virtual server once (not each member), so it stays a short NOT_FOUND that gRPC can carry in
// its trailers (about 8 KiB) instead of a metadata error the operator cannot read.
TEST_F(DirectorDrainTest, AnUnknownNameBesideALargeGroupIsAShortRefusal) {
  director_.reset();
  std::string text = config(3);
  text.replace(
      text.find("virtual_servers:\n"), std::string::npos,
      "virtual_server_groups:\n"
      "  front: [\"198.18.4.0-255:80\", \"198.18.5.0-255:80\", \"198.18.6.0-255:80\",\n"
      "          \"198.18.7.0-255:80\"]\n"
      "virtual_servers:\n"
      "  - {name: http, group: front, real_servers: [{address: 198.18.0.21, port: 80}]}\n");
  start(text);
  v1::DrainReply reply;
  const auto s = call(true, "nope", "198.18.0.21:80", &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message().substr(0, 300);
  EXPECT_LT(s.error_message().size(), 1024u);
  EXPECT_NE(s.error_message().find("http (group front, 1024 services)"), std::string::npos)
      << s.error_message().substr(0, 300);
  // The group is still drained by its name.
  ASSERT_TRUE(call(true, "http", "198.18.0.21:80", &reply).ok());
}

// The same for a real server that is not there in a virtual server of 1,000 (no group): the
// list of its real servers is cut, so the refusal still reaches the operator.
TEST_F(DirectorDrainTest, AnUnknownRealServerAmongManyIsAShortRefusal) {
  director_.reset();
  std::string text = config(3);
  std::string servers;
  for (int i = 0; i < 1000; ++i) {
    servers += std::string(servers.empty() ? "" : ", ") + "{address: 198.19." +
               std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ", port: 80}";
  }
  text.replace(text.find("    real_servers:\n"), std::string::npos,
               "    real_servers: [" + servers + "]\n");
  start(text);
  v1::DrainReply reply;
  const auto s = call(true, "http", "198.18.0.99:80", &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message().substr(0, 300);
  EXPECT_LT(s.error_message().size(), 1024u);
  EXPECT_NE(s.error_message().find("198.19.0.1:80, 198.19.0.2:80"), std::string::npos)
      << s.error_message().substr(0, 300);
  EXPECT_NE(s.error_message().find("and 980 more"), std::string::npos)
      << s.error_message().substr(0, 300);
}

TEST_F(DirectorDrainTest, AnUnreadableDrainsFileStopsTheStartNamingIt) {
  director_.reset();
  std::ofstream(drainsFile()) << "{\"version\": 1, \"drains\": [{\"virtual_server\": 7}]}";
  try {
    Daemon d(parseDirectorConfig(text_, dir_ + "/alpha.yaml"), kernel_.ports());
    FAIL() << "started with a broken " << drainsFile();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(drainsFile() + ": drains[0]"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace quorate::server
