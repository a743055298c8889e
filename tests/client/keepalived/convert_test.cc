// import-keepalived on configs written as the field writes them: each report is the expected
// one (configs/NAME.report), and each produced file is accepted by the director's and the
// arbiter's own parsers, with the values it should carry.
#include "client/keepalived/convert.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "arbiter/config.h"
#include "client/keepalived/parser.h"
#include "common/config_error.h"
#include "server/config.h"
#include "server/ipvs/check_targets.h"

namespace quorate::keepalived {
namespace {

namespace fs = std::filesystem;

const std::string kConfigs = KEEPALIVED_CONFIGS;

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

class Import : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "ka-import-XXXXXX").string();
    dir_ = ::mkdtemp(templ.data());
    secret_ = dir_ + "/cluster.secret";
    std::ofstream(secret_) << "0123456789abcdef0123456789abcdef\n";
    ::chmod(secret_.c_str(), 0600);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Imported import(const std::string& name, ImportOptions options = {}) {
    const auto parsed = parseFile(kConfigs + "/" + name + ".conf");
    EXPECT_TRUE(parsed) << parsed.status().what();
    if (!parsed) return {};
    options.secretFile = secret_;
    options.stateDir = dir_ + "/state";
    options.arbiterStateDir = dir_ + "/arbiter";
    return convert(*parsed, options);
  }

  // Both directors' files and the arbiter's through the daemons' own parsers.
  server::DirectorConfig parseAll(const Imported& imported) {
    server::DirectorConfig alpha;
    try {
      alpha = server::parseDirectorConfig(imported.directorYaml, dir_ + "/alpha.yaml");
      server::parseDirectorConfig(imported.peerYaml, dir_ + "/beta.yaml");
      arbiter::parseArbiterConfig(imported.arbiterYaml, dir_ + "/arbiter.yaml");
    } catch (const ConfigError& e) {
      ADD_FAILURE() << e.what() << "\n--- alpha.yaml\n" << imported.directorYaml;
    }
    return alpha;
  }

  std::string dir_;
  std::string secret_;
};

// Every hand-written config: the report as expected, the files accepted.
// QUORATE_UPDATE_GOLDEN=1 rewrites the .report files (review the diff before committing).
TEST_F(Import, HandWrittenConfigsGiveTheirExpectedReportAndValidFiles) {
  const char* names[] = {"web_pair",          "odd_spacing",      "typos",
                         "active_active",     "udp_and_fwmark",   "includes",
                         "ipv6_ssl",          "misc_checks",      "vs_group",
                         "sync_daemon_garp",  "scripts_and_vars", "vs_group_ports",
                         "per_instance_track"};
  for (const char* name : names) {
    SCOPED_TRACE(name);
    const Imported imported = import(name);
    parseAll(imported);
    const std::string report = replaceAll(formatReport(imported), kConfigs + "/", "");
    const std::string golden = kConfigs + "/" + name + ".report";
    if (std::getenv("QUORATE_UPDATE_GOLDEN") != nullptr) std::ofstream(golden) << report;
    EXPECT_EQ(report, readAll(golden));
  }
}

TEST_F(Import, TheWebPairKeepsItsLeaseVipsServiceAndChecks) {
  const auto c = parseAll(import("web_pair"));
  EXPECT_EQ(c.cluster, "keepalived");
  EXPECT_EQ(c.node, "alpha");
  EXPECT_EQ(c.directors[0].address, "198.18.1.1:7101");
  EXPECT_EQ(c.directors[1].address, "198.18.1.2:7101");
  ASSERT_EQ(c.instances.size(), 1u);
  ASSERT_EQ(c.instances[0].vips.size(), 2u);
  EXPECT_EQ(c.instances[0].vips[0].prefix.toString(), "198.18.1.10/24");
  EXPECT_EQ(c.instances[0].vips[0].device, "eth0");
  EXPECT_EQ(c.instances[0].vips[0].label, "eth0:web");
  EXPECT_EQ(c.instances[0].vips[1].device, "eth0");  // the instance's interface
  ASSERT_EQ(c.leases.size(), 1u);
  EXPECT_EQ(c.leases[0].preferred, std::optional<std::string>("alpha"));  // state MASTER
  EXPECT_EQ(c.leases[0].preemptDelay, std::chrono::milliseconds(0));
  ASSERT_EQ(c.trackScripts.size(), 1u);
  EXPECT_EQ(c.trackScripts[0].argv, (std::vector<std::string>{"/usr/bin/pgrep", "-x", "nginx"}));
  EXPECT_EQ(c.trackScripts[0].interval, std::chrono::milliseconds(2000));
  EXPECT_EQ(c.trackScripts[0].fall, 3);
  ASSERT_EQ(c.ipvs.virtualServers.size(), 1u);
  const auto& vs = c.ipvs.virtualServers[0];
  ASSERT_EQ(vs.realServers.size(), 2u);
  EXPECT_EQ(vs.realServers[0].checks.size(), 2u);  // HTTP_GET and TCP_CHECK
  EXPECT_TRUE(vs.realServers[0].inhibitOnFailure);
  EXPECT_EQ(vs.realServers[0].dest.weight, 10);
  ASSERT_TRUE(vs.sorryServer.has_value());
}

TEST_F(Import, ActiveActiveGroupsPreferEachDirectorAndNopreemptPrefersNone) {
  const auto c = parseAll(import("active_active"));
  std::map<std::string, std::optional<std::string>> preferred;
  for (const auto& l : c.leases) preferred[l.name] = l.preferred;
  EXPECT_EQ(preferred["SG_OUT"], std::optional<std::string>("alpha"));
  EXPECT_EQ(preferred["SG_B"], std::optional<std::string>("beta"));
  EXPECT_FALSE(preferred["VI_QUIET"].has_value());
  for (const auto& l : c.leases) {
    if (l.name == "SG_OUT") {
      EXPECT_EQ(l.preemptDelay, std::chrono::milliseconds(5000));
      EXPECT_EQ(l.instances, (std::vector<std::string>{"VI_OUT_A", "VI_IN_A"}));
    }
  }
  // VI_QUIET's own tracking, per lease (eth1's weight makes it reported only).
  EXPECT_TRUE(c.trackInterfaces.empty());
  for (const auto& l : c.leases) {
    if (l.name == "VI_QUIET") {
      EXPECT_EQ(l.track.interfaces, (std::vector<server::TrackItem>{{"eth0", 0}, {"eth1", 0}}));
    } else {
      EXPECT_TRUE(l.track.empty()) << l.name;
    }
  }
}

TEST_F(Import, TrackingAndAnnouncementsArePerInstance) {
  const auto c = parseAll(import("per_instance_track"));
  std::map<std::string, const server::LeaseConfig*> lease;
  for (const auto& l : c.leases) lease[l.name] = &l;
  ASSERT_TRUE(lease.count("VI_WEB") && lease.count("SG_DNS"));
  const auto& web = *lease["VI_WEB"];
  // keepalived's weights (eth3 -10, chk_web -20, chk_dns 5) are dropped: a failure moves the
  // lease, as a weight in a pair is meant to (the report says so).
  EXPECT_EQ(web.track.interfaces, (std::vector<server::TrackItem>{{"eth1", 0}, {"eth3", 0}}));
  EXPECT_EQ(web.track.scripts, (std::vector<server::TrackItem>{{"chk_web", 0}, {"chk_dns", 0}}));
  EXPECT_EQ(web.track.files, (std::vector<server::TrackItem>{{"/run/keepalived/web.state", -2}}));
  EXPECT_EQ(web.announce.repeat, 9);
  EXPECT_EQ(web.announce.refresh, std::chrono::milliseconds(30000));
  // The group tracks its own interface and its instance's script and file.
  const auto& dns = *lease["SG_DNS"];
  EXPECT_EQ(dns.track.interfaces, (std::vector<server::TrackItem>{{"eth2", 0}}));
  EXPECT_EQ(dns.track.scripts, (std::vector<server::TrackItem>{{"chk_dns", 0}}));
  EXPECT_EQ(dns.track.files, (std::vector<server::TrackItem>{{"/run/keepalived/dns.down", 0}}));
  EXPECT_EQ(dns.announce.interval, std::chrono::milliseconds(50));
  EXPECT_EQ(dns.announce.repeat, c.announce.repeat);
  EXPECT_TRUE(c.trackInterfaces.empty());
  EXPECT_EQ(c.trackScripts.size(), 2u);
}

// keepalived's track file weights run to -254 and 254 (a script's to 253): the file the importer
// writes keeps such a weight, and the director takes it (1 x -254 is keepalived's FAULT).
TEST_F(Import, ATrackFileWeightOf254IsKeptAndAccepted) {
  std::string text = readAll(kConfigs + "/per_instance_track.conf");
  const std::string from = "    weight -2\n";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "    weight -254\n");
  std::ofstream(dir_ + "/w254.conf") << text;
  const auto parsed = parseFile(dir_ + "/w254.conf");
  ASSERT_TRUE(parsed) << parsed.status().what();
  ImportOptions options;
  options.secretFile = secret_;
  options.stateDir = dir_ + "/state";
  options.arbiterStateDir = dir_ + "/arbiter";
  const auto c = parseAll(convert(*parsed, options));
  const auto web = std::find_if(c.leases.begin(), c.leases.end(),
                                [](const auto& l) { return l.name == "VI_WEB"; });
  ASSERT_NE(web, c.leases.end());
  EXPECT_EQ(web->track.files,
            (std::vector<server::TrackItem>{{"/run/keepalived/web.state", -254}}));
}

// keepalived tells services apart by protocol too (DNS on UDP and TCP at one address and port),
// and a group may have a name like a plain service's: every virtual server still gets a name of
// its own, or the director refuses the file the importer wrote.
TEST_F(Import, VirtualServersOfOneAddressAndPortOrANameAlikeGetNamesOfTheirOwn) {
  const std::string conf =
      "vrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 80\n"
      " virtual_ipaddress {\n  198.18.10.1/24\n }\n}\n"
      "virtual_server 198.18.10.1 53 {\n lb_kind DR\n protocol UDP\n"
      " real_server 198.18.10.21 53 {\n }\n}\n"
      "virtual_server 198.18.10.1 53 {\n lb_kind DR\n protocol TCP\n"
      " real_server 198.18.10.21 53 {\n }\n}\n"
      "virtual_server_group fwmark-7 {\n 198.18.10.1 80\n}\n"
      "virtual_server group fwmark-7 {\n lb_kind NAT\n real_server 198.18.10.21 8080 {\n }\n}\n"
      "virtual_server fwmark 7 {\n lb_kind DR\n real_server 198.18.10.22 80 {\n }\n}\n";
  std::ofstream(dir_ + "/names.conf") << conf;
  const auto parsed = parseFile(dir_ + "/names.conf");
  ASSERT_TRUE(parsed) << parsed.status().what();
  ImportOptions options;
  options.secretFile = secret_;
  options.stateDir = dir_ + "/state";
  options.arbiterStateDir = dir_ + "/arbiter";
  const auto c = parseAll(convert(*parsed, options));
  std::set<std::string> names;
  for (const auto& vs : c.ipvs.virtualServers) names.insert(vs.name);
  EXPECT_EQ(names.size(), 4u) << "four keepalived virtual servers, four names";
}

TEST_F(Import, TheOtherDirectorsFileDiffersInNodeAndListenOnly) {
  const Imported imported = import("web_pair");
  const auto beta = server::parseDirectorConfig(imported.peerYaml, dir_ + "/beta.yaml");
  EXPECT_EQ(beta.node, "beta");
  EXPECT_EQ(beta.listen, "198.18.1.2:7101");
  EXPECT_EQ(beta.leases[0].preferred, std::optional<std::string>("alpha"));
}

std::string withoutComments(const std::string& yaml) {
  std::string out;
  std::istringstream in(yaml);
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(' ') != std::string::npos &&
        line[line.find_first_not_of(' ')] != '#') {
      out += line + "\n";
    }
  }
  return out;
}

// The documented way to migrate a pair: import each director's keepalived.conf, with --node and
// --peer swapped. The two runs must give the same files, or the directors refuse each other.
TEST_F(Import, BothDirectorsImportsGiveTheSameFiles) {
  const Imported lb1 = import("web_pair");
  ImportOptions swapped;
  swapped.node = "beta";
  swapped.peer = "alpha";
  const Imported lb2 = import("mirror/web_pair_lb2", swapped);
  EXPECT_EQ(withoutComments(lb1.peerYaml), withoutComments(lb2.directorYaml));
  EXPECT_EQ(withoutComments(lb1.directorYaml), withoutComments(lb2.peerYaml));
  EXPECT_EQ(lb1.arbiterYaml, lb2.arbiterYaml);
}

// The check above is only worth something if the director's parser refuses a wrong file: the
// converted file with one VIP given twice must not pass.
TEST_F(Import, TheValidityCheckRefusesABrokenConversion) {
  Imported imported = import("web_pair");
  imported.directorYaml = replaceAll(imported.directorYaml, "198.18.1.11/24", "198.18.1.10/24");
  EXPECT_THROW(server::parseDirectorConfig(imported.directorYaml, dir_ + "/alpha.yaml"),
               ConfigError);
}

TEST_F(Import, BrokenFilesGiveALineNumberedError) {
  const std::string b = kConfigs + "/broken/";
  auto error = [](const std::string& path) {
    const auto r = parseFile(path);
    return r ? std::string("parsed") : r.status().what();
  };
  EXPECT_EQ(error(b + "broken_unclosed.conf"),
            b + "broken_unclosed.conf:1: '{' of vrrp_instance is never closed");
  EXPECT_EQ(error(b + "broken_stray_brace.conf"),
            b + "broken_stray_brace.conf:4: '}' without a block to close");
  EXPECT_EQ(error(b + "broken_quote.conf"),
            b + "broken_quote.conf:2: a quoted string is not closed");
  EXPECT_NE(error(b + "broken_cycle_a.conf").find("broken_cycle_b.conf:3: include cycle"),
            std::string::npos);
}

std::string run(const std::string& command, int* status) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

TEST_F(Import, TheCommandWritesTheFilesAndNeverOverwritesWithoutForce) {
  const std::string cmd = std::string(QUORATECTL_PATH) + " import-keepalived " + kConfigs +
                          "/web_pair.conf --out-dir " + dir_ + " --secret-file " + secret_ +
                          " 2>&1";
  int status = -1;
  const std::string out = run(cmd, &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("imported: cluster keepalived, 1 instances"), std::string::npos) << out;
  for (const char* f : {"alpha.yaml", "beta.yaml", "arbiter.yaml", "import-report.txt"}) {
    EXPECT_TRUE(fs::exists(dir_ + "/" + f)) << f;
  }
  EXPECT_NO_THROW(server::loadDirectorConfig(dir_ + "/alpha.yaml"));
  const std::string again = run(cmd, &status);
  EXPECT_EQ(status, 1);
  EXPECT_NE(again.find("File exists (--force overwrites)"), std::string::npos) << again;
  run(cmd + " --force", &status);
  EXPECT_EQ(status, 0);

  const std::string broken = run(std::string(QUORATECTL_PATH) + " import-keepalived " + kConfigs +
                                     "/broken/broken_stray_brace.conf 2>&1",
                                 &status);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(broken, "quoratectl: " + kConfigs +
                        "/broken/broken_stray_brace.conf:4: '}' without a block to close\n");
  run(std::string(QUORATECTL_PATH) + " import-keepalived x.conf --node a --peer a 2>&1", &status);
  EXPECT_EQ(status, 2);
}

// --out-dir is made when missing (one level, like mkdir); a file in its place, or a missing
// parent, is named.
TEST_F(Import, AMissingOutputDirectoryIsMadeAndAFileInItsPlaceIsNamed) {
  const std::string base = std::string(QUORATECTL_PATH) + " import-keepalived " + kConfigs +
                           "/web_pair.conf --secret-file " + secret_ + " --out-dir ";
  int status = -1;
  std::string out = run(base + dir_ + "/new 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_TRUE(fs::exists(dir_ + "/new/alpha.yaml"));
  out = run(base + dir_ + "/no/such 2>&1", &status);
  EXPECT_EQ(status, 1);
  EXPECT_NE(out.find("--out-dir " + dir_ + "/no/such: No such file or directory"),
            std::string::npos)
      << out;
  std::ofstream(dir_ + "/plain") << "x\n";
  out = run(base + dir_ + "/plain 2>&1", &status);
  EXPECT_EQ(status, 1);
  EXPECT_NE(out.find("--out-dir " + dir_ + "/plain: not a directory"), std::string::npos) << out;
}

// A refusal writes nothing (no half import that the next run then trips over), and --force
// replaces a symbolic link in the output directory instead of writing through it (someone who
// can write to a shared directory such as /tmp must not aim the import at another file).
TEST_F(Import, ARefusedImportWritesNothingAndForceNeverFollowsALink) {
  const std::string cmd = std::string(QUORATECTL_PATH) + " import-keepalived " + kConfigs +
                          "/web_pair.conf --out-dir " + dir_ + " --secret-file " + secret_ +
                          " 2>&1";
  std::ofstream(dir_ + "/arbiter.yaml") << "mine\n";
  int status = -1;
  const std::string out = run(cmd, &status);
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find(dir_ + "/arbiter.yaml: File exists (--force overwrites)"), std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(dir_ + "/alpha.yaml"));
  EXPECT_FALSE(fs::exists(dir_ + "/beta.yaml"));

  const std::string victim = dir_ + "/victim";
  std::ofstream(victim) << "precious\n";
  fs::remove(dir_ + "/alpha.yaml");  // left by the old half import, if any
  fs::create_symlink(victim, dir_ + "/alpha.yaml");
  run(cmd + " --force", &status);
  EXPECT_EQ(status, 0);
  std::ifstream in(victim);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "precious\n");
  EXPECT_FALSE(fs::is_symlink(dir_ + "/alpha.yaml"));
  EXPECT_NO_THROW(server::loadDirectorConfig(dir_ + "/alpha.yaml"));
}

TEST_F(Import, AGroupBecomesOneVirtualServerWhoseRealServersAreCheckedOnce) {
  const auto c = parseAll(import("vs_group"));
  // 198.18.10.1, .2, .3 and fwmark 9: four services of one virtual server.
  ASSERT_EQ(c.ipvs.virtualServers.size(), 4u);
  for (const auto& vs : c.ipvs.virtualServers) {
    EXPECT_EQ(vs.name, "VSG_WEB");
    EXPECT_EQ(vs.group, "VSG_WEB");
    ASSERT_EQ(vs.realServers.size(), 1u);
    EXPECT_EQ(vs.realServers[0].dest.endpoint(), "198.18.10.21:8080");
  }
  EXPECT_EQ(c.ipvs.virtualServers[3].service.key.toString(), "fwmark 9 ipv4");
  EXPECT_EQ(server::ipvs::checkedServers(c.ipvs).size(), 1u);

  // The IPv6 group serves UDP and TCP under two names. Members on two ports share the real
  // server's endpoint under NAT (its own port) but not under DR: that group is expanded.
  const auto p = parseAll(import("vs_group_ports"));
  std::vector<std::string> names;
  for (const auto& vs : p.ipvs.virtualServers)
    names.push_back(vs.name + " " + vs.service.key.toString());
  EXPECT_EQ(
      names,
      (std::vector<std::string>{
          "V6 udp [2001:db8::11]:53", "V6 udp [2001:db8::fe]:53", "V6 udp [2001:db8::ff]:53",
          "V6 udp [2001:db8::100]:53", "V6 udp [2001:db8::101]:53", "V6-2 tcp [2001:db8::11]:53",
          "V6-2 tcp [2001:db8::fe]:53", "V6-2 tcp [2001:db8::ff]:53", "V6-2 tcp [2001:db8::100]:53",
          "V6-2 tcp [2001:db8::101]:53", "MIXED tcp 198.18.11.1:80", "MIXED tcp 198.18.11.1:443",
          "198.18.11.2-80 tcp 198.18.11.2:80", "198.18.11.2-443 tcp 198.18.11.2:443"}));
  ASSERT_EQ(p.ipvs.virtualServers.size(), 14u);
  // Under NAT the real server keeps its own port in both members.
  EXPECT_EQ(p.ipvs.virtualServers[10].realServers[0].dest.endpoint(), "198.18.11.21:8080");
  EXPECT_EQ(p.ipvs.virtualServers[11].realServers[0].dest.endpoint(), "198.18.11.21:8080");
}

TEST_F(Import, UdpPingAndFileChecksMapToQuoratesChecks) {
  const auto c = parseAll(import("udp_and_fwmark"));
  ASSERT_GE(c.ipvs.virtualServers.size(), 1u);
  const auto& rs = c.ipvs.virtualServers[0].realServers;
  ASSERT_EQ(rs.size(), 3u);
  ASSERT_EQ(rs[1].checks.size(), 1u);
  const auto* udp = std::get_if<server::check::UdpSpec>(&rs[1].checks[0].kind);
  ASSERT_NE(udp, nullptr);
  EXPECT_EQ(udp->payload, std::string(1, '\0'));
  EXPECT_EQ(udp->expect, std::string(1, '\0'));
  EXPECT_EQ(udp->match, server::check::UdpSpec::Match::kPrefix);
  ASSERT_EQ(rs[2].checks.size(), 2u);  // PING_CHECK and the FILE_CHECK whose track_file exists
  EXPECT_NE(std::get_if<server::check::PingSpec>(&rs[2].checks[0].kind), nullptr);
  const auto* file = std::get_if<server::check::FileSpec>(&rs[2].checks[1].kind);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->path, "/run/keepalived/drain-rs23");
}

}  // namespace
}  // namespace quorate::keepalived
