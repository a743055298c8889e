// The operator's day in quoratectl: ipvs (the live table), drain / enable of a real server,
// realserver setup / teardown (this host as a DR real server) and shell completion.
#include <nlohmann/json.hpp>

#include "client/commands.h"
#include "client/completion.h"
#include "client/format.h"
#include "client/ipvs_format.h"

namespace quorate::client {
namespace {

int failed(const DirectorClient& client, const grpc::Status& status, std::ostream& err,
           const CallCanceller* canceller) {
  if (canceller != nullptr && canceller->cancelled()) {
    err << "quoratectl: interrupted" << std::endl;
    return kExitInterrupted;
  }
  err << formatRpcError(client.target(), status) << std::endl;
  return kExitFailure;
}

void addDrainCommand(CLI::App& app, CliOptions& options, bool drain) {
  CLI::App* cmd = app.add_subcommand(
      drain ? "drain" : "enable",
      drain ? "Give a real server weight 0 (kept: its connections finish) until enabled; kept "
              "across restarts and reloads (admin role)"
            : "End the drain of a real server: its weight comes back (admin role)");
  cmd->add_option("VIRTUAL_SERVER", options.virtualServer,
                  "The virtual server: its name, ADDRESS:PORT, \"tcp ADDRESS:PORT\" or "
                  "\"fwmark N\"")
      ->required();
  cmd->add_option("REAL_SERVER", options.realServer,
                  "The real server: ADDRESS:PORT, [IPV6]:PORT, or its address if only one has it")
      ->required();
  cmd->add_flag("--json", options.json, "One JSON object");
  cmd->callback(
      [&options, drain] { options.command = drain ? Command::kDrain : Command::kEnable; });
}

void addRealServerCommand(CLI::App& app, CliOptions& options) {
  CLI::App* rs = app.add_subcommand(
      "realserver", "Make this host a direct-routing real server, or undo it (root; no director)");
  rs->require_subcommand(1);
  const CLI::Validator vipCheck([](std::string& text) { return realServerVipError(text); }, "",
                                "vip");
  for (const bool setup : {true, false}) {
    CLI::App* cmd = rs->add_subcommand(
        setup ? "setup" : "teardown",
        setup ? "Each VIP on the device (/32, /128), arp_ignore=1 and arp_announce=2 (the old "
                "values saved); idempotent"
              : "Remove each VIP; once none is left, put back the saved ARP sysctls; idempotent");
    cmd->add_option("--vip", options.realServerSetup.vips,
                    "A VIP the directors balance (repeat it)")
        ->type_name("ADDRESS")
        ->required()
        ->check(vipCheck);
    cmd->add_option("--dev", options.realServerSetup.device, "The device for the VIPs (default lo)")
        ->type_name("DEVICE");
    cmd->add_option("--state-dir", options.realServerSetup.stateDir,
                    "Where setup records what it changed (default " +
                        std::string(kDefaultRealServerState) + ")")
        ->type_name("DIR")
        ->envname(std::string(kRealServerStateEnv));
    cmd->callback([&options, setup] {
      options.command = setup ? Command::kRealServerSetup : Command::kRealServerTeardown;
    });
  }
}

}  // namespace

void configureDayCommands(CLI::App& app, CliOptions& options) {
  CLI::App* ipvs = app.add_subcommand(
      "ipvs", "The director's live IPVS table with counters, as ipvsadm -Ln --stats --exact");
  ipvs->add_flag("--rate", options.rates, "Rates (CPS, packets and bytes per second) instead");
  ipvs->add_flag("--json", options.json, "One JSON object, counters and rates");
  ipvs->callback([&options] { options.command = Command::kIpvs; });

  addDrainCommand(app, options, true);
  addDrainCommand(app, options, false);
  addRealServerCommand(app, options);

  CLI::App* completion = app.add_subcommand(
      "completion", "Print the shell's completion script: source <(quoratectl completion bash)");
  completion->add_option("SHELL", "The shell (bash)")->required()->check(CLI::IsMember({"bash"}));
  // The script is made from `app` itself, complete once parsing reaches this callback.
  completion->callback([&app, &options] {
    options.completionScript = bashCompletion(app);
    options.command = Command::kCompletion;
  });
}

int runIpvs(DirectorClient& client, bool json, bool rates, std::ostream& out, std::ostream& err,
            const CallCanceller* canceller) {
  quorate::v1::IpvsTableReply reply;
  const grpc::Status status = client.ipvsTable(&reply);
  if (!status.ok()) return failed(client, status, err, canceller);
  if (json) {
    out << ipvsTableToJson(reply).dump() << std::endl;
  } else {
    out << formatIpvsTable(reply, rates) << std::flush;
  }
  return kExitOk;
}

int runDrain(DirectorClient& client, bool drain, const std::string& virtualServer,
             const std::string& realServer, bool json, std::ostream& out, std::ostream& err,
             const CallCanceller* canceller) {
  quorate::v1::DrainReply reply;
  const grpc::Status status = client.drain(drain, virtualServer, realServer, &reply);
  if (!status.ok()) return failed(client, status, err, canceller);
  const std::string what = reply.virtual_server() + " " + reply.real_server();
  if (json) {
    nlohmann::json j = {{"virtual_server", reply.virtual_server()},
                        {"real_server", reply.real_server()},
                        {"drained", drain},
                        {"changed", reply.changed()},
                        {"drains", nlohmann::json::array()}};
    for (const auto& d : reply.drained()) j["drains"].push_back(d);
    out << j.dump() << std::endl;
  } else if (drain) {
    out << (reply.changed()
                ? "drained " + what + ": weight 0, its connections finish; quoratectl enable " +
                      reply.virtual_server() + " " + reply.real_server() + " ends it"
                : what + " was drained already")
        << std::endl;
  } else {
    out << (reply.changed() ? "enabled " + what + ": its weight is back"
                            : what + " was not drained")
        << std::endl;
  }
  return kExitOk;
}

}  // namespace quorate::client
