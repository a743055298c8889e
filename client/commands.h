// quoratectl's command line and commands: options, exit codes, and one function per command.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "client/credentials.h"
#include "client/director_client.h"
#include "client/events.h"
#include "client/genhash.h"
#include "client/interrupt.h"
#include "client/realserver.h"
#include "client/keepalived/import_command.h"

namespace quorate::client {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;        // the RPC failed or was refused
inline constexpr int kExitUsage = 2;          // bad command line
inline constexpr int kExitInterrupted = 130;  // Ctrl-C during status or step-down

enum class Command {
  kNone,
  kStatus,
  kWatch,
  kStepDown,
  kGenhash,
  kEvents,
  kReload,
  kIpvs,
  kDrain,
  kEnable,
  kRealServerSetup,
  kRealServerTeardown,
  kCompletion,
  kImportKeepalived,
};

struct CliOptions {
  std::string endpoint = std::string(kDefaultEndpoint);
  TlsFiles tls;  // --ca/--cert/--key: for a TLS TCP endpoint
  int timeoutMs = static_cast<int>(kDefaultTimeout.count());
  Command command = Command::kNone;
  bool json = false;
  std::uint64_t count = 0;   // watch: stop after this many updates; 0: never
  bool force = false;        // step-down
  std::string lease;         // step-down: only this lease; empty: every lease held
  std::uint64_t holdMs = 0;  // step-down --hold
  bool clearHold = false;    // step-down --clear-hold
  GenhashOptions genhash;    // genhash (--json goes to `json`)
  EventsOptions events;      // events (--json goes to `json`)
  // The operator's day (client/day_commands.cc).
  bool rates = false;                 // ipvs --rate
  std::string virtualServer;          // drain, enable
  std::string realServer;             // drain, enable
  RealServerOptions realServerSetup;  // realserver setup|teardown
  std::string completionScript;       // completion bash: made while parsing, from the app itself
  keepalived::ImportCommandOptions importKeepalived;  // import-keepalived
};

// "90s", "30m", "2h", "1d", "500ms" (a bare number is seconds) in milliseconds; nullopt and
// `error` set otherwise.
std::optional<std::uint64_t> parseDuration(std::string_view text, std::string* error);

// Lease names are ids: 1 to 64 of A-Z a-z 0-9 . _ -
bool isValidLeaseName(std::string_view name);

// Declares the options and subcommands on `app`; parsing fills `options`.
// --endpoint (or $QUORATE_ENDPOINT) is validated here, before anything is dialled.
void configureCli(CLI::App& app, CliOptions& options);

// Parses argv with an app set up by configureCli. Returns nullopt to go on, or the
// exit status when parsing ended the program (--help: 0, bad arguments: kExitUsage;
// CLI11's message printed).
std::optional<int> parseCli(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                            std::ostream& err);

// Each command writes its result to `out`, errors to `err`, and returns the exit status.
int runStatus(DirectorClient& client, bool json, std::ostream& out, std::ostream& err,
              const CallCanceller* canceller = nullptr);
int runWatch(DirectorClient& client, bool json, std::uint64_t count, std::ostream& out,
             std::ostream& err, const CallCanceller* canceller = nullptr);
// `lease` empty: release every lease the director holds. The caller checks the name
// (isValidLeaseName); runCommand does.
int runStepDown(DirectorClient& client, bool force, const std::string& lease, bool json,
                std::ostream& out, std::ostream& err, const CallCanceller* canceller = nullptr);
// The same with every step-down option (force, lease, hold, clear-hold, json).
int runStepDown(DirectorClient& client, const CliOptions& options, std::ostream& out,
                std::ostream& err, const CallCanceller* canceller = nullptr);

// Asks the director to re-read its configuration file (client/reload_command.cc): exit 0 when
// applied, kExitFailure when refused (each reason printed) or when the call failed.
int runReload(DirectorClient& client, bool json, std::ostream& out, std::ostream& err,
              const CallCanceller* canceller = nullptr);

// ipvs, drain, enable, realserver and completion (client/day_commands.cc): declared on `app`
// by configureCli.
void configureDayCommands(CLI::App& app, CliOptions& options);
// The kernel's IPVS table of the director (reader role).
int runIpvs(DirectorClient& client, bool json, bool rates, std::ostream& out, std::ostream& err,
            const CallCanceller* canceller = nullptr);
// Drains (`drain`) or enables a real server (admin role); exit 0 also when it was so already.
int runDrain(DirectorClient& client, bool drain, const std::string& virtualServer,
             const std::string& realServer, bool json, std::ostream& out, std::ostream& err,
             const CallCanceller* canceller = nullptr);

// Dials options.endpoint and runs options.command.
int runCommand(const CliOptions& options, std::ostream& out, std::ostream& err,
               CallCanceller* canceller = nullptr);

}  // namespace quorate::client
