// The arbiter's SIGHUP reload and status API with real processes: one arbiter serving two
// clusters of real directors on loopback, clusters added, removed, re-keyed, and a bad file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <stdexcept>

#include "common/convert.h"
#include "common/peer_auth.h"
#include "process/cluster.h"

namespace quorate::proctest {
namespace {

// One cluster entry of the arbiter's file: its id and its key lines (`secret:` or
// `secret_file:`), indented for a list item.
struct Entry {
  std::string id;
  std::string keyLines;
};

Entry inlineKey(const Cluster& c) {
  return {c.clusterId(), "    secret: \"" + c.secret() + "\"\n"};
}

// The arbiter of `host`, serving `entries`, with its status API on `socket` (empty: none).
std::string arbiterText(const Cluster& host, const std::vector<Entry>& entries,
                        const std::string& socket, const std::string& extra = "") {
  std::string y =
      "# An arbiter serving several process-test clusters.\nlisten: " + host.address(kArbiter) +
      "\nstate_dir: " + host.stateDir(kArbiter) +
      "\nquarantine_ms: " + std::to_string(host.timers().quarantine.count()) +
      "\nlog_level: debug\n" + extra;
  if (!socket.empty()) y += "operator:\n  socket: " + socket + "\n";
  y += "clusters:\n";
  for (const auto& e : entries) y += "  - id: " + e.id + "\n" + e.keyLines;
  return y;
}

// Options for a second cluster whose directors use `host`'s arbiter instead of their own.
ClusterOptions usingArbiterOf(const Cluster& host) {
  const std::string address = host.address(kArbiter);
  const auto edit = [address](std::string text) {
    const std::string key = "arbiter:\n  id: arbiter\n  address: ";
    const auto at = text.find(key);
    if (at == std::string::npos) throw std::logic_error("no arbiter address in:\n" + text);
    const auto from = at + key.size();
    return text.replace(from, text.find('\n', from) - from, address);
  };
  ClusterOptions o;
  o.editing(kAlpha, edit).editing(kBeta, edit);
  return o;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Writes the arbiter's file, sends SIGHUP and waits for the arbiter's log line about it.
// Returns that line.
std::string reload(Cluster& host, const std::string& text) {
  const std::size_t before = count(host.log(kArbiter), "SIGHUP: ");
  writeFile(host.configPath(kArbiter), text);
  host.signal(kArbiter, SIGHUP);
  std::string log;
  if (!waitUntil(
          [&] {
            log = host.log(kArbiter);
            return count(log, "SIGHUP: ") > before;
          },
          Ms(5000))) {
    ADD_FAILURE() << "no SIGHUP line in the arbiter's log";
    return "";
  }
  auto at = log.find("SIGHUP: ");
  for (std::size_t i = 0; i < before; ++i) at = log.find("SIGHUP: ", at + 1);
  return log.substr(at, log.find('\n', at) - at);
}

// `quoratectl status --json` against the arbiter's socket.
nlohmann::json arbiterStatus(const std::string& socket) {
  const RunResult r =
      runProgram({QUORATECTL, "--endpoint", "unix:" + socket, "status", "--json"}, Ms(5000));
  EXPECT_EQ(r.exitCode, 0) << r.err;
  if (r.exitCode != 0) return {};
  return nlohmann::json::parse(r.out);
}

// The entry of cluster `id` in an arbiter status, if it has one.
std::optional<nlohmann::json> clusterIn(const nlohmann::json& status, const std::string& id) {
  if (!status.contains("clusters")) return std::nullopt;
  for (const auto& c : status["clusters"]) {
    if (c["id"] == id) return c;
  }
  return std::nullopt;
}

class ArbiterReload : public ::testing::Test {
 protected:
  ArbiterReload() : a_("arb-a"), b_("arb-b", usingArbiterOf(a_)) {}

  std::string socket() const { return a_.stateDir(kArbiter) + "/arbiter.sock"; }
  // A's arbiter with these clusters and its status API.
  std::string text(const std::vector<Entry>& entries) const {
    return arbiterText(a_, entries, socket());
  }
  void startArbiter(const std::vector<Entry>& entries) {
    writeFile(a_.configPath(kArbiter), text(entries));
    a_.start(kArbiter);
  }
  void startDirectors(Cluster& c) {
    c.start(kAlpha);
    c.start(kBeta);
  }
  // Settled on a holder that the arbiter also heard from.
  HolderView settled(Cluster& c) {
    const auto h = c.waitForSettled(c.timers().startupBound() * 2);
    if (!h) {
      ADD_FAILURE() << c.clusterId() << ": no settled holder";
      return {};
    }
    return *h;
  }

  Cluster a_;
  Cluster b_;  // its arbiter never runs: its directors use a_'s
};

// A cluster added by SIGHUP gets served (its directors elect a holder through this arbiter),
// while A's holder renews without a break, at the same epoch. The status API shows both
// clusters with what their directors show.
TEST_F(ArbiterReload, AClusterAddedBySighupIsServedWhileTheOthersKeepTheirLease) {
  startArbiter({inlineKey(a_)});
  startDirectors(a_);
  const HolderView held = settled(a_);
  ASSERT_FALSE(held.holder.empty());
  Sampler sampler(a_);
  ASSERT_TRUE(sampler.waitForAnswers(5, Ms(3000)));

  const std::string line = reload(a_, text({inlineKey(a_), inlineKey(b_)}));
  EXPECT_NE(line.find("1 cluster added (" + b_.clusterId() + ")"), std::string::npos) << line;
  startDirectors(b_);
  const HolderView bHeld = settled(b_);
  ASSERT_FALSE(bHeld.holder.empty());
  sampler.stop();
  const auto samples = sampler.samples();
  EXPECT_GT(okCount(samples, held.holder), 10u);
  const auto violations = checkHeldThroughout(samples, held.holder, held.epoch);
  EXPECT_TRUE(violations.empty()) << summary(violations) << describeTenures(samples, false);

  // quoratectl status on the arbiter's socket: the holders and epochs the directors report.
  struct stat st {};
  ASSERT_EQ(::stat(socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto status = arbiterStatus(socket());
  for (const auto& [c, h] : {std::pair{&a_, held}, std::pair{&b_, bHeld}}) {
    const auto now = c->agreedHolder();
    ASSERT_TRUE(now.has_value());
    const auto cs = clusterIn(status, c->clusterId());
    ASSERT_TRUE(cs.has_value()) << status.dump();
    EXPECT_EQ((*cs)["leases"][0]["holder"], now->holder) << status.dump();
    EXPECT_EQ((*cs)["leases"][0]["epoch"], now->epoch) << status.dump();
    EXPECT_GT((*cs)["leases"][0]["remaining_ms"].get<std::int64_t>(), 0) << status.dump();
    ASSERT_EQ((*cs)["contacts"].size(), 2u) << status.dump();
    for (const auto& n : (*cs)["contacts"]) EXPECT_LT(n["age_ms"].get<std::int64_t>(), 2000);
  }
  EXPECT_EQ(status["reloads"], 1);
  // The table form names them too.
  const RunResult table =
      runProgram({QUORATECTL, "--endpoint", "unix:" + socket(), "status"}, Ms(5000));
  EXPECT_EQ(table.exitCode, 0) << table.err;
  EXPECT_NE(table.out.find(b_.clusterId()), std::string::npos) << table.out;
}

// Removed: B's directors are refused (they lose the arbiter) and A does not notice. Re-added:
// the arbiter resumes from B's state on disk, so its epoch floor is never below what it
// accepted before, and it is quiet for the quarantine.
TEST_F(ArbiterReload, RemovedThenReAddedClusterNeverReusesAnEpoch) {
  startArbiter({inlineKey(a_), inlineKey(b_)});
  startDirectors(a_);
  startDirectors(b_);
  const HolderView held = settled(a_);
  const HolderView bHeld = settled(b_);
  ASSERT_FALSE(held.holder.empty());
  ASSERT_FALSE(bHeld.holder.empty());
  Sampler sampler(a_);
  ASSERT_TRUE(sampler.waitForAnswers(5, Ms(3000)));
  const auto before = clusterIn(arbiterStatus(socket()), b_.clusterId());
  ASSERT_TRUE(before.has_value());
  const std::uint64_t bEpochOnArbiter = (*before)["leases"][0]["epoch"];
  EXPECT_EQ(bEpochOnArbiter, bHeld.epoch);

  std::string line = reload(a_, text({inlineKey(a_)}));
  EXPECT_NE(line.find("removed (" + b_.clusterId() + ")"), std::string::npos) << line;
  EXPECT_EQ(clusterIn(arbiterStatus(socket()), b_.clusterId()), std::nullopt);
  // B's directors stop hearing from the arbiter (every request is refused).
  EXPECT_TRUE(waitUntil(
      [&] {
        const auto s = b_.status(bHeld.holder);
        const auto* arb = s ? findNode(*s, kArbiter) : nullptr;
        return arb != nullptr && !arb->reachable();
      },
      Ms(5000)))
      << "B's holder still reaches the arbiter after B was removed";
  EXPECT_NE(a_.log(kArbiter).find("cluster " + b_.clusterId() + " removed"), std::string::npos);

  line = reload(a_, text({inlineKey(a_), inlineKey(b_)}));
  EXPECT_NE(line.find("1 cluster added (" + b_.clusterId() + ")"), std::string::npos) << line;
  const auto readded = clusterIn(arbiterStatus(socket()), b_.clusterId());
  ASSERT_TRUE(readded.has_value());
  // Loaded from disk, not fresh: epochs are reserved ahead, so the floor is at least the epoch.
  EXPECT_GE((*readded)["leases"][0]["epoch"].get<std::uint64_t>(), bEpochOnArbiter)
      << (*readded).dump();
  EXPECT_TRUE((*readded)["leases"][0]["quarantine"].get<bool>()) << (*readded).dump();
  // B's directors reach the arbiter again after its quarantine; B's next tenure (its holder
  // killed) has a higher epoch.
  EXPECT_TRUE(waitUntil(
      [&] {
        const auto s = b_.status(bHeld.holder);
        const auto* arb = s ? findNode(*s, kArbiter) : nullptr;
        return arb != nullptr && arb->reachable();
      },
      b_.timers().startupBound()));
  b_.kill(bHeld.holder);
  const auto next = b_.waitForSelfHolder(otherDirector(bHeld.holder), b_.timers().startupBound());
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(next->epoch, bHeld.epoch);

  sampler.stop();
  const auto samples = sampler.samples();
  const auto violations = checkHeldThroughout(samples, held.holder, held.epoch);
  EXPECT_TRUE(violations.empty()) << summary(violations) << describeTenures(samples, false);
}

// New keys for A's arbiter by SIGHUP, the old one still accepted during the rotation: the new
// key works at once, A's directors (still on the old key) keep reaching the arbiter, and A's
// holder keeps its lease throughout.
TEST_F(ArbiterReload, ARotatedSecretKeepsTheLease) {
  startArbiter({inlineKey(a_)});
  startDirectors(a_);
  const HolderView held = settled(a_);
  ASSERT_FALSE(held.holder.empty());
  Sampler sampler(a_);
  ASSERT_TRUE(sampler.waitForAnswers(5, Ms(3000)));

  const std::string fresh = a_.secret() + "-rotated";
  const std::string dir = a_.stateDir(kArbiter) + "/..";
  writeFile(dir + "/arbiter-new.key", fresh + "\n");
  writeFile(dir + "/arbiter-old.key", a_.secret() + "\n");
  const auto reloaded = Clock::now();
  const std::string line =
      reload(a_, text({{a_.clusterId(), "    secret_file:\n      - " + dir + "/arbiter-new.key\n" +
                                            "      - " + dir + "/arbiter-old.key\n"}}));
  EXPECT_NE(line.find("1 with new credentials (" + a_.clusterId() + ")"), std::string::npos)
      << line;
  // The arbiter takes the new key (a director's ping signed with it; the pong is signed with
  // it too), still takes the old one (both directors keep reaching it), and no other.
  v1::ExchangeRequest body;
  body.set_cluster(a_.clusterId());
  body.set_from_name(kAlpha);
  body.set_membership(a_.membership());
  toProto(lease::Message{0, lease::kArbiter, lease::Ping{}}, *body.mutable_message());
  for (const auto& [key, works] : {std::pair{fresh, true}, std::pair{a_.secret() + "-x", false}}) {
    const auto wire = sealRequest(body, key, nextCounter());
    v1::ExchangeReply sealed, opened;
    const grpc::Status st = a_.exchange(kArbiter, wire, &sealed);
    EXPECT_EQ(st.ok(), works) << st.error_message();
    if (works && st.ok()) {
      ASSERT_TRUE(openReply(sealed, key, wire.auth().mac(), opened).ok());
      ASSERT_EQ(opened.messages_size(), 1);
      EXPECT_TRUE(opened.messages(0).has_pong()) << opened.DebugString();
    }
  }
  // Both directors, still signing with the old key, are heard from after the reload.
  EXPECT_TRUE(waitUntil(
      [&] {
        const auto c = clusterIn(arbiterStatus(socket()), a_.clusterId());
        if (!c || (*c)["contacts"].size() != 2) return false;
        const auto sinceReload = msBetween(reloaded, Clock::now()).count();
        for (const auto& n : (*c)["contacts"]) {
          if (n["age_ms"].get<std::int64_t>() >= sinceReload) return false;
        }
        return true;
      },
      Ms(5000)));
  sampler.stop();
  const auto samples = sampler.samples();
  const auto violations = checkHeldThroughout(samples, held.holder, held.epoch);
  EXPECT_TRUE(violations.empty()) << summary(violations) << describeTenures(samples, false);
}

// A file that does not parse, and one that changes what needs a restart: nothing changes, and
// the log says why.
TEST_F(ArbiterReload, ABadFileChangesNothingAndTheLogSaysWhy) {
  startArbiter({inlineKey(a_)});
  startDirectors(a_);
  const HolderView held = settled(a_);
  ASSERT_FALSE(held.holder.empty());
  Sampler sampler(a_);
  ASSERT_TRUE(sampler.waitForAnswers(5, Ms(3000)));

  std::string line = reload(a_, text({inlineKey(a_), inlineKey(b_)}) + "clusters: [oops\n");
  EXPECT_NE(line.find("reload refused, running configuration kept"), std::string::npos) << line;
  // Adds B but also moves the listen port: refused as a whole, B is not added either.
  std::string moved = text({inlineKey(a_), inlineKey(b_)});
  moved = std::regex_replace(moved, std::regex("listen: 127.0.0.1:[0-9]+"), "listen: 127.0.0.1:1");
  line = reload(a_, moved);
  EXPECT_NE(line.find("listen \"" + a_.address(kArbiter) + "\" -> \"127.0.0.1:1\""),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("running configuration kept"), std::string::npos) << line;
  const auto status = arbiterStatus(socket());
  EXPECT_NE(clusterIn(status, a_.clusterId()), std::nullopt) << status.dump();
  EXPECT_EQ(clusterIn(status, b_.clusterId()), std::nullopt) << status.dump();
  EXPECT_EQ(status["reloads"], 0);
  EXPECT_EQ(status["reload_failures"], 2);
  sampler.stop();
  const auto samples = sampler.samples();
  const auto violations = checkHeldThroughout(samples, held.holder, held.epoch);
  EXPECT_TRUE(violations.empty()) << summary(violations) << describeTenures(samples, false);
}

// Without the operator key nothing listens for it: no socket, and the peer port does not serve
// the status API. quoratectl says so when nothing answers.
TEST_F(ArbiterReload, WithoutTheKeyNoStatusApiListens) {
  writeFile(a_.configPath(kArbiter), arbiterText(a_, {inlineKey(a_)}, ""));
  a_.start(kArbiter);
  ASSERT_TRUE(waitUntil(
      [&] { return a_.log(kArbiter).find("arbiter listening") != std::string::npos; }, Ms(5000)));
  struct stat st {};
  EXPECT_NE(::stat(socket().c_str(), &st), 0) << socket() << " exists";
  auto stub = v1::ArbiterOperator::NewStub(
      grpc::CreateChannel(a_.address(kArbiter), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + Ms(2000));
  v1::ArbiterStatusReply reply;
  EXPECT_EQ(stub->Status(&ctx, v1::ArbiterStatusRequest(), &reply).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  const RunResult r =
      runProgram({QUORATECTL, "--endpoint", "unix:" + socket(), "status"}, Ms(5000));
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("UNAVAILABLE"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace quorate::proctest
