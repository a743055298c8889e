// quorate-arbiter-flood-bench: what a flood of connections and large messages makes one real
// quorate-arbiter hold. It starts the arbiter binary given (one cluster, on loopback), opens
// --connections connections, keeps --streams Exchange calls of --bytes each in flight on every
// one for --seconds, and reports the arbiter's RSS (before, peak, after) and the calls' status
// codes. The request is serialised once and shared by every call, so the client's own memory
// stays small; the arbiter gets each call's bytes as it would from that many real clients.
#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "quorate/v1/quorate.pb.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

// A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); -1 when gone.
long statusKib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// A loopback port free right now.
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t length = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// One connection's calls: each one, when it ends, starts the next until the flood is over.
struct Flow {
  grpc::GenericStub* stub = nullptr;
  const grpc::ByteBuffer* request = nullptr;
  std::atomic<bool>* over = nullptr;
  std::mutex* mutex = nullptr;
  std::map<int, long>* codes = nullptr;
  std::atomic<int>* inFlight = nullptr;

  void start() {
    struct Call {
      grpc::ClientContext context;
      grpc::ByteBuffer reply;
    };
    auto call = std::make_shared<Call>();
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ++*inFlight;
    stub->UnaryCall(&call->context, "/quorate.v1.Peer/Exchange", grpc::StubOptions(), request,
                    &call->reply, [this, call](grpc::Status status) {
                      {
                        std::lock_guard<std::mutex> lock(*mutex);
                        ++(*codes)[status.error_code()];
                      }
                      --*inFlight;
                      if (!over->load()) start();
                    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"quorate-arbiter-flood-bench: an arbiter's memory under a flood"};
  std::string arbiter;
  int connections = 200;
  int streams = 8;
  std::size_t bytes = 1 << 20;
  int seconds = 10;
  app.add_option("--arbiter", arbiter, "the quorate-arbiter binary")->required();
  app.add_option("--connections", connections, "connections")->capture_default_str();
  app.add_option("--streams", streams, "calls in flight per connection")->capture_default_str();
  app.add_option("--bytes", bytes, "size of each request")->capture_default_str();
  app.add_option("--seconds", seconds, "how long the flood lasts")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("quorate-flood-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const int port = freePort();
  {
    std::ofstream config(dir / "arbiter.yaml");
    config << "listen: 127.0.0.1:" << port << "\nstate_dir: " << (dir / "state").string()
           << "\nlog_level: error\nclusters: [{id: flood, secret: flood-flood-flood-flood}]\n";
  }
  const std::string configPath = (dir / "arbiter.yaml").string();
  std::vector<char*> args = {arbiter.data(), const_cast<char*>("--config"),
                             const_cast<char*>(configPath.c_str()), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, arbiter.c_str(), nullptr, nullptr, args.data(), environ) != 0) {
    std::fprintf(stderr, "cannot start %s\n", arbiter.c_str());
    return 1;
  }
  const auto up = Clock::now() + std::chrono::seconds(10);
  while (!accepts(port) && Clock::now() < up)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long before = statusKib(pid, "VmRSS");

  quorate::v1::ExchangeRequest message;
  message.set_cluster("flood");
  message.set_membership(std::string(bytes, 'm'));
  const std::string wire = message.SerializeAsString();
  grpc::Slice slice(wire);
  const grpc::ByteBuffer request(&slice, 1);

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  std::vector<Flow> flows(static_cast<std::size_t>(connections));
  std::atomic<bool> over{false};
  std::atomic<int> inFlight{0};
  std::mutex mutex;
  std::map<int, long> codes;
  for (int c = 0; c < connections; ++c) {
    grpc::ChannelArguments arguments;
    arguments.SetInt("quorate.flood.connection", c);  // a channel (connection) of its own
    arguments.SetMaxSendMessageSize(-1);
    arguments.SetMaxReceiveMessageSize(-1);
    channels.push_back(grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                                 grpc::InsecureChannelCredentials(), arguments));
    stubs.push_back(std::make_unique<grpc::GenericStub>(channels.back()));
    flows[c] = Flow{stubs.back().get(), &request, &over, &mutex, &codes, &inFlight};
  }
  const auto start = Clock::now();
  for (auto& flow : flows) {
    for (int s = 0; s < streams; ++s) flow.start();
  }
  long peak = before;
  while (Clock::now() - start < std::chrono::seconds(seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    peak = std::max(peak, statusKib(pid, "VmRSS"));
  }
  over = true;
  const auto drain = Clock::now() + std::chrono::seconds(15);
  while (inFlight.load() > 0 && Clock::now() < drain)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const long hwm = statusKib(pid, "VmHWM");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long after = statusKib(pid, "VmRSS");
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::filesystem::remove_all(dir);

  std::printf("connections %d, %d calls in flight each, %zu bytes per request, %d s\n", connections,
              streams, bytes, seconds);
  std::printf("arbiter RSS: before %ld KiB, peak %ld KiB (VmHWM %ld KiB), after %ld KiB\n", before,
              peak, hwm, after);
  for (const auto& [code, count] : codes) std::printf("status %d: %ld calls\n", code, count);
  return 0;
}
