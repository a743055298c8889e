// quorate-arbiter: the third vote for any number of director clusters.
#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "arbiter/arbiter_service.h"
#include "arbiter/config.h"
#include "arbiter/metrics.h"
#include "arbiter/operator_server.h"
#include "arbiter/preflight.h"
#include "arbiter/reloader.h"
#include "arbiter/service_watchdog.h"
#include "common/clock.h"
#include "common/config_error.h"
#include "common/logging.h"
#include "common/peer_auth.h"
#include "common/privileges.h"
#include "common/signals.h"
#include "common/state_dir.h"
#include "common/state_file.h"
#include "common/systemd_notify.h"
#include "common/tls/credentials.h"
#include "common/version.h"

int main(int argc, char** argv) {
  using namespace quorate;
  CLI::App app{"quorate-arbiter: the arbiter of quorate director clusters"};
  std::string configPath;
  bool check = false;
  app.add_option("-c,--config", configPath, "configuration file (YAML)")->required();
  app.add_flag("--check", check, "validate the configuration and exit");
  app.set_version_flag("--version", versionLine("quorate-arbiter"));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // usage errors exit 2, like config errors
  }
  // The file, then what this host can verify of it (arbiter/preflight.h); nothing starts.
  if (check) return arbiter::preflight::runCheck(configPath, std::cout, std::cerr);

  arbiter::ArbiterConfig config;
  try {
    config = arbiter::loadArbiterConfig(configPath);
  } catch (const ConfigError& e) {
    std::cerr << "quorate-arbiter: " << e.what() << "\n";
    return 2;
  }
  blockStopSignals();
  if (const Status st = setupLogging("arbiter", config.logLevel, config.logTarget); !st) {
    std::cerr << "quorate-arbiter: " << st.message() << "\n";
    return 2;
  }
  // Held to the end of main: a second daemon on this state_dir is refused.
  auto stateDir = StateDirLock::acquire(config.stateDir);
  if (!stateDir) {
    spdlog::critical("{}", stateDir.status().message());
    return 1;
  }
  std::unique_ptr<arbiter::ArbiterService> service;
  try {
    service = std::make_unique<arbiter::ArbiterService>(config, bootNow());
  } catch (const std::exception& e) {
    spdlog::critical("cannot load state: {}", e.what());
    return 1;
  }
  std::unique_ptr<metrics::HttpEndpoint> metricsEndpoint;  // before the service goes
  if (config.metrics) {
    auto m = arbiter::startArbiterMetrics(*config.metrics, *service);
    if (!m) {
      spdlog::critical("{}", m.status().message());
      return 1;
    }
    metricsEndpoint = std::move(m).value();
  }
  // Debian's abseil checks every lock gRPC takes for deadlock cycles under one global
  // lock; after a stall of a few seconds that check alone kept the arbiter from catching
  // up (docs/bench-arbiter.md).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  grpc::ServerBuilder builder;
  // Bound the work a backlog can queue per connection, so a stalled arbiter recovers.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 32);
  // What anyone who reaches the port may make the arbiter hold (docs/security.md, "Limits"):
  // a peer message is under 1 KiB, so one over kMaxPeerMessage is refused (RESOURCE_EXHAUSTED);
  // connections that never finish their handshake, or carry no call for long, are dropped;
  // gRPC's own buffers and threads live within one quota, twice what 10,000 director
  // connections took in docs/bench-arbiter.md.
  constexpr int kMaxPeerMessage = 64 << 10;
  builder.SetMaxReceiveMessageSize(kMaxPeerMessage);
  builder.SetMaxSendMessageSize(kMaxPeerMessage);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, 16 << 10);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 5'000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 300'000);
  grpc::ResourceQuota quota("quorate-arbiter");
  quota.Resize(std::size_t{512} << 20);
  quota.SetMaxThreads(64);
  builder.SetResourceQuota(quota);
  int port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (config.tls) {
    // Any client certificate gets through the handshake; the service checks it per request
    // against the CA of the cluster the request names.
    credentials = tls::requestingServerCredentials({"", config.tls->cert, config.tls->key});
  } else {
    spdlog::warn(
        "running WITHOUT TLS: anyone who can reach {} can read and forge lease messages; "
        "configure tls: (docs/security.md)",
        config.listen);
  }
  builder.AddListeningPort(config.listen, credentials, &port);
  builder.RegisterService(service.get());
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    spdlog::critical("cannot listen on {}", config.listen);
    return 1;
  }
  // The status API, on its own socket (never on the peer port); made before the capabilities go,
  // since giving the socket its group may need CAP_CHOWN.
  std::unique_ptr<arbiter::OperatorEndpoint> operatorApi;
  if (config.operatorApi) {
    auto started = arbiter::OperatorEndpoint::start(*config.operatorApi, *service, bootNow);
    if (!started) {
      spdlog::critical("{}", started.status().message());
      return 1;
    }
    operatorApi = std::move(started).value();
    spdlog::info("status API on {}", config.operatorApi->socket);
  }
  // Listening, state open: the arbiter needs no capability at all from here on (it can also run
  // as an unprivileged user from the start; docs/security.md).
  if (const Status st = privileges::restrictAllThreads(0); !st) {
    spdlog::critical("cannot drop capabilities: {}", st.message());
    return 1;
  }
  spdlog::info("arbiter listening on {} for {} clusters; quarantine {} ms", config.listen,
               config.clusters.size(),
               std::chrono::duration_cast<std::chrono::milliseconds>(config.quarantine).count());
  warnNoTls("quorate-arbiter");
  // systemd: ready, and (WatchdogSec=) alive while every cluster's lock can be taken.
  std::unique_ptr<arbiter::ArbiterWatchdog> watchdog;
  if (const auto every = systemd::watchdogInterval(); every.count() > 0) {
    watchdog = std::make_unique<arbiter::ArbiterWatchdog>(
        every, [&service] { service->probeClusters(); }, [] { (void)systemd::pet(); });
  }
  (void)systemd::ready("listening on " + config.listen + " for " +
                       std::to_string(config.clusters.size()) + " clusters");
  arbiter::Reloader reloader(config, *service, bootNow);
  int sig = 0;
  while ((sig = waitForSignal()) == SIGHUP) {
    const systemd::ReloadNotice reloadNotice;  // RELOADING=1 now, READY=1 when this pass ends
    reloader.reload();
  }
  (void)systemd::stopping();
  spdlog::info("signal {}: shutting down", sig);
  operatorApi.reset();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  return 0;
}
