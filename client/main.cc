// quoratectl: the operator CLI of quorate; parses arguments and hands over to the client library.
#include <iostream>

#include "client/commands.h"
#include "client/interrupt.h"
#include "common/version.h"

int main(int argc, char** argv) {
  using namespace quorate::client;
  static CallCanceller canceller;  // outlives the detached interrupt thread's last use
  startInterruptWatcher(&canceller);

  CLI::App app;
  CliOptions options;
  configureCli(app, options);
  app.set_version_flag("--version", quorate::versionLine("quoratectl"));
  if (std::optional<int> done = parseCli(app, argc, argv, std::cout, std::cerr)) {
    return *done;
  }
  return runCommand(options, std::cout, std::cerr, &canceller);
}
