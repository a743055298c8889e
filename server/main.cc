// quorate-director: holds the cluster's lease with its peer director and the arbiter.
#include <absl/synchronization/mutex.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "common/config_error.h"
#include "common/file_limit.h"
#include "common/logging.h"
#include "common/signals.h"
#include "common/state_dir.h"
#include "common/state_file.h"
#include "common/systemd_notify.h"
#include "common/version.h"
#include "common/yaml_config.h"
#include "server/config.h"
#include "server/daemon.h"
#include "server/preflight.h"
#include "server/privileges.h"
#include "server/reload/reloader.h"

int main(int argc, char** argv) {
  using namespace quorate;
  CLI::App app{"quorate-director: a split-brain-safe director of an LVS cluster"};
  std::string configPath;
  bool check = false;
  app.add_option("-c,--config", configPath, "configuration file (YAML)")->required();
  app.add_flag("--check", check, "validate the configuration and exit");
  app.set_version_flag("--version", versionLine("quorate-director"));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // usage errors exit 2, like config errors
  }
  // The file, then what this host can verify of it (server/preflight.h); nothing starts.
  if (check) return server::preflight::runCheck(configPath, std::cout, std::cerr);

  server::DirectorConfig config;
  std::string configText;
  try {
    configText = quorate::config::readConfigFile(configPath);
    config = server::parseDirectorConfig(configText, configPath);
  } catch (const ConfigError& e) {
    std::cerr << "quorate-director: " << e.what() << "\n";
    return 2;
  }
#ifdef QUORATE_TEST_UNGATED_FRAMES
  // The test-only build tests/netns makes to show its freeze test catching late frames.
  config.testFaults.ungatedFrames = true;
  std::cerr << "quorate-director: TEST BUILD: frames are sent after the lease end (never deploy "
               "this binary)\n";
#endif
#ifdef QUORATE_TEST_UNGATED_WATCHDOG
  // The test-only build tests/netns makes to show its watchdog tests catching a director that
  // pets whatever its lease, with a countdown of twice the holder lease and no margin (what the
  // load check refuses; the file's own watchdog timing passed it).
  config.testFaults.ungatedWatchdog = true;
  if (config.watchdog) {
    config.watchdog->timeout =
        2 * std::chrono::duration_cast<std::chrono::milliseconds>(config.timing.holderLease);
    config.watchdog->margin = std::chrono::milliseconds(0);
  }
  std::cerr << "quorate-director: TEST BUILD: the watchdog is petted whatever the lease, with a "
               "countdown of twice the lease (never deploy this binary)\n";
#endif
#ifdef QUORATE_TEST_UNCHECKED_PEER_IDENTITY
  // The test-only build tests/process makes to show its TLS test catching a director that takes
  // any certificate of its cluster's CA for any director.
  config.testFaults.uncheckedPeerIdentity = true;
  std::cerr << "quorate-director: TEST BUILD: peer certificates are not compared with the "
               "sender or the server called (never deploy this binary)\n";
#endif
#ifdef QUORATE_TEST_FREEZABLE_LOOP
  // Test-only builds (tests/process notify_test.cc): the loop thread blocks while this file
  // exists; with QUORATE_TEST_PET_FROM_ANY_THREAD, systemd's watchdog is petted regardless.
  if (const char* f = std::getenv("QUORATE_TEST_FREEZE_LOOP_FILE")) {
    config.testFaults.freezeLoopFile = f;
  }
#ifdef QUORATE_TEST_PET_FROM_ANY_THREAD
  config.testFaults.petFromAnyThread = true;
#endif
  std::cerr << "quorate-director: TEST BUILD: the loop can be frozen (never deploy this binary)\n";
#endif
  blockStopSignals();
  // See arbiter/main.cc: abseil's deadlock detection costs too much under load.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (const Status st = setupLogging(config.node, config.logLevel, config.logTarget); !st) {
    std::cerr << "quorate-director: " << st.message() << "\n";
    return 2;
  }
  // Each network health check keeps a socket open between its checks: 10,000 real servers need
  // more than the usual soft limit of 1,024 (HealthChecks::apply warns when near it).
  rlim_t openFiles = 0;
  if (const Status st = raiseOpenFileLimit(&openFiles); !st) spdlog::warn("{}", st.message());
  spdlog::debug("limit on open files: {}", openFiles);
  // Held to the end of main: a second daemon on this state_dir is refused.
  auto stateDir = StateDirLock::acquire(config.stateDir);
  if (!stateDir) {
    spdlog::critical("{}", stateDir.status().message());
    return 1;
  }
  std::unique_ptr<server::Daemon> director;
  try {
    director = std::make_unique<server::Daemon>(config);
  } catch (const std::exception& e) {
    // The state files, or the kernel (withdrawing leftover VIPs, installing the fence).
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
  // SIGHUP and the operator API's Reload run the same code, one reload at a time.
  server::reload::Reloader reloader(*director, configPath, config, configText,
                                    server::directorCapabilities(config));
  director->setReloadHandler([&reloader] { return reloader.reload("operator Reload"); });
  if (auto s = director->start(); !s) {
    spdlog::critical("{}", s.message());
    return 1;
  }
  // Started: sockets bound, state open, kernel ports set up. From here on the director keeps
  // only what server/privileges.h lists, in every thread.
  [[maybe_unused]] const privileges::CapMask kept = server::directorCapabilities(config);
#if defined(QUORATE_TEST_KEEP_CAPABILITIES)
  // The test-only build tests/process makes to show its capability check catching a director
  // that keeps everything (never deploy this binary).
  spdlog::critical("TEST BUILD: capabilities are not dropped");
#else
  privileges::RestrictOptions restrictOptions;
#if defined(QUORATE_TEST_RESTRICT_MAIN_THREAD_ONLY)
  // The test-only build that drops capabilities in the main thread alone (never deploy).
  spdlog::critical("TEST BUILD: capabilities are dropped in the main thread only");
  restrictOptions.callingThreadOnly = true;
#endif
  privileges::CapMask boundingKept = 0;
  if (const Status st = privileges::restrictAllThreads(kept, restrictOptions, &boundingKept); !st) {
    spdlog::critical("cannot drop capabilities: {}", st.message());
    director->stop();
    return 1;
  }
  spdlog::info("capabilities kept: {}; no_new_privs set; scripts run as {}",
               privileges::capNames(kept),
               config.scriptUser.empty() ? "the director's user" : config.scriptUser);
  if (boundingKept != 0) {
    spdlog::warn("the bounding set still holds {} (no CAP_SETPCAP to drop them)",
                 privileges::capNames(boundingKept));
  }
#endif
  (void)systemd::ready("cluster " + config.cluster + ", node " + config.node + ", listening on " +
                       config.listen);
  int sig = 0;
  // Reload: a bad file, or one that changes what needs a restart, changes nothing.
  while ((sig = waitForSignal()) == SIGHUP) {
    const systemd::ReloadNotice reloadNotice;  // RELOADING=1 now, READY=1 when this pass ends
    reloader.reload("SIGHUP");
  }
  (void)systemd::stopping();
  spdlog::info("signal {}: handing over and shutting down", sig);
  director->stop();
  return 0;
}
