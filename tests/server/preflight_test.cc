// The checks of `--check` one by one (server/preflight, arbiter/preflight, common/preflight):
// each passes on a good setup and FAILs on one broken on purpose.
#include "server/preflight.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "arbiter/preflight.h"
#include "tests/support/temp_dir.h"

namespace quorate::server::preflight {
namespace {

using quorate::preflight::Verdict;
using testutil::TempDir;

// Hand-made so the test needs no other file: an inline key is allowed for text with no file.
std::string directorYaml(const std::string& stateDir, const std::string& extra,
                         std::string socketDir = "") {
  if (socketDir.empty()) socketDir = stateDir;
  return "cluster: c\nnode: a\nsecret: \"0123456789abcdef0123\"\nlisten: 127.0.0.1:17101\n"
         "state_dir: " +
         stateDir +
         "\ndirectors:\n  - {id: a, address: 127.0.0.1:17101}\n"
         "  - {id: b, address: 127.0.0.1:17102}\narbiter: {address: 127.0.0.1:17100}\n"
         "operator: {socket: " +
         socketDir + "/director.sock}\n" + extra;
}

DirectorConfig parse(const std::string& text, const std::string& path = "/nonexistent/a.yaml") {
  return parseDirectorConfig(text, path);
}

// A copy of the one finding about `subject` (which must exist exactly once).
Finding about(const std::vector<Finding>& all, const std::string& subject) {
  const Finding* found = nullptr;
  for (const auto& f : all) {
    if (f.subject == subject) {
      EXPECT_EQ(found, nullptr) << "two findings about " << subject;
      found = &f;
    }
  }
  if (found == nullptr) {
    ADD_FAILURE() << "no finding about " << subject;
    return Finding{Verdict::kOk, "", ""};
  }
  return *found;
}

std::string text(const Finding& f) {
  return std::string(quorate::preflight::verdictName(f.verdict)) + " " + f.subject + ": " +
         f.detail;
}

// Runs `check` as `nobody` (a forked child) when we are root, so a directory's mode binds it; as
// ourselves otherwise. The finding's verdict comes back as the exit code.
Verdict asUnprivileged(const std::function<Finding()>& check) {
  if (::geteuid() != 0) return check().verdict;
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(99);
    ::_exit(static_cast<int>(check().verdict));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 99) << "the child could not drop root";
  return static_cast<Verdict>(WEXITSTATUS(status));
}

TEST(Preflight, InterfacesThatExistPassAndAMissingOneFails) {
  TempDir dir("quorate-preflight");
  const auto good = parse(directorYaml(dir.path(),
                                       "instances:\n  - name: web\n    vips: [{address: "
                                       "198.18.0.10/24, device: lo}]\ntrack_interfaces: [lo]\n"));
  const auto found = checkInterfaces(good);
  ASSERT_EQ(found.size(), 1u);  // named twice, checked once
  EXPECT_EQ(found[0].verdict, Verdict::kOk) << text(found[0]);
  EXPECT_NE(found[0].detail.find("track_interfaces"), std::string::npos) << text(found[0]);

  const auto bad =
      parse(directorYaml(dir.path(),
                         "instances:\n  - name: web\n    vips: [{address: 198.18.0.10/24, device: "
                         "qnosuch0}]\n    vrrp: {vrid: 7, use_vmac: true}\n"));
  const Finding& missing = about(checkInterfaces(bad), "interface qnosuch0");
  EXPECT_EQ(missing.verdict, Verdict::kFail) << text(missing);
  EXPECT_NE(missing.detail.find("no such interface"), std::string::npos) << text(missing);
  EXPECT_NE(missing.detail.find("parent of vrrp.7 of instance web"), std::string::npos)
      << text(missing);
}

TEST(Preflight, AnUnreadableDrainsFileFails) {
  TempDir dir("quorate-preflight-drains");
  const std::string state = dir.file("state");
  ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
  const auto c = parse(directorYaml(
      state,
      "virtual_servers:\n  - {name: web, address: 198.18.0.10, port: 80, real_servers: "
      "[{address: 198.18.0.21}]}\n"));
  const std::string drains = state + "/drains.json";
  EXPECT_EQ(about(checkDirectories(c), drains).verdict, Verdict::kOk);  // none yet
  std::ofstream(drains) << "{\"version\": 1, \"drains\": [{\"virtual_server\": \"web\"}]}";
  const Finding bad = about(checkDirectories(c), drains);
  EXPECT_EQ(bad.verdict, Verdict::kFail) << text(bad);
  EXPECT_NE(bad.detail.find("drains[0]"), std::string::npos) << text(bad);
  std::ofstream(drains) << "{\"version\": 1, \"drains\": [{\"virtual_server\": \"web\", "
                           "\"real_server\": \"198.18.0.21:80\"}]}";
  const Finding good = about(checkDirectories(c), drains);
  EXPECT_EQ(good.verdict, Verdict::kOk) << text(good);
  EXPECT_NE(good.detail.find("1 real servers drained"), std::string::npos) << text(good);
}

TEST(Preflight, ProgramsMustExistBeExecutableAndSafe) {
  TempDir dir("quorate-preflight");
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);  // scripts run as script_user
  const std::string good = dir.script("good.sh", "exit 0", 0755);
  const std::string plain = dir.script("plain.sh", "exit 0", 0644);
  const std::string writable = dir.script("writable.sh", "exit 0", 0755);
  const std::string absent = dir.file("absent.sh");
  const auto c = parse(directorYaml(
      dir.path() + "/state", "hooks:\n  notify: " + good + "\n  notify_master: " + plain +
                                 "\n  notify_backup: " + writable + "\n  notify_fault: " + absent +
                                 "\n"));
  // Made writable by others after the load, which refused it otherwise.
  ASSERT_EQ(::chmod(writable.c_str(), 0757), 0);
  const auto found = checkPrograms(c);
  const Finding& ok = about(found, "program " + good);
  EXPECT_EQ(ok.verdict, Verdict::kOk) << text(ok);
  const Finding& notExecutable = about(found, "program " + plain);
  EXPECT_EQ(notExecutable.verdict, Verdict::kFail) << text(notExecutable);
  EXPECT_NE(notExecutable.detail.find("is not executable by"), std::string::npos)
      << text(notExecutable);
  EXPECT_NE(notExecutable.detail.find("mode 0644"), std::string::npos) << text(notExecutable);
  const Finding& unsafe = about(found, "program " + writable);
  EXPECT_EQ(unsafe.verdict, Verdict::kFail) << text(unsafe);
  EXPECT_NE(unsafe.detail.find("writable by others (mode 0757)"), std::string::npos)
      << text(unsafe);
  const Finding& missing = about(found, "program " + absent);
  EXPECT_EQ(missing.verdict, Verdict::kFail) << text(missing);
  EXPECT_NE(missing.detail.find("No such file"), std::string::npos) << text(missing);
}

TEST(Preflight, AProgramItsUserCannotReachFails) {
  if (::geteuid() != 0) GTEST_SKIP() << "scripts run as another user only under root";
  TempDir dir("quorate-preflight");  // 0700: nobody may not enter it
  const std::string hook = dir.script("hook.sh", "exit 0", 0755);
  const auto c = parse(
      directorYaml(dir.path() + "/state", "script_user: nobody\nhooks:\n  notify: " + hook + "\n"));
  const Finding& f = about(checkPrograms(c), "program " + hook);
  EXPECT_EQ(f.verdict, Verdict::kFail) << text(f);
  EXPECT_NE(f.detail.find("nobody cannot reach"), std::string::npos) << text(f);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  EXPECT_EQ(about(checkPrograms(c), "program " + hook).verdict, Verdict::kOk);
}

TEST(Preflight, StateDirMustBeWritableOrCreatable) {
  using quorate::preflight::checkWritableDirectory;
  TempDir dir("quorate-preflight");
  const auto exists = checkWritableDirectory("state_dir", dir.path(), true);
  EXPECT_EQ(exists.verdict, Verdict::kOk) << text(exists);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "the probe file was left behind";
  const auto later = checkWritableDirectory("state_dir", dir.file("a/b"), true);
  EXPECT_EQ(later.verdict, Verdict::kOk) << text(later);
  EXPECT_NE(later.detail.find("does not exist yet"), std::string::npos) << text(later);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "the probe directory was left behind";
  EXPECT_EQ(checkWritableDirectory("event_log directory", dir.file("a"), false).verdict,
            Verdict::kFail);

  const std::string file = dir.write("file", "x");
  const auto notDir = checkWritableDirectory("state_dir", file, true);
  EXPECT_EQ(notDir.verdict, Verdict::kFail) << text(notDir);
  EXPECT_NE(notDir.detail.find("not a directory"), std::string::npos) << text(notDir);
  const auto under = checkWritableDirectory("state_dir", file + "/state", true);
  EXPECT_EQ(under.verdict, Verdict::kFail) << text(under);

  // Root's directory, 0755: the user the check runs as may read it but not write in it.
  const std::string closed = dir.file("closed");
  ASSERT_EQ(::mkdir(closed.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  if (::geteuid() != 0) {
    ASSERT_EQ(::chmod(closed.c_str(), 0555), 0);
  }
  EXPECT_EQ(asUnprivileged([&] { return checkWritableDirectory("state_dir", closed, true); }),
            Verdict::kFail);
  EXPECT_EQ(
      asUnprivileged([&] { return checkWritableDirectory("state_dir", closed + "/x", true); }),
      Verdict::kFail);
  EXPECT_TRUE(std::filesystem::is_empty(closed));
}

TEST(Preflight, DirectoriesOfTheDirector) {
  TempDir dir("quorate-preflight");
  // The event log and the socket in state_dir: one check covers them.
  EXPECT_EQ(checkDirectories(parse(directorYaml(dir.file("state"), ""))).size(), 1u);
  const auto c = parse(directorYaml(
      dir.file("state"), "event_log: {path: " + dir.file("log/e.jsonl") + "}\n", dir.file("run")));
  auto found = checkDirectories(c);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(about(found, "state_dir " + dir.file("state")).verdict, Verdict::kOk);
  EXPECT_EQ(about(found, "operator socket directory " + dir.file("run")).verdict, Verdict::kOk);
  // The director makes state_dir and the socket's directory, not the event log's.
  EXPECT_EQ(about(found, "event_log directory " + dir.file("log")).verdict, Verdict::kFail);
  ASSERT_EQ(::mkdir(dir.file("log").c_str(), 0700), 0);
  found = checkDirectories(c);
  EXPECT_EQ(about(found, "event_log directory " + dir.file("log")).verdict, Verdict::kOk);
}

TEST(Preflight, TheOperatorSocketDirectoryIsOneTheListenerTakes) {
  TempDir dir("quorate-preflight");
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const auto fresh = checkSocketDirectory(dir.file("run"));
  EXPECT_EQ(fresh.verdict, Verdict::kOk) << text(fresh);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  // Only the last component is made: a missing parent is a mistake.
  const auto deep = checkSocketDirectory(dir.file("a/run"));
  EXPECT_EQ(deep.verdict, Verdict::kFail) << text(deep);
  EXPECT_NE(deep.detail.find("creates only its last component"), std::string::npos) << text(deep);
  EXPECT_EQ(checkSocketDirectory(dir.path()).verdict, Verdict::kOk);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
  const auto open = checkSocketDirectory(dir.path());
  EXPECT_EQ(open.verdict, Verdict::kFail) << text(open);
  EXPECT_NE(open.detail.find("mode 0777"), std::string::npos) << text(open);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
}

TEST(Preflight, KeyFilesAreReadAgainByTheLoader) {
  TempDir dir("quorate-preflight");
  const std::string key = dir.write("c.secret", "0123456789abcdef0123456789abcdef\n");
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  std::string yaml = directorYaml(dir.file("state"), "");
  yaml.replace(yaml.find("secret: \"0123456789abcdef0123\""),
               std::string("secret: \"0123456789abcdef0123\"").size(), "secret_file: c.secret");
  const std::string path = dir.write("a.yaml", yaml);
  const auto c = parse(yaml, path);
  const auto good = checkFiles(c, yaml);
  ASSERT_EQ(good.size(), 1u);
  EXPECT_EQ(good[0].verdict, Verdict::kOk) << text(good[0]);
  EXPECT_NE(good[0].detail.find(key), std::string::npos) << text(good[0]);

  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  const auto open = checkFiles(c, yaml);
  EXPECT_EQ(open[0].verdict, Verdict::kFail) << text(open[0]);
  EXPECT_NE(open[0].detail.find("has mode 0644"), std::string::npos) << text(open[0]);
  ASSERT_EQ(::unlink(key.c_str()), 0);
  const auto gone = checkFiles(c, yaml);
  EXPECT_EQ(gone[0].verdict, Verdict::kFail) << text(gone[0]);
  EXPECT_NE(gone[0].detail.find("cannot read \"" + key + "\""), std::string::npos) << text(gone[0]);
}

TEST(Preflight, CertificatesAndKeys) {
  TempDir dir("quorate-preflight");
  const std::string made =
      "/bin/bash " + std::string(QUORATE_MAKE_CERTS) + " " + dir.path() + " c a b >/dev/null";
  ASSERT_EQ(std::system(made.c_str()), 0) << made;
  using namespace quorate::preflight;
  const std::string ca = dir.file("c/ca.pem");
  const std::string cert = dir.file("c/a.pem");
  const std::string key = dir.file("c/a.key");
  EXPECT_EQ(checkCaBundle("tls.ca", ca).verdict, Verdict::kOk);
  const auto good = checkCertificate("tls.cert", cert, ca, tls::Identity::director("c", "a"));
  EXPECT_EQ(good.verdict, Verdict::kOk) << text(good);
  EXPECT_NE(good.detail.find("quorate://c/a"), std::string::npos) << text(good);
  const auto other = checkCertificate("tls.cert", cert, ca, tls::Identity::director("c", "b"));
  EXPECT_EQ(other.verdict, Verdict::kFail) << text(other);
  EXPECT_EQ(checkPrivateKey("tls.key", key, cert).verdict, Verdict::kOk);
  const auto mismatch = checkPrivateKey("tls.key", dir.file("c/b.key"), cert);
  EXPECT_EQ(mismatch.verdict, Verdict::kFail) << text(mismatch);
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  const auto readable = checkPrivateKey("tls.key", key, cert);
  EXPECT_EQ(readable.verdict, Verdict::kFail) << text(readable);
  EXPECT_NE(readable.detail.find("has mode 0644"), std::string::npos) << text(readable);
  EXPECT_EQ(checkCaBundle("tls.ca", dir.file("c/none.pem")).verdict, Verdict::kFail);
}

TEST(Preflight, IpvsIsReportedAsThisKernelHasIt) {
  // What each answer of the probe means.
  const auto none = ipvsFinding(Status::fail(ENOENT, "resolve"));
  EXPECT_EQ(none.verdict, Verdict::kFail);
  EXPECT_NE(none.detail.find("no IPVS in this kernel (modprobe ip_vs)"), std::string::npos)
      << text(none);
  EXPECT_EQ(ipvsFinding(Status::fail(EPERM, "x")).verdict, Verdict::kSkipped);
  EXPECT_EQ(ipvsFinding(Status::ok()).verdict, Verdict::kOk);
  // And this kernel, asked for real: /proc/net/ip_vs exists exactly when IPVS is loaded.
  TempDir dir("quorate-preflight");
  const auto c = parse(
      directorYaml(dir.path(),
                   "fence: none\nvirtual_servers:\n  - {name: web, address: 198.18.0.10, port: 80, "
                   "real_servers: [{address: 198.18.1.1}]}\n"));
  const auto found = checkKernel(c);
  ASSERT_EQ(found.size(), 1u);  // fence: none asks nothing of nf_tables
  const bool loaded = std::filesystem::exists("/proc/net/ip_vs");
  EXPECT_EQ(found[0].verdict, loaded ? Verdict::kOk : Verdict::kFail) << text(found[0]);
  if (!loaded) {
    EXPECT_NE(found[0].detail.find("no IPVS in this kernel (modprobe ip_vs)"), std::string::npos)
        << text(found[0]);
  }
}

TEST(Preflight, NftablesIsAskedOnlyWhenTheFenceIsUsed) {
  EXPECT_EQ(nftablesFinding(Status::fail(EPERM, "x")).verdict, Verdict::kSkipped);
  EXPECT_EQ(nftablesFinding(Status::fail(EPROTONOSUPPORT, "x")).verdict, Verdict::kFail);
  EXPECT_EQ(nftablesFinding(Status::ok()).verdict, Verdict::kOk);
  TempDir dir("quorate-preflight");
  EXPECT_TRUE(checkKernel(parse(directorYaml(dir.path(), ""))).empty());  // no data plane
  const auto fenced = checkKernel(parse(directorYaml(dir.path(), "track_interfaces: [lo]\n")));
  ASSERT_EQ(fenced.size(), 1u);
  // nfnetlink answers root only; this kernel has nf_tables (the fence's tests need it too).
  EXPECT_EQ(fenced[0].verdict, ::geteuid() == 0 ? Verdict::kOk : Verdict::kSkipped)
      << text(fenced[0]);
}

TEST(Preflight, ListenAddresses) {
  using quorate::preflight::checkListen;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const std::string port = std::to_string(ntohs(sa.sin_port));
  ASSERT_EQ(::listen(fd, 1), 0);
  const auto busy = checkListen("listen", "127.0.0.1:" + port);
  EXPECT_EQ(busy.verdict, Verdict::kSkipped) << text(busy);
  EXPECT_NE(busy.detail.find("in use"), std::string::npos) << text(busy);
  ::close(fd);
  const auto free = checkListen("listen", "127.0.0.1:" + port);
  EXPECT_EQ(free.verdict, Verdict::kOk) << text(free);
  // An address of the benchmarking range no interface here has.
  const auto foreign = checkListen("listen", "198.19.255.254:" + port);
  EXPECT_EQ(foreign.verdict, Verdict::kFail) << text(foreign);
  EXPECT_NE(foreign.detail.find("no interface of this host has the address"), std::string::npos);
  EXPECT_EQ(checkListen("listen", "no-such-host.invalid:7100").verdict, Verdict::kFail);
}

// metrics.listen is checked like the others, and a port two listeners would share is named.
TEST(Preflight, MetricsListenIsCheckedAndClashesAreNamed) {
  using quorate::preflight::checkListenClashes;
  DirectorConfig c;
  c.listen = "127.0.0.1:7101";
  c.metrics = metrics::MetricsConfig{"127.0.0.1:7101"};
  auto all = checkListeners(c);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].subject, "metrics.listen 127.0.0.1:7101");
  EXPECT_EQ(all[2].verdict, Verdict::kFail) << text(all[2]);
  EXPECT_NE(all[2].detail.find("the same port as listen 127.0.0.1:7101"), std::string::npos)
      << text(all[2]);
  c.metrics->listen = "127.0.0.1:9362";
  EXPECT_EQ(checkListeners(c).size(), 2u);  // apart: no clash finding
  // Overlaps: a wildcard of the family, "::" taking IPv4 too; not: other addresses, v4 vs v6.
  EXPECT_EQ(checkListenClashes({{"a", "0.0.0.0:80"}, {"b", "127.0.0.1:80"}}).size(), 1u);
  EXPECT_EQ(checkListenClashes({{"a", "127.0.0.1:80"}, {"b", "[::]:80"}}).size(), 1u);
  EXPECT_EQ(checkListenClashes({{"a", "127.0.0.1:80"}, {"b", "127.0.0.2:80"}}).size(), 0u);
  EXPECT_EQ(checkListenClashes({{"a", "0.0.0.0:80"}, {"b", "[::1]:80"}}).size(), 0u);
  EXPECT_EQ(checkListenClashes({{"a", "127.0.0.1:80"}, {"b", "127.0.0.1:81"}}).size(), 0u);
  EXPECT_EQ(checkListenClashes({{"a", "127.0.0.1:0"}, {"b", "127.0.0.1:0"}}).size(), 0u);
}

TEST(Preflight, WatchdogDevice) {
  TempDir dir("quorate-preflight");
  DirectorConfig c;
  EXPECT_FALSE(checkWatchdog(c).has_value());
  c.watchdog = WatchdogConfig{};
  c.watchdog->device = dir.file("watchdog");
  const auto missing = checkWatchdog(c);
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->verdict, Verdict::kFail) << text(*missing);
  dir.write("watchdog", "");
  EXPECT_EQ(checkWatchdog(c)->verdict, Verdict::kOk);
}

TEST(Preflight, TheReportFailsOnlyOnFailures) {
  using namespace quorate::preflight;
  std::ostringstream out;
  EXPECT_EQ(
      printReport(out, "a.yaml", "cluster c, node a", {ok("x", "fine"), skipped("y", "not root")}),
      0);
  EXPECT_NE(out.str().find("OK      x: fine\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("SKIPPED y: not root\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("a.yaml: OK (cluster c, node a): 1 of 2 checks passed, 1 skipped"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("SKIPPED is not a failure"), std::string::npos) << out.str();
  std::ostringstream bad;
  EXPECT_EQ(printReport(bad, "a.yaml", "w", {ok("x", "fine"), fail("z", "broken\nline")}), 1);
  EXPECT_NE(bad.str().find("FAIL    z: broken\\nline\n"), std::string::npos) << bad.str();
  EXPECT_NE(bad.str().find("a.yaml: FAILED (w): 1 of 2 checks failed"), std::string::npos)
      << bad.str();
}

TEST(Preflight, EachDaemonNamesTheOthersFile) {
  using quorate::preflight::Daemon;
  using quorate::preflight::otherDaemonsFile;
  TempDir dir("quorate-preflight");
  const std::string director = directorYaml(dir.path(), "");
  const std::string arbiter =
      "listen: 127.0.0.1:17100\nstate_dir: /x\nclusters:\n  - {id: c, secret: "
      "\"0123456789abcdef0123\"}\n";
  const auto toArbiter = otherDaemonsFile(director, Daemon::kArbiter);
  ASSERT_TRUE(toArbiter.has_value());
  EXPECT_NE(toArbiter->find("this looks like a director configuration (it has `directors`, "
                            "`node`, `cluster`, `arbiter`)"),
            std::string::npos)
      << *toArbiter;
  EXPECT_NE(toArbiter->find("quorate-arbiter needs"), std::string::npos);
  const auto toDirector = otherDaemonsFile(arbiter, Daemon::kDirector);
  ASSERT_TRUE(toDirector.has_value());
  EXPECT_NE(toDirector->find("this looks like an arbiter configuration (it has `clusters`)"),
            std::string::npos)
      << *toDirector;
  EXPECT_FALSE(otherDaemonsFile(director, Daemon::kDirector).has_value());
  EXPECT_FALSE(otherDaemonsFile(arbiter, Daemon::kArbiter).has_value());
  // Not a mapping, or not YAML: the parser's own error is better.
  EXPECT_FALSE(otherDaemonsFile("- a\n- b\n", Daemon::kArbiter).has_value());
  EXPECT_FALSE(otherDaemonsFile("a: [", Daemon::kArbiter).has_value());

  // Through the commands: exit 2, the message on stderr.
  const std::string path = dir.write("arbiter.yaml", arbiter);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(runCheck(path, out, err), 2);
  EXPECT_NE(err.str().find(path + ": this looks like an arbiter configuration"), std::string::npos)
      << err.str();
  const std::string dpath = dir.write("director.yaml", director);
  std::ostringstream err2;
  EXPECT_EQ(arbiter::preflight::runCheck(dpath, out, err2), 2);
  EXPECT_NE(err2.str().find("this looks like a director configuration"), std::string::npos)
      << err2.str();
}

TEST(Preflight, TheArbitersChecks) {
  TempDir dir("quorate-preflight");
  const std::string key = dir.write("c.secret", "0123456789abcdef0123456789abcdef\n");
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  const std::string yaml = "listen: 127.0.0.1:0\nstate_dir: " + dir.file("state") +
                           "\nclusters:\n  - {id: c, secret_file: c.secret}\n";
  std::string port;
  {
    // A free port, found by binding port 0.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    port = std::to_string(ntohs(sa.sin_port));
    ::close(fd);
  }
  std::string yamlText = yaml;
  yamlText.replace(yamlText.find(":0\n"), 3, ":" + port + "\n");
  const std::string path = dir.write("arbiter.yaml", yamlText);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(arbiter::preflight::runCheck(path, out, err), 0) << out.str() << err.str();
  EXPECT_NE(out.str().find("OK      cluster c key: " + key), std::string::npos) << out.str();
  EXPECT_NE(out.str().find(path + ": OK (1 cluster): 3 of 3 checks passed"), std::string::npos)
      << out.str();
  const auto c = arbiter::parseArbiterConfig(yamlText, path);
  ASSERT_EQ(::unlink(key.c_str()), 0);
  const auto files = arbiter::preflight::checkFiles(c, yamlText);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].verdict, Verdict::kFail) << text(files[0]);
  EXPECT_NE(files[0].detail.find("clusters[0].secret_file"), std::string::npos) << text(files[0]);
}

TEST(Preflight, TheDirectorsCommandPrintsEveryCheck) {
  TempDir dir("quorate-preflight");
  const std::string path = dir.write(
      "a.yaml", directorYaml(dir.file("state"), "track_interfaces: [lo, qnosuch1]\nfence: none\n"));
  ::chmod(path.c_str(), 0600);  // it holds a key
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(runCheck(path, out, err), 1) << out.str() << err.str();
  EXPECT_NE(out.str().find("OK      interface lo: exists"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("FAIL    interface qnosuch1: no such interface"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find(path + ": FAILED (cluster c, node a): 1 of "), std::string::npos)
      << out.str();
}

}  // namespace
}  // namespace quorate::server::preflight
