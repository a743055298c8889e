// quoratectl against a fake director over loopback gRPC: library calls and the real binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "client/commands.h"
#include "client/director_client.h"
#include "fake_director.h"

extern char** environ;

namespace quorate::client {
namespace {

using testing::FakeDirector;
using testing::FakeServer;

constexpr std::chrono::milliseconds kTimeout{5000};

Endpoint endpointOf(const FakeServer& server) { return *parseEndpoint(server.endpoint()); }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) result.push_back(line);
  return result;
}

// A loopback port that refuses connections: bound (so nobody else takes it) but
// never listening, for as long as the object lives.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot reserve a port: " << std::strerror(errno);
    }
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() {
    if (fd_ >= 0) close(fd_);
  }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A loopback port whose kernel completes TCP handshakes but where nobody ever
// speaks HTTP/2: gRPC stays "connecting" until a deadline gives up on it.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(fd_, 16) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen: " << std::strerror(errno);
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() {
    if (fd_ >= 0) close(fd_);
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// ---------------------------------------------------------------------------
// The library's calls.

TEST(DirectorClient, StatusReturnsTheReply) {
  FakeDirector service;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  quorate::v1::StatusReply reply;
  const grpc::Status status = client.status(&reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.cluster(), "demo");
  EXPECT_EQ(reply.epoch(), 7u);
  EXPECT_EQ(reply.nodes_size(), 3);
}

TEST(DirectorClient, StepDownSendsForceAndReturnsTheReply) {
  FakeDirector service;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  quorate::v1::StepDownReply reply;
  ASSERT_TRUE(client.stepDown(/*force=*/true, "", &reply).ok());
  EXPECT_TRUE(service.lastForce());
  EXPECT_EQ(reply.released_epoch(), 7u);
  EXPECT_EQ(reply.handed_to(), "beta");
}

TEST(DirectorClient, StepDownSendsTheLease) {
  FakeDirector service;
  service.leaseNames = {"web", "edge"};
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  quorate::v1::StepDownReply reply;
  ASSERT_TRUE(client.stepDown(false, "edge", &reply).ok());
  EXPECT_EQ(service.lastLease(), "edge");
  ASSERT_EQ(reply.leases_size(), 1);
  EXPECT_EQ(reply.leases(0), "edge");
  const grpc::Status missing = client.stepDown(false, "nope", &reply);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(DirectorClient, StepDownWhenNotHolderIsFailedPrecondition) {
  FakeDirector service;
  service.holder = false;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  quorate::v1::StepDownReply reply;
  const grpc::Status status = client.stepDown(false, "", &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "not the holder (role standby, holder alpha)");
}

TEST(DirectorClient, WatchDeliversEveryUpdateThenEnds) {
  FakeDirector service;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  std::vector<std::uint64_t> versions;
  const grpc::Status status = client.watch([&](const quorate::v1::StatusReply& r) {
    versions.push_back(r.version());
    return true;
  });
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(versions, (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(DirectorClient, WatchStopsWhenTheCallbackSaysSo) {
  FakeDirector service;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  int seen = 0;
  const grpc::Status status =
      client.watch([&](const quorate::v1::StatusReply&) { return ++seen < 2; });
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(seen, 2);
}

TEST(DirectorClient, WatchReportsABrokenStream) {
  FakeDirector service;
  service.watchMode = FakeDirector::WatchMode::kOneThenBreak;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  int seen = 0;
  const grpc::Status status = client.watch([&](const quorate::v1::StatusReply&) {
    ++seen;
    return true;
  });
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "director shutting down");
}

TEST(DirectorClient, UnreachableEndpointIsUnavailable) {
  RefusingPort refusing;
  DirectorClient client(*parseEndpoint(refusing.endpoint()), std::chrono::milliseconds(1000));
  quorate::v1::StatusReply reply;
  EXPECT_EQ(client.status(&reply).error_code(), grpc::StatusCode::UNAVAILABLE);
  const grpc::Status watched = client.watch([](const quorate::v1::StatusReply&) { return true; });
  EXPECT_FALSE(watched.ok());
}

TEST(DirectorClient, SilentPeerHitsTheDeadline) {
  SilentListener silent;
  DirectorClient client(*parseEndpoint(silent.endpoint()), std::chrono::milliseconds(200));
  quorate::v1::StatusReply reply;
  EXPECT_EQ(client.status(&reply).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  int seen = 0;
  const grpc::Status watched = client.watch([&](const quorate::v1::StatusReply&) {
    ++seen;
    return true;
  });
  EXPECT_EQ(watched.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(watched.error_message(), "no connection within 200 ms");
  EXPECT_EQ(seen, 0);
}

TEST(DirectorClient, SlowDirectorHitsTheDeadline) {
  FakeDirector service;
  service.holdStatus = true;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), std::chrono::milliseconds(100));
  quorate::v1::StatusReply reply;
  EXPECT_EQ(client.status(&reply).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  service.release();
}

// ---------------------------------------------------------------------------
// The commands, in process.

TEST(Commands, StatusJsonIsOneObject) {
  FakeDirector service;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(runStatus(client, /*json=*/true, out, err), kExitOk);
  EXPECT_TRUE(err.str().empty()) << err.str();
  ASSERT_EQ(lines(out.str()).size(), 1u) << out.str();
  const nlohmann::json j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["node"], "alpha");
  EXPECT_TRUE(j["preferred"].is_null());
  EXPECT_TRUE(j["nodes"][1]["last_seen_ms"].is_null());
}

TEST(Commands, StatusTable) {
  FakeDirector service;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(runStatus(client, /*json=*/false, out, err), kExitOk);
  const std::vector<std::string> l = lines(out.str());
  ASSERT_EQ(l.size(), 6u) << out.str();
  EXPECT_EQ(l[0], "cluster demo  node alpha  role holder  epoch 7  lease 1433 ms left");
  EXPECT_EQ(l[4], "beta      standby   no         never      127.0.0.1:7102");
}

TEST(Commands, StepDownRefusedExitsOneWithTheServersMessage) {
  FakeDirector service;
  service.holder = false;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(runStepDown(client, false, "", false, out, err), kExitFailure);
  EXPECT_TRUE(out.str().empty());
  EXPECT_EQ(err.str(), "quoratectl: " + server.endpoint() +
                           ": FAILED_PRECONDITION: not the holder (role standby, holder alpha)\n");
}

TEST(Commands, StepDownUnknownLeaseExitsOneWithNotFound) {
  FakeDirector service;
  service.leaseNames = {"web", "edge"};
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(runStepDown(client, false, "nope", false, out, err), kExitFailure);
  EXPECT_TRUE(out.str().empty()) << out.str();
  EXPECT_EQ(err.str(),
            "quoratectl: " + server.endpoint() + ": NOT_FOUND: no lease named \"nope\"\n");
}

TEST(Commands, StepDownNamesTheReleasedLeases) {
  FakeDirector service;
  service.leaseNames = {"web", "edge"};
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(runStepDown(client, false, "", false, out, err), kExitOk);
  EXPECT_EQ(out.str(), "released web (epoch 7) and edge, handed to beta\n");
  EXPECT_EQ(service.lastLease(), "");
  std::ostringstream json;
  EXPECT_EQ(runStepDown(client, true, "edge", true, json, err), kExitOk);
  EXPECT_EQ(nlohmann::json::parse(json.str()),
            nlohmann::json::parse(R"({"released_epoch":7,"handed_to":"beta","leases":["edge"],)"
                                  R"("hold_remaining_ms":0,"after_pre_release":false})"));
  EXPECT_TRUE(err.str().empty()) << err.str();
}

TEST(Commands, WatchJsonLinesWithCount) {
  FakeDirector service;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(runWatch(client, /*json=*/true, /*count=*/2, out, err), kExitOk);
  const std::vector<std::string> l = lines(out.str());
  ASSERT_EQ(l.size(), 2u) << out.str();
  EXPECT_EQ(nlohmann::json::parse(l[0])["version"], 1u);
  EXPECT_EQ(nlohmann::json::parse(l[1])["version"], 2u);
  EXPECT_TRUE(nlohmann::json::parse(l[1])["elapsed_ms"].is_number_integer());
}

TEST(Commands, WatchBrokenStreamExitsOne) {
  FakeDirector service;
  service.watchMode = FakeDirector::WatchMode::kOneThenBreak;
  FakeServer server(&service);
  DirectorClient client(endpointOf(server), kTimeout);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(runWatch(client, false, 0, out, err), kExitFailure);
  EXPECT_EQ(lines(out.str()).size(), 1u);
  EXPECT_EQ(err.str(),
            "quoratectl: " + server.endpoint() + ": UNAVAILABLE: director shutting down\n");
}

TEST(Commands, InterruptedWatchExitsZero) {
  FakeDirector service;
  service.watchMode = FakeDirector::WatchMode::kOneThenHold;
  FakeServer server(&service);
  CallCanceller canceller;
  DirectorClient client(endpointOf(server), kTimeout, &canceller);
  // The stream stays open after the first update; "Ctrl-C" arrives once it is printed.
  struct CancelOnWrite : std::stringbuf {
    explicit CancelOnWrite(CallCanceller* c) : canceller(c) {}
    int sync() override {
      canceller->cancel();
      return 0;
    }
    CallCanceller* canceller;
  } buf(&canceller);
  std::ostream out(&buf);
  std::ostringstream err;
  EXPECT_EQ(runWatch(client, false, 0, out, err, &canceller), kExitOk);
  EXPECT_EQ(lines(buf.str()).size(), 1u);
  EXPECT_TRUE(err.str().empty()) << err.str();
}

TEST(Commands, InterruptedStatusExits130) {
  FakeDirector service;
  FakeServer server(&service);
  CallCanceller canceller;
  canceller.cancel();
  DirectorClient client(endpointOf(server), kTimeout, &canceller);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(runStatus(client, false, out, err, &canceller), kExitInterrupted);
  EXPECT_EQ(err.str(), "quoratectl: interrupted\n");
}

// ---------------------------------------------------------------------------
// The built binary.

struct ProcessResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

struct ProcessHooks {
  std::vector<std::string> extraEnv;  // NAME=value, ahead of this process's environment
  std::function<void(pid_t)> onSpawn;
  std::function<void(pid_t, const std::string& out)> onStdout;  // after each chunk
};

// Runs quoratectl with `args`, collecting stdout and stderr until it exits.
ProcessResult runQuoratectl(const std::vector<std::string>& args, const ProcessHooks& hooks = {}) {
  std::vector<std::string> argStore = {QUORATECTL_PATH};
  argStore.insert(argStore.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argStore) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envStore = hooks.extraEnv;
  for (char** e = environ; *e != nullptr; ++e) envStore.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& e : envStore) envp.push_back(e.data());
  envp.push_back(nullptr);

  int outPipe[2];
  int errPipe[2];
  ProcessResult result;
  if (pipe2(outPipe, O_CLOEXEC) != 0 || pipe2(errPipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, outPipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, errPipe[1], STDERR_FILENO);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(outPipe[1]);
  close(errPipe[1]);
  if (spawned != 0) {
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(spawned);
    close(outPipe[0]);
    close(errPipe[0]);
    return result;
  }
  if (hooks.onSpawn) hooks.onSpawn(pid);

  pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  while (open > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char chunk[4096];
      const ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
      if (n > 0) {
        sinks[i]->append(chunk, static_cast<std::size_t>(n));
        if (i == 0 && hooks.onStdout) hooks.onStdout(pid, result.out);
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  result.exitCode = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return result;
}

TEST(Binary, StatusJsonParsesAndExitsZero) {
  FakeDirector service;
  FakeServer server(&service);
  const ProcessResult r = runQuoratectl({"--endpoint", server.endpoint(), "status", "--json"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["cluster"], "demo");
  EXPECT_EQ(j["holder"], "alpha");
  EXPECT_EQ(j["nodes"].size(), 3u);
}

TEST(Binary, StatusTableWithEndpointFromEnvironment) {
  FakeDirector service;
  FakeServer server(&service);
  ProcessHooks hooks;
  hooks.extraEnv = {std::string(kEndpointEnv) + "=" + server.endpoint()};
  const ProcessResult r = runQuoratectl({"status"}, hooks);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out.rfind("cluster demo  node alpha  role holder", 0), 0u) << r.out;
}

TEST(Binary, WatchJsonLines) {
  FakeDirector service;
  FakeServer server(&service);
  const ProcessResult r =
      runQuoratectl({"--endpoint", server.endpoint(), "watch", "--json", "--count", "2"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  const std::vector<std::string> l = lines(r.out);
  ASSERT_EQ(l.size(), 2u) << r.out;
  for (std::size_t i = 0; i < l.size(); ++i) {
    EXPECT_EQ(nlohmann::json::parse(l[i])["version"], i + 1);
  }
}

TEST(Binary, WatchToStreamEnd) {
  FakeDirector service;
  FakeServer server(&service);
  const ProcessResult r = runQuoratectl({"--endpoint", server.endpoint(), "watch"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(lines(r.out).size(), 3u) << r.out;
}

TEST(Binary, WatchBrokenStreamExitsOne) {
  FakeDirector service;
  service.watchMode = FakeDirector::WatchMode::kOneThenBreak;
  FakeServer server(&service);
  const ProcessResult r = runQuoratectl({"--endpoint", server.endpoint(), "watch", "--json"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(lines(r.out).size(), 1u) << r.out;
  EXPECT_NE(r.err.find("UNAVAILABLE: director shutting down"), std::string::npos) << r.err;
}

TEST(Binary, StepDownOkAndRefused) {
  FakeDirector service;
  FakeServer server(&service);
  ProcessResult r = runQuoratectl({"--endpoint", server.endpoint(), "step-down"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "released epoch 7, handed to beta\n");

  r = runQuoratectl({"--endpoint", server.endpoint(), "step-down", "--json", "--force"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["handed_to"], "beta");
  EXPECT_TRUE(service.lastForce());

  service.holder = false;
  r = runQuoratectl({"--endpoint", server.endpoint(), "step-down"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err, "quoratectl: " + server.endpoint() +
                       ": FAILED_PRECONDITION: not the holder (role standby, holder alpha)\n");
}

TEST(Binary, StepDownByLease) {
  FakeDirector service;
  service.leaseNames = {"web", "edge"};
  FakeServer server(&service);
  ProcessResult r =
      runQuoratectl({"--endpoint", server.endpoint(), "step-down", "--lease", "edge"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "released edge (epoch 7), handed to beta\n");
  EXPECT_EQ(service.lastLease(), "edge");

  r = runQuoratectl({"--endpoint", server.endpoint(), "step-down", "--lease", "nope"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err, "quoratectl: " + server.endpoint() + ": NOT_FOUND: no lease named \"nope\"\n");

  // A bad name never reaches the director.
  r = runQuoratectl({"--endpoint", server.endpoint(), "step-down", "--lease", "web edge"});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("--lease: lease names are 1 to 64 characters"), std::string::npos) << r.err;
  EXPECT_EQ(service.lastLease(), "nope");
}

TEST(Binary, UnreachableEndpointExitsOne) {
  RefusingPort refusing;
  const ProcessResult r =
      runQuoratectl({"--endpoint", refusing.endpoint(), "--timeout-ms", "500", "status"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err.rfind("quoratectl: " + refusing.endpoint() + ": UNAVAILABLE", 0), 0u) << r.err;
}

TEST(Binary, SilentPeerTimesOut) {
  SilentListener silent;
  ProcessResult r =
      runQuoratectl({"--endpoint", silent.endpoint(), "--timeout-ms", "200", "status"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.err.rfind("quoratectl: " + silent.endpoint() + ": DEADLINE_EXCEEDED", 0), 0u)
      << r.err;
  r = runQuoratectl({"--endpoint", silent.endpoint(), "--timeout-ms", "200", "watch"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.err, "quoratectl: " + silent.endpoint() +
                       ": DEADLINE_EXCEEDED: no connection within 200 ms\n");
}

TEST(Binary, CtrlCEndsAWatchWithZero) {
  FakeDirector service;
  service.watchMode = FakeDirector::WatchMode::kOneThenHold;
  FakeServer server(&service);
  bool sent = false;
  ProcessHooks hooks;
  hooks.onStdout = [&](pid_t pid, const std::string& out) {
    if (!sent && out.find('\n') != std::string::npos) {
      sent = true;
      kill(pid, SIGINT);  // "Ctrl-C" once the first update is out
    }
  };
  const ProcessResult r =
      runQuoratectl({"--endpoint", server.endpoint(), "watch", "--json"}, hooks);
  EXPECT_TRUE(sent);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(lines(r.out).size(), 1u) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(Binary, CtrlCDuringStatusExits130) {
  FakeDirector service;
  service.holdStatus = true;
  std::promise<pid_t> spawned;
  std::shared_future<pid_t> child = spawned.get_future().share();
  // "Ctrl-C" while the call is surely in flight: as the director receives it.
  service.onStatusCall = [child] { kill(child.get(), SIGINT); };
  FakeServer server(&service);
  ProcessHooks hooks;
  hooks.onSpawn = [&](pid_t pid) { spawned.set_value(pid); };
  const ProcessResult r =
      runQuoratectl({"--endpoint", server.endpoint(), "--timeout-ms", "60000", "status"}, hooks);
  EXPECT_EQ(r.exitCode, 130);
  EXPECT_EQ(r.err, "quoratectl: interrupted\n");
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(Binary, BadArgumentsExitTwo) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--endpoint", "nohost", "status"},
           {"--endpoint", "[::1]", "status"},
           {"status", "--bogus"},
           {"frobnicate"},
           {},
       }) {
    const ProcessResult r = runQuoratectl(args);
    EXPECT_EQ(r.exitCode, 2) << r.err;
    EXPECT_FALSE(r.err.empty());
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(Binary, HelpExitsZero) {
  const ProcessResult r = runQuoratectl({"--help"});
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_NE(r.out.find("--endpoint"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace quorate::client
