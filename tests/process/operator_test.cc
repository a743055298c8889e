// The operator API of the real daemons: roles on the Unix socket (a non-root user reads, cannot
// step down), the socket's mode, TLS on TCP with client certificates, and the audit records.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "process/cluster.h"
#include "tests/support/ports.h"
#include "tests/support/temp_dir.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

#ifdef QUORATECTL

constexpr uid_t kNobody = 65534;

RunResult ctlAs(std::optional<uid_t> uid, const std::string& endpoint,
                std::vector<std::string> args) {
  std::vector<std::string> argv;
  if (uid) {
    const std::string id = std::to_string(*uid);
    argv = {"/usr/bin/setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups"};
  }
  argv.push_back(QUORATECTL);
  argv.push_back("--endpoint");
  argv.push_back(endpoint);
  argv.insert(argv.end(), args.begin(), args.end());
  return runProgram(argv, 5000ms);
}

// A directory chain others may search (not write): the test's temp dirs are 0700.
void openForSearch(const std::string& path) {
  for (std::filesystem::path p = path; p.has_relative_path() && p != "/tmp"; p = p.parent_path()) {
    ::chmod(p.c_str(), 0755);
  }
}

std::vector<nlohmann::json> operatorRecords(const Cluster& c, const std::string& director) {
  std::vector<nlohmann::json> out;
  std::ifstream in(c.stateDir(director) + "/events.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("event", "") == "operator") out.push_back(j);
  }
  return out;
}

// Whether `records` has one from `uid` for `call` whose outcome starts with `outcome`.
bool hasRecord(const std::vector<nlohmann::json>& records, uid_t uid, const std::string& call,
               const std::string& outcome) {
  for (const auto& r : records) {
    if (r.at("who").value("uid", -1) == static_cast<std::int64_t>(uid) &&
        r.value("call", "") == call && r.value("outcome", "").rfind(outcome, 0) == 0) {
      return true;
    }
  }
  return false;
}

// `text` with `extra` lines added to the `operator:` mapping the harness writes.
std::string withOperatorKeys(const std::string& text, const std::string& extra) {
  const std::string key = "operator:\n";
  const auto at = text.find(key);
  if (at == std::string::npos) return text;
  return text.substr(0, at + key.size()) + extra + text.substr(at + key.size());
}

bool isRoot() { return ::geteuid() == 0; }

// tests/js with its node_modules (npm ci from the committed lock file on first use), or empty
// when npm or node is absent.
std::string grpcJs() {
  const std::string dir = QUORATE_JS_DIR;
  if (std::filesystem::exists(dir + "/node_modules/@grpc/grpc-js")) return dir;
  if (std::system("command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1") != 0) {
    return {};
  }
  const RunResult r = runProgram(
      {"/usr/bin/env", "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", dir},
      300s);
  EXPECT_EQ(r.exitCode, 0) << "npm ci in " << dir << ": " << r.err;
  return r.exitCode == 0 ? dir : std::string();
}

TEST(OperatorApi, SocketReaderCannotStepDownRootCanBothAudited) {
  if (!isRoot()) GTEST_SKIP() << "needs root, to run the client as uid 65534";
  ClusterOptions o;
  for (const auto& d : {kAlpha, kBeta}) {
    o.editing(d, [](const std::string& t) { return withOperatorKeys(t, "  group: nogroup\n"); });
  }
  Cluster c("operator-roles", o);
  c.startAll();
  const auto h = c.waitForSettled(c.timers().startupBound() + 10s);
  ASSERT_TRUE(h);
  const std::string holder = h->holder;
  openForSearch(c.stateDir(holder));
  const std::string sock = c.stateDir(holder) + "/director.sock";
  struct stat st {};
  ASSERT_EQ(::stat(sock.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, kNobody);

  const RunResult read = ctlAs(kNobody, c.operatorEndpoint(holder), {"status", "--json"});
  ASSERT_EQ(read.exitCode, 0) << read.err;
  EXPECT_EQ(nlohmann::json::parse(read.out).at("holder"), holder);

  const RunResult refused = ctlAs(kNobody, c.operatorEndpoint(holder), {"step-down", "--force"});
  EXPECT_NE(refused.exitCode, 0) << refused.out;
  EXPECT_NE(refused.err.find("PERMISSION_DENIED"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("needs the admin role"), std::string::npos) << refused.err;
  // The lease did not move: same holder, same epoch, a while later.
  std::this_thread::sleep_for(c.timers().renewInterval * 3);
  const auto still = c.waitForHealthy(3s);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->holder, holder);
  EXPECT_EQ(still->epoch, h->epoch);

  const RunResult done = ctlAs(std::nullopt, c.operatorEndpoint(holder), {"step-down"});
  EXPECT_EQ(done.exitCode, 0) << done.err;
  const auto after = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(after);
  EXPECT_NE(after->holder, holder);

  // The event log is written by its own thread: give it a moment.
  std::vector<nlohmann::json> records;
  for (int i = 0; i < 100; ++i) {
    records = operatorRecords(c, holder);
    if (hasRecord(records, 0, "StepDown", "ok")) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(hasRecord(records, kNobody, "StepDown", "refused")) << records.size();
  EXPECT_TRUE(hasRecord(records, 0, "StepDown", "ok")) << records.size();
  for (const auto& r : records) {
    if (r.at("who").value("uid", -1) == kNobody) {
      EXPECT_EQ(r.at("who").at("user"), "nobody");
    }
  }
}

TEST(OperatorApi, DefaultSocketModeKeepsOtherUsersOut) {
  if (!isRoot()) GTEST_SKIP() << "needs root, to run the client as uid 65534";
  Cluster c("operator-0600");
  c.startAll();
  const auto h = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(h);
  openForSearch(c.stateDir(h->holder));
  struct stat st {};
  ASSERT_EQ(::stat((c.stateDir(h->holder) + "/director.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const RunResult r = ctlAs(kNobody, c.operatorEndpoint(h->holder), {"status"});
  EXPECT_NE(r.exitCode, 0) << r.out;
  EXPECT_NE(r.err.find("ermission denied"), std::string::npos) << r.err;
  const RunResult root = ctlAs(std::nullopt, c.operatorEndpoint(h->holder), {"status"});
  EXPECT_EQ(root.exitCode, 0) << root.err;
}

// IpvsTable is a read, Drain and Enable change the director: a reader (uid 65534) reaches the
// table's handler (here: no virtual servers, FAILED_PRECONDITION) but is refused drain and enable,
// audited; root reaches the drain's handler, audited as failed with its reason.
TEST(OperatorApi, IpvsIsReadDrainAndEnableAreAdminAndAudited) {
  if (!isRoot()) GTEST_SKIP() << "needs root, to run the client as uid 65534";
  ClusterOptions o;
  for (const auto& d : {kAlpha, kBeta}) {
    o.editing(d, [](const std::string& t) { return withOperatorKeys(t, "  group: nogroup\n"); });
  }
  Cluster c("operator-drain-roles", o);
  c.startAll();
  const auto h = c.waitForHealthy(c.timers().startupBound() + 10s);
  ASSERT_TRUE(h);
  openForSearch(c.stateDir(h->holder));
  const std::string ep = c.operatorEndpoint(h->holder);

  const RunResult table = ctlAs(kNobody, ep, {"ipvs"});
  EXPECT_NE(table.exitCode, 0);
  EXPECT_NE(table.err.find("FAILED_PRECONDITION"), std::string::npos) << table.err;
  EXPECT_NE(table.err.find("no virtual servers"), std::string::npos) << table.err;
  for (const std::string verb : {"drain", "enable"}) {
    const RunResult refused = ctlAs(kNobody, ep, {verb, "web", "198.18.0.21:80"});
    EXPECT_NE(refused.exitCode, 0);
    EXPECT_NE(refused.err.find("PERMISSION_DENIED"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("needs the admin role"), std::string::npos) << refused.err;
  }
  const RunResult root = ctlAs(std::nullopt, ep, {"drain", "web", "198.18.0.21:80"});
  EXPECT_NE(root.exitCode, 0);
  EXPECT_NE(root.err.find("FAILED_PRECONDITION"), std::string::npos) << root.err;

  std::vector<nlohmann::json> records;
  for (int i = 0; i < 100; ++i) {
    records = operatorRecords(c, h->holder);
    if (hasRecord(records, 0, "Drain", "failed")) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(hasRecord(records, kNobody, "Drain", "refused")) << records.size();
  EXPECT_TRUE(hasRecord(records, kNobody, "Enable", "refused")) << records.size();
  EXPECT_TRUE(hasRecord(records, 0, "Drain", "failed: this director runs no virtual servers"))
      << records.size();
  EXPECT_FALSE(hasRecord(records, kNobody, "IpvsTable", "refused"));
}

// The peer port no longer serves the operator API.
TEST(OperatorApi, PeerPortServesNoOperatorCalls) {
  Cluster c("operator-peer-port");
  c.startAll();
  const auto h = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(h);
  // No --ca: an insecure channel to the peer port, as every client could before.
  const RunResult r = ctlAs(std::nullopt, c.address(h->holder), {"step-down", "--force"});
  EXPECT_NE(r.exitCode, 0) << r.out;
  EXPECT_NE(r.err.find("UNIMPLEMENTED"), std::string::npos) << r.err;
  const auto still = c.waitForHealthy(3s);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->holder, h->holder);
}

// openssl CLI: a CA, the director's certificate, a reader, an admin, and a stranger CA's
// admin-named client. EC P-256.
class Certs {
 public:
  explicit Certs(const std::string& dir) : dir_(dir) {
    ca("ca");
    ca("stranger");
    issue("ca", "director", "subjectAltName=IP:127.0.0.1");
    issue("ca", "ops-reader", "");
    issue("ca", "ops-admin", "");
    issue("stranger", "ops-admin-forged", "", "ops-admin");
  }
  std::string pem(const std::string& name) const { return dir_ + "/" + name + ".pem"; }
  std::string key(const std::string& name) const { return dir_ + "/" + name + ".key"; }
  bool ok() const { return ok_; }

 private:
  void run(const std::string& cmd) {
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) {
      ok_ = false;
      ADD_FAILURE() << "failed: " << cmd;
    }
  }
  void newKey(const std::string& name) {
    run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + key(name));
  }
  void ca(const std::string& name) {
    newKey(name);
    run("openssl req -x509 -new -key " + key(name) + " -subj /CN=" + name + "-ca -days 2 -out " +
        pem(name));
  }
  void issue(const std::string& ca, const std::string& name, const std::string& ext,
             std::string cn = "") {
    if (cn.empty()) cn = name;
    newKey(name);
    const std::string extFile = dir_ + "/" + name + ".ext";
    std::ofstream(extFile) << (ext.empty() ? "basicConstraints=CA:FALSE" : ext) << "\n";
    run("openssl req -new -key " + key(name) + " -subj /CN=" + cn + " -out " + dir_ + "/" + name +
        ".csr");
    run("openssl x509 -req -in " + dir_ + "/" + name + ".csr -CA " + pem(ca) + " -CAkey " +
        key(ca) + " -CAcreateserial -days 2 -extfile " + extFile + " -out " + pem(name));
  }
  std::string dir_;
  bool ok_ = true;
};

TEST(OperatorApi, TlsTcpRolesFromClientCertificates) {
  if (std::system("openssl version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl CLI";
  testutil::TempDir tmp("quorate-op-certs");
  const Certs certs(tmp.path());
  ASSERT_TRUE(certs.ok());
  std::map<std::string, int> ports = {{kAlpha, testutil::reservePort()},
                                      {kBeta, testutil::reservePort()}};
  ClusterOptions o;
  for (const auto& d : {kAlpha, kBeta}) {
    const std::string tcp = "  tcp:\n    listen: \"127.0.0.1:" + std::to_string(ports[d]) +
                            "\"\n    ca: " + certs.pem("ca") +
                            "\n    cert: " + certs.pem("director") +
                            "\n    key: " + certs.key("director") + "\n    admins: [ops-admin]\n";
    o.editing(d, [tcp](const std::string& t) { return withOperatorKeys(t, tcp); });
  }
  Cluster c("operator-tls", o);
  c.startAll();
  const auto h = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(h);
  const std::string endpoint = "127.0.0.1:" + std::to_string(ports[h->holder]);
  auto asOn = [&](const std::string& director, const std::string& who,
                  std::vector<std::string> args) {
    std::vector<std::string> tls = {"--ca",         certs.pem("ca"), "--cert",
                                    certs.pem(who), "--key",         certs.key(who)};
    tls.insert(tls.end(), args.begin(), args.end());
    return ctlAs(std::nullopt, "127.0.0.1:" + std::to_string(ports[director]), tls);
  };
  auto as = [&](const std::string& who, std::vector<std::string> args) {
    std::vector<std::string> tls = {"--ca",         certs.pem("ca"), "--cert",
                                    certs.pem(who), "--key",         certs.key(who)};
    tls.insert(tls.end(), args.begin(), args.end());
    return ctlAs(std::nullopt, endpoint, tls);
  };

  const RunResult read = as("ops-reader", {"status", "--json"});
  ASSERT_EQ(read.exitCode, 0) << read.err;
  EXPECT_EQ(nlohmann::json::parse(read.out).at("holder"), h->holder);
  const RunResult refused = as("ops-reader", {"step-down"});
  EXPECT_NE(refused.exitCode, 0);
  EXPECT_NE(refused.err.find("PERMISSION_DENIED"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("CN=ops-reader"), std::string::npos) << refused.err;

  const RunResult noCert = ctlAs(std::nullopt, endpoint, {"status"});
  EXPECT_NE(noCert.exitCode, 0) << noCert.out;
  const RunResult forged = as("ops-admin-forged", {"step-down"});
  EXPECT_NE(forged.exitCode, 0) << forged.out;
  EXPECT_EQ(forged.err.find("PERMISSION_DENIED"), std::string::npos)
      << "the handshake itself must fail: " << forged.err;
  auto still = c.waitForHealthy(3s);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->holder, h->holder);
  EXPECT_EQ(still->epoch, h->epoch);

  // (d) grpc-js, another stack: a valid certificate reads Status; none is refused.
  if (const auto js = grpcJs(); !js.empty()) {
    const std::vector<std::string> base = {"/usr/bin/env", "node", js + "/status.js", QUORATE_PROTO,
                                           endpoint};
    auto withCert = base;
    for (const std::string& a :
         {std::string("--ca"), certs.pem("ca"), std::string("--cert"), certs.pem("ops-reader"),
          std::string("--key"), certs.key("ops-reader")}) {
      withCert.push_back(a);
    }
    const RunResult ok = runProgram(withCert, 20s);
    ASSERT_EQ(ok.exitCode, 0) << ok.out << ok.err;
    const auto j = nlohmann::json::parse(ok.out);
    EXPECT_EQ(j.at("reply").at("holder"), h->holder);
    auto stepDown = withCert;
    stepDown.push_back("--step-down");
    const RunResult denied = runProgram(stepDown, 20s);
    EXPECT_NE(denied.out.find("PERMISSION_DENIED"), std::string::npos) << denied.out << denied.err;
    auto jsNoCert = base;
    jsNoCert.push_back("--ca");
    jsNoCert.push_back(certs.pem("ca"));
    const RunResult refusedJs = runProgram(jsNoCert, 20s);
    EXPECT_NE(refusedJs.exitCode, 0) << refusedJs.out;
    EXPECT_EQ(refusedJs.out.find("\"ok\":true"), std::string::npos) << refusedJs.out;
  } else {
    std::cout << "[ NOTE ] grpc-js part skipped: npm is not installed\n";
  }

  // On a loaded machine the lease may have moved on its own meanwhile: ask the holder of now.
  const auto now = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(now);
  const RunResult admin = asOn(now->holder, "ops-admin", {"step-down"});
  EXPECT_EQ(admin.exitCode, 0) << admin.err;
  const auto after = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(after);
  EXPECT_NE(after->holder, now->holder);
}

#else
TEST(OperatorApi, NeedsQuoratectl) { GTEST_SKIP() << "quoratectl is not part of this build"; }
#endif

}  // namespace
}  // namespace quorate::proctest
