// server/privileges: the programs a director configuration runs (with the user of each), the
// capabilities kept for them, script_user, and scripts refused at load.
#include "server/privileges.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/config_error.h"
#include "tests/common/config_test_util.h"

namespace quorate::server {
namespace {

using privileges::capBit;
using testutil::TempDir;

constexpr privileges::CapMask kNetwork = capBit(CAP_NET_ADMIN) | capBit(CAP_NET_RAW);
constexpr privileges::CapMask kScriptUsers =
    capBit(CAP_SETUID) | capBit(CAP_SETGID) | capBit(CAP_KILL);

const std::string kHead =
    "cluster: c\n"
    "node: a\n"
    "secret: \"0123456789abcdef0123456789abcdef\"\n"
    "listen: 127.0.0.1:7101\n"
    "state_dir: /var/lib/quorate\n"
    "directors: [{id: a, address: \"127.0.0.1:7101\"}, {id: b, address: \"127.0.0.1:7102\"}]\n"
    "arbiter: {address: \"127.0.0.1:7100\"}\n";

DirectorConfig parse(const std::string& tail) {
  return parseDirectorConfig(kHead + tail, "/etc/quorate/a.yaml");
}

std::string errorOf(const std::string& tail) {
  try {
    parse(tail);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(DirectorPrivileges, NoScriptsKeepsTheNetworkCapabilitiesOnly) {
  const auto c = parse("");
  EXPECT_TRUE(configuredScripts(c).empty());
  EXPECT_FALSE(scriptsSwitchUser(c));
  EXPECT_EQ(directorCapabilities(c), kNetwork);
}

TEST(DirectorPrivileges, ScriptUserDefaultsToAnUnprivilegedUserForRoot) {
  const auto c = parse("");
  EXPECT_EQ(c.scriptUser, defaultScriptUser());
  if (::geteuid() == 0) {
    EXPECT_NE(c.scriptUser, "root");
  }
  EXPECT_EQ(parse("script_user: root\n").scriptUser, "root");
  EXPECT_NE(errorOf("script_user: quorate-no-such-user\n")
                .find("/etc/quorate/a.yaml:8: script_user: no user \"quorate-no-such-user\""),
            std::string::npos)
      << errorOf("script_user: quorate-no-such-user\n");
}

// Every kind of program, with the user it runs as: its own, else script_user.
TEST(DirectorPrivileges, ListsEveryProgramWithItsUser) {
  const auto c = parse(
      "script_user: nobody\n"
      "hooks:\n"
      "  notify: /bin/true\n"
      "  pre_claim: {command: [/bin/echo, x], user: root, timeout_ms: 500}\n"
      "track_scripts: [{name: gw, command: [/bin/false]}]\n"
      "fence_before_claim: {command: [/bin/sh, -c, \"exit 0\"], user: root}\n"
      "instances: [{name: web, vips: [{address: 198.18.0.10/24, device: eth0}]}]\n"
      "virtual_servers:\n"
      "  - name: http\n"
      "    instance: web\n"
      "    address: 198.18.0.10\n"
      "    port: 80\n"
      "    real_servers:\n"
      "      - address: 198.18.0.21\n"
      "        notify_up: [/bin/true, up]\n"
      "        checks: [{type: script, command: [/bin/true], user: root}]\n");
  std::vector<std::string> got;
  for (const auto& s : configuredScripts(c))
    got.push_back(s.where + "|" + s.program + "|" + s.user);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "hooks.notify of lease \"web\"|/bin/true|nobody",
                     "hooks.pre_claim of lease \"web\"|/bin/echo|root",
                     "track_scripts \"gw\"|/bin/false|nobody",
                     "fence_before_claim|/bin/sh|root",
                     "notify_up of virtual_servers[0] real server 198.18.0.21:80|/bin/true|nobody",
                     "checks (script) of virtual_servers[0] real server 198.18.0.21:80|/bin/true|"
                     "root",
                 }));
}

TEST(DirectorPrivileges, ScriptsAsAnotherUserKeepSetuidSetgidAndKill) {
  if (::geteuid() != 0) GTEST_SKIP() << "as root only (others run scripts as themselves)";
  EXPECT_EQ(directorCapabilities(parse("hooks: {notify: /bin/true}\n")), kNetwork | kScriptUsers);
  // Everything as root, asked for by name: nothing to switch, nothing more kept.
  EXPECT_EQ(directorCapabilities(parse("script_user: root\nhooks: {notify: /bin/true}\n")),
            kNetwork);
  // One program as another user is enough.
  EXPECT_EQ(directorCapabilities(
                parse("script_user: root\nhooks: {notify: /bin/true, "
                      "pre_claim: {command: [/bin/true], user: nobody, timeout_ms: 500}}\n")),
            kNetwork | kScriptUsers);
}

TEST(DirectorPrivileges, RefusesAScriptOthersCouldChange) {
  TempDir dir("quorate-privileges");
  ::chmod(dir.path().c_str(), 0777);
  const std::string hook = dir.script("hook.sh", "exit 0");
  const std::string e = errorOf("hooks:\n  notify_master: " + hook + "\n");
  EXPECT_NE(e.find("/etc/quorate/a.yaml: hooks.notify_master of lease \"default\": script " + hook),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(" refused: directory " + dir.path() + " is writable by others (mode 0777)"),
            std::string::npos)
      << e;
  ::chmod(dir.path().c_str(), 0755);
  EXPECT_EQ(errorOf("hooks:\n  notify_master: " + hook + "\n"), "");
  // Check scripts and fence agents alike.
  ::chmod(hook.c_str(), 0777);
  EXPECT_NE(errorOf("fence_before_claim: {command: [" + hook + "]}\n")
                .find("refused: file " + hook + " is writable by others (mode 0777)"),
            std::string::npos);
}

}  // namespace
}  // namespace quorate::server
