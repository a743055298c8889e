// quoratectl's commands: CLI11 setup, RPC calls, rendering and exit statuses.
#include "client/commands.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "client/arbiter_status.h"
#include "client/format.h"

namespace quorate::client {
namespace {

constexpr int kMaxTimeoutMs = 3'600'000;
constexpr std::size_t kMaxLeaseName = 64;

std::string leaseNameError(const std::string& name) {
  return "lease names are 1 to " + std::to_string(kMaxLeaseName) +
         " characters from A-Z a-z 0-9 . _ -, not \"" + name + "\"";
}

bool interrupted(const CallCanceller* canceller) {
  return canceller != nullptr && canceller->cancelled();
}

// Prints the failure of a unary call and picks the exit status.
int reportFailure(const DirectorClient& client, const grpc::Status& status, std::ostream& err,
                  const CallCanceller* canceller) {
  if (interrupted(canceller)) {
    err << "quoratectl: interrupted" << std::endl;
    return kExitInterrupted;
  }
  err << formatRpcError(client.target(), status) << std::endl;
  return kExitFailure;
}

// A whole number of at least `min` (up to 2^64-1), for --count and -n.
CLI::Validator countValidator(std::uint64_t min, const std::string& name) {
  return CLI::Validator(
      [min](std::string& text) {
        std::uint64_t n = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, n);
        return ec == std::errc() && ptr == end && !text.empty() && n >= min
                   ? std::string()
                   : "N must be a whole number from " + std::to_string(min) + " to " +
                         std::to_string(UINT64_MAX) + ", not \"" + text + "\"";
      },
      "", name);
}

}  // namespace

bool isValidLeaseName(std::string_view name) {
  if (name.empty() || name.size() > kMaxLeaseName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

void configureCli(CLI::App& app, CliOptions& options) {
  app.name("quoratectl");
  app.description("quoratectl: the operator CLI of quorate, talks to one director.");
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand

  const CLI::Validator endpointCheck(
      [](std::string& text) {
        std::string error;
        return parseEndpoint(text, &error) ? std::string() : error;
      },
      "", "endpoint");
  app.add_option("--endpoint", options.endpoint,
                 "Director to ask: unix:/PATH (its operator socket), or HOST:PORT / "
                 "[IPV6]:PORT (its TLS operator port, with --ca/--cert/--key) (default " +
                     std::string(kDefaultEndpoint) + ")")
      ->type_name("ENDPOINT")
      ->envname(std::string(kEndpointEnv))
      ->check(endpointCheck);
  app.add_option("--ca", options.tls.ca, "CA certificate (PEM) that signed the director's")
      ->type_name("FILE");
  app.add_option("--cert", options.tls.cert, "Client certificate (PEM); its CN picks the role")
      ->type_name("FILE");
  app.add_option("--key", options.tls.key, "The client certificate's private key (PEM)")
      ->type_name("FILE");
  app.add_option("--timeout-ms", options.timeoutMs,
                 "Deadline of each call, and of connecting for watch, 1-" +
                     std::to_string(kMaxTimeoutMs) + " (default " +
                     std::to_string(kDefaultTimeout.count()) + ")")
      ->type_name("MS")
      ->check(CLI::Range(1, kMaxTimeoutMs).description(""));

  CLI::App* status = app.add_subcommand("status", "Show the cluster as the director sees it");
  status->add_flag("--json", options.json, "One JSON object (docs/status-json.md)");
  status->callback([&options] { options.command = Command::kStatus; });

  CLI::App* watch = app.add_subcommand("watch", "Print a line per change of state");
  watch->add_flag("--json", options.json, "One JSON object per line (JSON Lines)");
  watch->add_option("--count", options.count, "Stop after N updates (N >= 1)")
      ->type_name("N")
      ->check(countValidator(1, "count"));
  watch->callback([&options] { options.command = Command::kWatch; });

  CLI::App* stepDown = app.add_subcommand(
      "step-down", "Release the leases this director holds and hand them to the peer director");
  stepDown->add_flag("--force", options.force,
                     "Release even when the peer director looks unreachable");
  stepDown
      ->add_option("--lease", options.lease,
                   "Release only this lease (an instance or sync group; default: every lease "
                   "held)")
      ->type_name("NAME")
      ->check(CLI::Validator(
          [](std::string& text) {
            return isValidLeaseName(text) ? std::string() : leaseNameError(text);
          },
          "", "lease"));
  auto* hold =
      stepDown
          ->add_option_function<std::string>(
              "--hold",
              [&options](const std::string& text) {
                std::string error;
                const auto ms = parseDuration(text, &error);
                if (!ms) throw CLI::ValidationError("--hold", error);
                // 0 would be no hold at all; more than a week the director refuses itself.
                if (*ms == 0) {
                  throw CLI::ValidationError("--hold",
                                             "a hold of 0 is no hold (to end one: "
                                             "--clear-hold)");
                }
                options.holdMs = *ms;
              },
              "Maintenance: then do not preempt the lease back for DURATION (90s, 30m, 2h)")
          ->type_name("DURATION");
  stepDown
      ->add_flag("--clear-hold", options.clearHold,
                 "Release nothing: end the hold of an earlier --hold now")
      ->excludes(hold);
  stepDown->add_flag("--json", options.json, "One JSON object");
  stepDown->callback([&options] { options.command = Command::kStepDown; });

  CLI::App* reload = app.add_subcommand(
      "reload", "Make the director re-read its configuration file, as SIGHUP does (admin role)");
  reload->add_flag("--json", options.json, "One JSON object");
  reload->callback([&options] { options.command = Command::kReload; });

  CLI::App* genhash = app.add_subcommand(
      "genhash", "Fetch a URL as an http/https check does and print the MD5 of its body");
  genhash
      ->add_option("--url", options.genhash.url,
                   "http://HOST[:PORT]/PATH or https://...; HOST a name, an IPv4 address or "
                   "[IPv6] (the director's checks take addresses only)")
      ->type_name("URL")
      ->required()
      ->check(CLI::Validator(
          [](std::string& text) {
            std::string error;
            return parseUrl(text, &error) ? std::string() : error;
          },
          "", "url"));
  genhash->add_flag("--verify", options.genhash.verify,
                    "Verify the certificate and the name (SNI, else the virtual host)");
  genhash
      ->add_option("--ca-file", options.genhash.caFile,
                   "PEM certificates to verify against (default: the system's)")
      ->type_name("FILE");
  genhash
      ->add_option("--sni", options.genhash.sni,
                   "TLS server name (default: the URL's host when it is a name)")
      ->type_name("NAME");
  genhash
      ->add_option("--virtualhost", options.genhash.virtualHost,
                   "Host header (default: the URL's host[:port])")
      ->type_name("HOST");
  genhash->add_flag("--json", options.json, "One JSON object");
  genhash->callback([&options] { options.command = Command::kGenhash; });

  CLI::App* events = app.add_subcommand(
      "events", "Show the event log of the director on this machine (reads the file, no RPC)");
  events
      ->add_option("--file", options.events.file,
                   "The event log (default " + std::string(kDefaultEventsFile) + ")")
      ->type_name("PATH");
  events->add_flag("-f,--follow", options.events.follow,
                   "Keep printing new records, across rotations, until Ctrl-C");
  events
      ->add_option("-n", options.events.lines,
                   "Show the last N records first (default " + std::to_string(kDefaultEventLines) +
                       "; 0: none)")
      ->type_name("N")
      ->check(countValidator(0, "lines"));
  events->add_flag("--json", options.json, "The records' JSON lines as they are");
  events->callback([&options] { options.command = Command::kEvents; });

  configureDayCommands(app, options);  // ipvs, drain, enable, realserver, completion
  keepalived::addImportCommand(app, options.importKeepalived,
                               [&options] { options.command = Command::kImportKeepalived; });
}

std::optional<int> parseCli(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                            std::ostream& err) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == static_cast<int>(CLI::ExitCodes::Success) ? kExitOk : kExitUsage;
  }
  return std::nullopt;
}

int runStatus(DirectorClient& client, bool json, std::ostream& out, std::ostream& err,
              const CallCanceller* canceller) {
  quorate::v1::StatusReply reply;
  const grpc::Status status = client.status(&reply);
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    // Not a director: an arbiter's socket serves only its own, read-only status.
    return runArbiterStatus(client, json, out, err, canceller);
  }
  if (!status.ok()) return reportFailure(client, status, err, canceller);
  if (json) {
    out << statusToJson(reply).dump() << std::endl;
  } else {
    out << formatStatus(reply) << std::flush;
  }
  return kExitOk;
}

int runWatch(DirectorClient& client, bool json, std::uint64_t count, std::ostream& out,
             std::ostream& err, const CallCanceller* canceller) {
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t seen = 0;
  const grpc::Status status = client.watch([&](const quorate::v1::StatusReply& reply) {
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    if (json) {
      out << watchUpdateToJson(reply, elapsed).dump() << std::endl;
    } else {
      out << formatWatchLine(reply, elapsed) << std::endl;
    }
    ++seen;
    return count == 0 || seen < count;
  });
  if (interrupted(canceller)) return kExitOk;  // Ctrl-C is how a watch normally ends
  if (!status.ok()) {
    err << formatRpcError(client.target(), status) << std::endl;
    return kExitFailure;
  }
  return kExitOk;
}

std::optional<std::uint64_t> parseDuration(std::string_view text, std::string* error) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string_view unit = text.substr(digits);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1000;
  if (unit == "ms") scale = 1;
  if (unit == "m") scale = 60'000;
  if (unit == "h") scale = 3'600'000;
  if (unit == "d") scale = 86'400'000;
  std::uint64_t n = 0;
  bool ok = digits > 0 && digits <= 9 && scale > 0;
  for (std::size_t i = 0; ok && i < digits; ++i) n = n * 10 + (text[i] - '0');
  if (!ok) {
    *error = "expected a duration such as 90s, 30m, 2h or 1d, not \"" +
             std::string(text.substr(0, 40)) + "\"";
    return std::nullopt;
  }
  return n * scale;
}

int runStepDown(DirectorClient& client, bool force, const std::string& lease, bool json,
                std::ostream& out, std::ostream& err, const CallCanceller* canceller) {
  CliOptions options;
  options.force = force;
  options.lease = lease;
  options.json = json;
  return runStepDown(client, options, out, err, canceller);
}

int runStepDown(DirectorClient& client, const CliOptions& options, std::ostream& out,
                std::ostream& err, const CallCanceller* canceller) {
  quorate::v1::StepDownReply reply;
  const grpc::Status status =
      client.stepDown(options.force, options.lease, &reply, options.holdMs, options.clearHold);
  if (!status.ok()) return reportFailure(client, status, err, canceller);
  const bool json = options.json;
  if (options.clearHold) {
    if (json) {
      out << stepDownToJson(reply).dump() << std::endl;
    } else {
      out << "hold cleared" << (reply.leases_size() ? " for " + reply.leases(0) : "") << std::endl;
    }
    return kExitOk;
  }
  if (json) {
    out << stepDownToJson(reply).dump() << std::endl;
  } else {
    out << formatStepDown(reply) << std::endl;
  }
  return kExitOk;
}

int runCommand(const CliOptions& options, std::ostream& out, std::ostream& err,
               CallCanceller* canceller) {
  if (options.command == Command::kGenhash) {  // talks to a real server, not to the director
    GenhashOptions genhash = options.genhash;
    genhash.json = options.json;
    return runGenhash(genhash, std::chrono::milliseconds(options.timeoutMs), out, err);
  }
  if (options.command == Command::kImportKeepalived) {  // files only, no director
    return keepalived::runImportCommand(options.importKeepalived, out, err);
  }
  if (options.command == Command::kEvents) {  // a local file, not the director's API
    EventsOptions events = options.events;
    events.json = options.json;
    return runEvents(events, out, err, canceller);
  }
  // This host's own set-up and the shell's completion: no director involved.
  if (options.command == Command::kRealServerSetup) {
    return runRealServerSetup(options.realServerSetup, out, err);
  }
  if (options.command == Command::kRealServerTeardown) {
    return runRealServerTeardown(options.realServerSetup, out, err);
  }
  if (options.command == Command::kCompletion) {
    out << options.completionScript << std::flush;
    return kExitOk;
  }
  std::string error;
  const std::optional<Endpoint> endpoint = parseEndpoint(options.endpoint, &error);
  if (!endpoint) {
    err << "quoratectl: --endpoint: " << error << std::endl;
    return kExitUsage;
  }
  if (options.command == Command::kStepDown && !options.lease.empty() &&
      !isValidLeaseName(options.lease)) {
    err << "quoratectl: --lease: " << leaseNameError(options.lease) << std::endl;
    return kExitUsage;
  }
  const auto credentials = credentialsFor(*endpoint, options.tls, &error);
  if (!credentials) {
    err << "quoratectl: " << error << std::endl;
    return kExitUsage;
  }
  DirectorClient client(*endpoint, std::chrono::milliseconds(options.timeoutMs), canceller,
                        credentials);
  switch (options.command) {
    case Command::kStatus:
      return runStatus(client, options.json, out, err, canceller);
    case Command::kWatch:
      return runWatch(client, options.json, options.count, out, err, canceller);
    case Command::kStepDown:
      return runStepDown(client, options, out, err, canceller);
    case Command::kReload:
      return runReload(client, options.json, out, err, canceller);
    case Command::kIpvs:
      return runIpvs(client, options.json, options.rates, out, err, canceller);
    case Command::kDrain:
    case Command::kEnable:
      return runDrain(client, options.command == Command::kDrain, options.virtualServer,
                      options.realServer, options.json, out, err, canceller);
    case Command::kGenhash:  // handled above
    case Command::kEvents:
    case Command::kRealServerSetup:
    case Command::kRealServerTeardown:
    case Command::kCompletion:
    case Command::kImportKeepalived:
    case Command::kNone:
      break;
  }
  err << "quoratectl: no command given" << std::endl;
  return kExitUsage;
}

}  // namespace quorate::client
