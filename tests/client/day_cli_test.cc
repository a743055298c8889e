// quoratectl's operator-day commands on the command line (ipvs, drain, enable, realserver,
// completion), and the bash completion script run by a real bash.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "client/commands.h"
#include "tests/support/temp_dir.h"

namespace quorate::client {
namespace {

struct Parsed {
  std::optional<int> exit;
  CliOptions options;
  std::string err;
};

Parsed parse(std::vector<const char*> args) {
  args.insert(args.begin(), "quoratectl");
  Parsed p;
  CLI::App app;
  configureCli(app, p.options);
  std::ostringstream out, err;
  p.exit = parseCli(app, static_cast<int>(args.size()), args.data(), out, err);
  p.err = err.str();
  return p;
}

TEST(DayCli, IpvsDrainEnable) {
  auto p = parse({"ipvs", "--rate"});
  ASSERT_FALSE(p.exit) << p.err;
  EXPECT_EQ(p.options.command, Command::kIpvs);
  EXPECT_TRUE(p.options.rates);
  p = parse({"drain", "web", "198.18.0.21:80", "--json"});
  ASSERT_FALSE(p.exit) << p.err;
  EXPECT_EQ(p.options.command, Command::kDrain);
  EXPECT_EQ(p.options.virtualServer, "web");
  EXPECT_EQ(p.options.realServer, "198.18.0.21:80");
  EXPECT_TRUE(p.options.json);
  p = parse({"enable", "web", "198.18.0.21"});
  ASSERT_FALSE(p.exit) << p.err;
  EXPECT_EQ(p.options.command, Command::kEnable);
  p = parse({"drain", "web"});  // the real server is required
  EXPECT_EQ(p.exit, kExitUsage);
  EXPECT_NE(p.err.find("REAL_SERVER"), std::string::npos) << p.err;
}

TEST(DayCli, RealServerOptionsAndBadVips) {
  unsetenv(std::string(kRealServerStateEnv).c_str());
  auto p = parse({"realserver", "setup", "--vip", "198.18.0.100", "--vip", "198.18.0.101/32"});
  ASSERT_FALSE(p.exit) << p.err;
  EXPECT_EQ(p.options.command, Command::kRealServerSetup);
  EXPECT_EQ(p.options.realServerSetup.vips,
            (std::vector<std::string>{"198.18.0.100", "198.18.0.101/32"}));
  EXPECT_EQ(p.options.realServerSetup.device, "lo");
  EXPECT_EQ(p.options.realServerSetup.stateDir, kDefaultRealServerState);
  setenv(std::string(kRealServerStateEnv).c_str(), "/tmp/rs-state", 1);
  p = parse({"realserver", "teardown", "--vip", "198.18.0.100", "--dev", "dummy0"});
  unsetenv(std::string(kRealServerStateEnv).c_str());
  ASSERT_FALSE(p.exit) << p.err;
  EXPECT_EQ(p.options.command, Command::kRealServerTeardown);
  EXPECT_EQ(p.options.realServerSetup.device, "dummy0");
  EXPECT_EQ(p.options.realServerSetup.stateDir, "/tmp/rs-state");

  for (const char* bad :
       {"198.18.0.300", "198.18.0.100/24", "127.0.0.1", "224.0.0.18", "0.0.0.0", "web"}) {
    p = parse({"realserver", "setup", "--vip", bad});
    EXPECT_EQ(p.exit, kExitUsage) << bad;
    EXPECT_NE(p.err.find(bad), std::string::npos) << p.err;
  }
  EXPECT_EQ(parse({"realserver", "setup"}).exit, kExitUsage);  // --vip is required
  EXPECT_EQ(parse({"realserver"}).exit, kExitUsage);           // setup or teardown
  EXPECT_EQ(realServerVipError("198.18.0.100"), "");
  EXPECT_NE(realServerVipError("198.18.0.100/31").find("/32"), std::string::npos);
  // Addresses no director forwards to: "this network", the limited broadcast, IPv6 link-local
  // (it needs a scope a VIP does not have) and IPv4-mapped (never on the wire as IPv6).
  for (const char* bad : {"0.1.2.3", "255.255.255.255", "fe80::10", "::ffff:198.18.0.100"}) {
    EXPECT_NE(realServerVipError(bad).find("cannot be a VIP"), std::string::npos) << bad;
  }
  EXPECT_EQ(realServerVipError("2001:db8::10/128"), "");
}

TEST(DayCli, CompletionNeedsAKnownShell) {
  auto p = parse({"completion", "bash"});
  ASSERT_FALSE(p.exit) << p.err;
  EXPECT_EQ(p.options.command, Command::kCompletion);
  EXPECT_NE(p.options.completionScript.find("complete -F _quoratectl quoratectl"),
            std::string::npos);
  EXPECT_EQ(parse({"completion", "tcsh"}).exit, kExitUsage);
}

// Runs `script` in bash, returning its stdout.
std::string bash(const std::string& script) {
  quorate::testutil::TempDir tmp("quorate-completion");
  const std::string file = tmp.path() + "/t.sh";
  std::ofstream(file) << script;
  std::string out;
  FILE* f = ::popen(("bash --norc --noprofile " + file + " 2>&1").c_str(), "r");
  if (f == nullptr) return "popen failed";
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), buf.size(), f) != nullptr) out += buf.data();
  ::pclose(f);
  return out;
}

// The words bash offers for the command line `words` with the cursor on the last one.
std::string offered(const std::string& completion, const std::string& words) {
  return bash(completion + "\nCOMP_WORDS=(" + words + ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n" +
              "_quoratectl\nprintf '%s\\n' \"${COMPREPLY[@]}\" | sort | tr '\\n' ' '\n");
}

TEST(DayCli, BashCompletesSubcommandsTheirOptionsAndFiles) {
  if (std::system("command -v bash >/dev/null 2>&1") != 0) GTEST_SKIP() << "no bash";
  const std::string script = parse({"completion", "bash"}).options.completionScript;
  // The script registers itself.
  EXPECT_EQ(bash(script + "\ncomplete -p quoratectl\n"), "complete -F _quoratectl quoratectl\n");
  // Every subcommand the program has, sorted (so another subcommand added later needs no edit).
  {
    CLI::App app;
    CliOptions options;
    configureCli(app, options);
    std::vector<std::string> names;
    for (const CLI::App* sub : std::as_const(app).get_subcommands({})) {
      names.push_back(sub->get_name());
    }
    std::sort(names.begin(), names.end());
    std::string all;
    for (const auto& n : names) all += n + " ";
    EXPECT_NE(all.find("completion drain enable"), std::string::npos) << all;
    EXPECT_EQ(offered(script, "quoratectl ''"), all);
  }
  EXPECT_EQ(offered(script, "quoratectl re"), "realserver reload ");
  EXPECT_EQ(offered(script, "quoratectl realserver ''"), "setup teardown ");
  EXPECT_EQ(offered(script, "quoratectl realserver setup --v"), "--vip ");
  EXPECT_EQ(offered(script, "quoratectl ipvs --r"), "--rate ");
  // A global option's value is not taken for a subcommand; global options follow one too.
  EXPECT_EQ(offered(script, "quoratectl --endpoint status ip"), "ipvs ");
  EXPECT_EQ(offered(script, "quoratectl drain --time"), "--timeout-ms ");
  // After an option that takes a file, file names.
  quorate::testutil::TempDir tmp("quorate-completion-files");
  std::ofstream(tmp.path() + "/director-ca.pem") << "x";
  EXPECT_EQ(offered(script, "quoratectl --ca " + tmp.path() + "/director-c"),
            tmp.path() + "/director-ca.pem ");
}

}  // namespace
}  // namespace quorate::client
