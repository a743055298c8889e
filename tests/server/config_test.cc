// Unit tests of the director config: a full parse, defaults, every kind of bad input, fuzzing.
#include "server/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "arbiter/config.h"
#include "common/config_error.h"
#include "tests/common/config_test_util.h"

namespace quorate::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace std::chrono_literals;
using testutil::editLines;
using testutil::TempDir;

constexpr char kPath[] = "/etc/quorate/alpha.yaml";

// Line numbers matter: the table below refers to them.
constexpr char kValid[] =
    "cluster: demo\n"                       //  1
    "node: alpha\n"                         //  2
    "secret: s3cret-0123456789\n"           //  3
    "listen: 127.0.0.1:7101\n"              //  4
    "state_dir: /tmp/quorate-test/alpha\n"  //  5
    "directors:\n"                          //  6
    "  - id: alpha\n"                       //  7
    "    address: 127.0.0.1:7101\n"         //  8
    "  - id: beta\n"                        //  9
    "    address: 127.0.0.1:7102\n"         // 10
    "arbiter:\n"                            // 11
    "  id: arbiter\n"                       // 12
    "  address: 127.0.0.1:7100\n"           // 13
    "preferred: alpha\n"                    // 14
    "preempt_delay_ms: 5000\n"              // 15
    "timers:\n"                             // 16
    "  holder_lease_ms: 1500\n"             // 17
    "  acceptor_lease_ms: 1700\n"           // 18
    "  quarantine_ms: 1800\n"               // 19
    "  renew_interval_ms: 500\n"            // 20
    "  max_drift_ppm: 1000\n"               // 21
    "log_level: info\n";                    // 22

constexpr char kMinimal[] =
    "cluster: c\n"
    "node: b\n"
    "secret: 0123456789abcdef\n"
    "listen: \"[::1]:7102\"\n"
    "state_dir: state\n"
    "directors: [{id: a, address: \"[::1]:7101\"}, {id: b, address: \"[::1]:7102\"}]\n"
    "arbiter: {address: \"[::1]:7100\"}\n";

std::string errorOf(const std::string& text, const std::string& path = kPath) {
  try {
    parseDirectorConfig(text, path);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed without error:\n" << text;
  return "";
}

TEST(DirectorConfig, ParsesEveryKey) {
  const DirectorConfig c = parseDirectorConfig(kValid, kPath);
  EXPECT_EQ(c.path, kPath);
  EXPECT_EQ(c.cluster, "demo");
  EXPECT_EQ(c.node, "alpha");
  EXPECT_EQ(c.self, lease::kDirectorA);
  EXPECT_EQ(c.secrets, std::vector<std::string>{"s3cret-0123456789"});
  EXPECT_EQ(c.listen, "127.0.0.1:7101");
  EXPECT_EQ(c.stateDir, "/tmp/quorate-test/alpha");
  EXPECT_EQ(c.directors[0].id, "alpha");
  EXPECT_EQ(c.directors[0].address, "127.0.0.1:7101");
  EXPECT_EQ(c.directors[1].id, "beta");
  EXPECT_EQ(c.directors[1].address, "127.0.0.1:7102");
  EXPECT_EQ(c.arbiter.id, "arbiter");
  EXPECT_EQ(c.arbiter.address, "127.0.0.1:7100");
  EXPECT_EQ(c.preferred, "alpha");
  EXPECT_EQ(c.preemptDelay, 5000ms);
  EXPECT_EQ(c.timing.holderLease, 1500ms);
  EXPECT_EQ(c.timing.acceptorLease, 1700ms);
  EXPECT_EQ(c.timing.quarantine, 1800ms);
  EXPECT_EQ(c.timing.renewInterval, 500ms);
  EXPECT_DOUBLE_EQ(c.timing.rho, 0.001);
  EXPECT_EQ(c.logLevel, "info");

  EXPECT_EQ(&c.peer(0), &c.directors[0]);
  EXPECT_EQ(&c.peer(1), &c.directors[1]);
  EXPECT_EQ(&c.peer(lease::kArbiter), &c.arbiter);
  EXPECT_THROW(c.peer(3), std::out_of_range);

  const lease::NodeConfig n = c.nodeConfig();
  EXPECT_EQ(n.self, lease::kDirectorA);
  EXPECT_EQ(n.preferred, lease::kDirectorA);
  EXPECT_EQ(n.preemptDelay, lease::Duration(5000ms));
  EXPECT_EQ(n.timing.holderLease, c.timing.holderLease);
  EXPECT_EQ(n.timing.acceptorLease, c.timing.acceptorLease);
  EXPECT_EQ(n.timing.quarantine, c.timing.quarantine);
  EXPECT_EQ(n.timing.renewInterval, c.timing.renewInterval);
  EXPECT_EQ(n.timing.rho, c.timing.rho);
}

TEST(DirectorConfig, DefaultsAndFlowStyle) {
  const DirectorConfig c = parseDirectorConfig(kMinimal, "/srv/q/b.yaml");
  EXPECT_EQ(c.self, lease::kDirectorB);
  EXPECT_EQ(c.stateDir, "/srv/q/state");  // relative to the file's directory
  EXPECT_EQ(c.arbiter.id, "arbiter");
  EXPECT_EQ(c.arbiter.address, "[::1]:7100");
  EXPECT_FALSE(c.preferred.has_value());
  EXPECT_FALSE(c.preemptDelay.has_value());
  EXPECT_EQ(c.logLevel, "info");
  const lease::Timing defaults;
  EXPECT_EQ(c.timing.holderLease, defaults.holderLease);
  EXPECT_EQ(c.timing.acceptorLease, defaults.acceptorLease);
  EXPECT_EQ(c.timing.quarantine, defaults.quarantine);
  EXPECT_EQ(c.timing.renewInterval, defaults.renewInterval);
  EXPECT_EQ(c.timing.rho, defaults.rho);
  const lease::NodeConfig n = c.nodeConfig();
  EXPECT_EQ(n.self, lease::kDirectorB);
  EXPECT_FALSE(n.preferred.has_value());
  EXPECT_FALSE(n.preemptDelay.has_value());
}

TEST(DirectorConfig, DefaultArbiterIdMustNotClash) {
  std::string text = editLines(kMinimal, 2, 1, "node: arbiter");
  text = editLines(text, 6, 1,
                   "directors: [{id: a, address: \"[::1]:7101\"}, "
                   "{id: arbiter, address: \"[::1]:7102\"}]");
  EXPECT_EQ(errorOf(text), std::string(kPath) +
                               ":7: arbiter: the default arbiter id \"arbiter\" is also a "
                               "director's id; set arbiter.id");
}

TEST(DirectorConfig, PartialTimersKeepTheOtherDefaults) {
  const std::string text = editLines(kValid, 16, 6, "timers:\n  max_drift_ppm: 0\n");
  const DirectorConfig c = parseDirectorConfig(text, kPath);
  EXPECT_EQ(c.timing.rho, 0.0);
  EXPECT_EQ(c.timing.holderLease, lease::Timing{}.holderLease);
}

TEST(DirectorConfig, PreferredWithoutPreemptAndZeroDelay) {
  const DirectorConfig noPreempt = parseDirectorConfig(editLines(kValid, 15, 1, ""), kPath);
  EXPECT_EQ(noPreempt.preferred, "alpha");
  EXPECT_FALSE(noPreempt.preemptDelay.has_value());
  const DirectorConfig zero =
      parseDirectorConfig(editLines(kValid, 14, 2, "preferred: beta\npreempt_delay_ms: 0"), kPath);
  EXPECT_EQ(zero.nodeConfig().preferred, lease::kDirectorB);
  EXPECT_EQ(zero.preemptDelay, 0ms);
}

TEST(DirectorConfig, LoadReadsTheFileAndItsSecretFile) {
  TempDir dir;
  ::chmod(dir.write("demo.secret", "from-file-0123456789\n").c_str(), 0600);
  const std::string path =
      dir.write("alpha.yaml", editLines(kValid, 3, 1, "secret_file: demo.secret"));
  const DirectorConfig c = loadDirectorConfig(path);
  EXPECT_EQ(c.path, path);
  EXPECT_EQ(c.secrets, std::vector<std::string>{"from-file-0123456789"});
  // An inline key in a file that others can read is refused, naming the file and its mode.
  const std::string open = dir.write("open.yaml", kValid);
  ::chmod(open.c_str(), 0644);
  try {
    loadDirectorConfig(open);
    ADD_FAILURE() << "loaded an inline key from a file of mode 0644";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              open +
                  ":3: secret: an inline key needs a config file readable by its owner only, "
                  "and \"" +
                  open +
                  "\" has mode 0644 (chmod 600 it, or move the key to "
                  "secret_file)");
  }
  ::chmod(open.c_str(), 0600);
  EXPECT_EQ(loadDirectorConfig(open).secrets, std::vector<std::string>{"s3cret-0123456789"});
  try {
    loadDirectorConfig(dir.file("missing.yaml"));
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              dir.file("missing.yaml") + ": cannot read: No such file or directory");
  }
}

// One bad edit of kValid: replace `count` lines from `first` by `text` (count 0: insert).
struct BadCase {
  const char* name;
  int first;
  int count;
  const char* text;
  int line;  // expected in the message; 0: the message has no line
  const char* key;
  const char* what;  // expected after "<file>:<line>: <key>: "
};

const BadCase kBadCases[] = {
    {"cluster_spaces", 1, 1, "cluster: my cluster", 1, "cluster", "expected a name of 1 to 64"},
    {"cluster_too_long", 1, 1,
     "cluster: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1, "cluster",
     "expected a name"},
    {"cluster_map", 1, 1, "cluster: {a: 1}", 1, "cluster", "expected a string, got a mapping"},
    {"cluster_missing", 1, 1, "", 0, "cluster", "missing required key"},
    {"node_not_director", 2, 1, "node: gamma", 2, "node",
     "\"gamma\" is not one of directors (alpha, beta)"},
    {"node_missing", 2, 1, "", 0, "node", "missing required key"},
    {"secret_and_file", 3, 1, "secret: x\nsecret_file: /nope", 4, "secret_file",
     "give either secret or secret_file, not both (secret is at line 3)"},
    {"secret_file_missing", 3, 1, "secret_file: /nope", 3, "secret_file",
     "cannot read \"/nope\": No such file or directory"},
    {"secret_none", 3, 1, "", 0, "secret_file", "missing required key"},
    {"secret_empty", 3, 1, "secret: ''", 3, "secret", "must not be empty"},
    {"listen_no_port", 4, 1, "listen: 127.0.0.1", 4, "listen", "expected host:port"},
    {"listen_port_zero", 4, 1, "listen: 127.0.0.1:0", 4, "listen",
     "port must be a number between 1 and 65535, got \"127.0.0.1:0\""},
    {"listen_port_big", 4, 1, "listen: 127.0.0.1:70000", 4, "listen", "port must be a number"},
    {"listen_bare_ipv6", 4, 1, "listen: ::1:7101", 4, "listen", "in brackets"},
    {"listen_bad_ipv4", 4, 1, "listen: 10.0.0.256:7101", 4, "listen", "invalid IPv4 address"},
    {"listen_list", 4, 1, "listen: [a, b]", 4, "listen", "expected host:port, got a list"},
    {"state_dir_empty", 5, 1, "state_dir:", 5, "state_dir", "expected a path, got nothing"},
    {"directors_three", 11, 0, "  - id: gamma\n    address: 127.0.0.1:7103", 6, "directors",
     "expected exactly 2 entries, got 3"},
    {"directors_one", 9, 2, "", 6, "directors", "expected exactly 2 entries, got 1"},
    {"directors_scalar", 6, 5, "directors: alpha,beta", 6, "directors",
     "expected a list, got \"alpha,beta\""},
    {"directors_missing", 6, 5, "", 0, "directors", "missing required key"},
    {"director_duplicate_id", 9, 1, "  - id: alpha", 9, "directors[1].id",
     "duplicate id \"alpha\""},
    {"director_duplicate_address", 10, 1, "    address: 127.0.0.1:7101", 10, "directors[1].address",
     "duplicate address \"127.0.0.1:7101\""},
    {"director_bad_port", 8, 1, "    address: 127.0.0.1:99999", 8, "directors[0].address",
     "port must be a number"},
    {"director_unknown_key", 9, 0, "    port: 7101", 9, "directors[0].port",
     "unknown key; expected one of: id, address"},
    {"director_no_address", 8, 1, "", 7, "directors[0].address", "missing required key"},
    {"director_not_map", 7, 2, "  - alpha", 7, "directors[0]",
     "expected a mapping of keys, got \"alpha\""},
    {"arbiter_no_address", 13, 1, "", 11, "arbiter.address", "missing required key"},
    {"arbiter_id_is_director", 12, 1, "  id: beta", 12, "arbiter.id",
     "arbiter id \"beta\" is also a director's id"},
    {"arbiter_same_address", 13, 1, "  address: 127.0.0.1:7102", 13, "arbiter.address",
     "is also director \"beta\"'s address"},
    {"arbiter_typo", 12, 1, "  ide: arbiter", 12, "arbiter.ide", "unknown key (did you mean id?)"},
    {"preferred_unknown", 14, 1, "preferred: gamma", 14, "preferred",
     "\"gamma\" is not one of directors (alpha, beta)"},
    {"preempt_without_preferred", 14, 1, "", 14, "preempt_delay_ms", "requires preferred"},
    {"preempt_negative", 15, 1, "preempt_delay_ms: -1", 15, "preempt_delay_ms",
     "must be between 0 and 86400000 (milliseconds), got -1"},
    {"holder_fast", 17, 1, "  holder_lease_ms: fast", 17, "timers.holder_lease_ms",
     "expected a positive integer (milliseconds), got \"fast\""},
    {"holder_overflow", 17, 1, "  holder_lease_ms: 99999999999999999999999", 17,
     "timers.holder_lease_ms", "must be between 1 and 86400000 (milliseconds)"},
    {"holder_zero", 17, 1, "  holder_lease_ms: 0", 17, "timers.holder_lease_ms",
     "must be between 1 and 86400000"},
    {"holder_float", 17, 1, "  holder_lease_ms: 1500.5", 17, "timers.holder_lease_ms",
     "expected a positive integer (milliseconds), got \"1500.5\""},
    {"holder_with_unit", 17, 1, "  holder_lease_ms: 1.5s", 17, "timers.holder_lease_ms",
     "expected a positive integer"},
    {"unsafe_acceptor", 17, 1, "  holder_lease_ms: 1700", 16, "timers",
     "unsafe timers: holder_lease_ms * (1 + rho) must be <= acceptor_lease_ms * (1 - rho)"},
    {"unsafe_quarantine", 18, 1, "  acceptor_lease_ms: 1900", 16, "timers",
     "unsafe timers: acceptor_lease_ms must be <= quarantine_ms"},
    {"unsafe_quarantine_drift", 19, 1, "  quarantine_ms: 1501", 16, "timers", "unsafe timers: "},
    {"unsafe_renew", 20, 1, "  renew_interval_ms: 1000", 16, "timers",
     "unsafe timers: renew_interval_ms must be at most half of holder_lease_ms"},
    {"drift_too_high", 21, 1, "  max_drift_ppm: 100000", 21, "timers.max_drift_ppm",
     "must be between 0 and 99999 (parts per million), got 100000"},
    {"drift_negative", 21, 1, "  max_drift_ppm: -1", 21, "timers.max_drift_ppm",
     "must be between 0 and 99999"},
    {"timers_typo", 17, 1, "  holder_lease: 1500", 17, "timers.holder_lease",
     "unknown key (did you mean holder_lease_ms?)"},
    {"timers_scalar", 16, 6, "timers: 1500", 16, "timers",
     "expected a mapping of keys, got \"1500\""},
    {"timer_at_top_level", 22, 0, "quarantine_ms: 1800", 22, "quarantine_ms", "unknown key"},
    {"top_level_typo", 22, 1, "loglevel: info", 22, "loglevel",
     "unknown key (did you mean log_level?)"},
    {"log_level_bad", 22, 1, "log_level: verbose", 22, "log_level",
     "expected one of trace, debug, info, warn, error, got \"verbose\""},
    {"duplicate_key", 3, 0, "node: beta", 3, "node", "duplicate key (first given at line 2)"},
    {"duplicate_nested_key", 18, 0, "  holder_lease_ms: 1000", 18, "timers.holder_lease_ms",
     "duplicate key (first given at line 17)"},
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class DirectorBadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(DirectorBadInput, OneClearError) {
  const BadCase& c = GetParam();
  const std::string text = editLines(kValid, c.first, c.count, c.text);
  const std::string prefix = std::string(kPath) +
                             (c.line > 0 ? ":" + std::to_string(c.line) : std::string()) + ": " +
                             c.key + ": ";
  const std::string message = errorOf(text);
  EXPECT_THAT(message, StartsWith(prefix)) << "input:\n" << text;
  EXPECT_THAT(message, HasSubstr(c.what));
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
}

INSTANTIATE_TEST_SUITE_P(Table, DirectorBadInput, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& p) {
                           return std::string(p.param.name);
                         });

TEST(DirectorConfig, WholeFileErrors) {
  EXPECT_EQ(errorOf(""), std::string(kPath) + ": the file is empty; expected a mapping of keys");
  EXPECT_EQ(errorOf("# nothing\n"),
            std::string(kPath) + ": the file is empty; expected a mapping of keys");
  EXPECT_THAT(errorOf("- cluster: demo\n"),
              StartsWith(std::string(kPath) + ":1: expected a mapping of keys at the top level"));
  EXPECT_EQ(
      errorOf(std::string(kValid) + "---\ncluster: other\n"),
      std::string(kPath) + ":23: expected a single YAML document, but a second one starts here");
  EXPECT_THAT(errorOf(std::string(",") + kValid),
              StartsWith(std::string(kPath) + ":1: invalid YAML: unexpected \",\""));
  // Syntax errors: the line of the problem, and yaml-cpp's reason.
  EXPECT_THAT(errorOf(editLines(kValid, 8, 1, "    address: [127.0.0.1:7101")),
              StartsWith(std::string(kPath) + ":"));
  EXPECT_THAT(errorOf(editLines(kValid, 8, 1, "    address: [127.0.0.1:7101")),
              HasSubstr("invalid YAML"));
  EXPECT_THAT(errorOf(editLines(kValid, 19, 1, " quarantine_ms: 1800")),
              StartsWith(std::string(kPath) + ":19: invalid YAML: "));
  EXPECT_THAT(errorOf(editLines(kValid, 17, 1, "\tholder_lease_ms: 1500")),
              StartsWith(std::string(kPath) + ":17: invalid YAML: "));
  EXPECT_THAT(errorOf(editLines(kValid, 17, 1, "\tholder_lease_ms: 1500")),
              HasSubstr("tabs are not allowed in indentation"));
  EXPECT_THAT(errorOf(editLines(kValid, 18, 1, " \t acceptor_lease_ms: 1700")),
              HasSubstr("tabs are not allowed in indentation"));
  EXPECT_THAT(errorOf(editLines(kValid, 8, 1, "    address: [127.0.0.1:7101")),
              Not(HasSubstr("tabs")));
  EXPECT_THAT(errorOf("cluster: \"demo\n"), StartsWith(std::string(kPath) + ":1: cluster: "));
  EXPECT_THAT(errorOf(editLines(kValid, 22, 1, "[a]: 1")),
              StartsWith(std::string(kPath) + ":22: keys must be plain names"));
}

TEST(DirectorConfig, BinaryGarbageIsAConfigError) {
  std::string garbage;
  for (int i = 0; i < 512; ++i) garbage += static_cast<char>((i * 37 + 11) % 256);
  EXPECT_THAT(errorOf(garbage), StartsWith(kPath));
  EXPECT_THAT(errorOf(std::string("\xef\xbb\xbf") + kValid + "\x01"), StartsWith(kPath));
}

TEST(DirectorConfig, ByteOrderMarkIsAccepted) {
  EXPECT_EQ(parseDirectorConfig(std::string("\xef\xbb\xbf") + kValid, kPath).cluster, "demo");
}

TEST(DirectorConfig, AliasesAreResolved) {
  const std::string text = editLines(kValid, 4, 1, "listen: &a 127.0.0.1:7101");
  const DirectorConfig c = parseDirectorConfig(editLines(text, 8, 1, "    address: *a"), kPath);
  EXPECT_EQ(c.directors[0].address, "127.0.0.1:7101");
  EXPECT_EQ(c.listen, "127.0.0.1:7101");
}

// The listen check refuses a copied file whose `node` names the other director...
TEST(DirectorConfig, ListenOfTheOtherDirectorIsRefused) {
  EXPECT_THAT(errorOf(editLines(kValid, 2, 1, "node: beta")),
              HasSubstr("is not the address of this node"));
}

// ...but not a valid deployment that binds one address and is reached by another spelling of
// it: peers that use this host's DNS name while it binds its IP, or an IPv6 address written
// in another (equally valid) form. Both are refused today.
TEST(DirectorConfig, ListenMayBeAnotherSpellingOfTheOwnAddress) {
  const std::string byName = editLines(kValid, 8, 1, "    address: localhost:7101");
  EXPECT_NO_THROW(parseDirectorConfig(byName, kPath));
  const std::string v6 = editLines(editLines(kValid, 4, 1, "listen: \"[::1]:7101\""), 8, 1,
                                   "    address: \"[0:0:0:0:0:0:0:1]:7101\"");
  EXPECT_NO_THROW(parseDirectorConfig(v6, kPath));
}

TEST(DirectorConfig, MutatedInputsParseOrThrowConfigError) {
  TempDir dir;
  ::chmod(dir.write("demo.secret", "s3cret-0123456789\n").c_str(), 0600);
  const std::string path = dir.file("alpha.yaml");
  const std::string withFile = editLines(kValid, 3, 1, "secret_file: demo.secret");
  int parsed = 0;
  std::size_t total = 0;
  const std::pair<std::string, bool> bases[] = {
      {kValid, true}, {withFile, false}, {kMinimal, false}};  // exhaustive for the first only
  for (const auto& [base, exhaustive] : bases) {
    const auto inputs = testutil::mutationsOf(base, 1, exhaustive, 1000);
    total += inputs.size();
    parsed += testutil::expectOnlyConfigErrors(
        inputs, path, [&](const std::string& text) { parseDirectorConfig(text, path); });
  }
  EXPECT_GT(parsed, 0);  // some damage is harmless (in a value, a comment)
  EXPECT_LT(static_cast<std::size_t>(parsed), total);
}

// The shipped loopback example: every file loads and they agree with each other.
// Issue 11, finding 1: a copy of alpha's file left with `node: alpha` on beta's host (listen on
// beta's address, however spelled) is refused, naming the problem; wildcards are fine.
TEST(DirectorConfigTest, ListenMustBeTheNodesOwnAddress) {
  const std::string base =
      "cluster: c\nsecret: s3cret-0123456789\nstate_dir: /tmp/q\n"
      "directors:\n  - {id: alpha, address: \"198.18.0.1:7101\"}\n"
      "  - {id: beta, address: \"198.18.0.2:7101\"}\n"
      "arbiter: {address: \"198.18.0.3:7100\"}\n";
  EXPECT_NO_THROW(
      parseDirectorConfig(base + "node: alpha\nlisten: \"198.18.0.1:7101\"\n", "/x.yaml"));
  EXPECT_NO_THROW(parseDirectorConfig(base + "node: beta\nlisten: \"0.0.0.0:7101\"\n", "/x.yaml"));
  EXPECT_NO_THROW(parseDirectorConfig(base + "node: beta\nlisten: \"[::]:7101\"\n", "/x.yaml"));
  for (const char* wrong : {"node: alpha\nlisten: \"198.18.0.2:7101\"\n",
                            "node: beta\nlisten: \"198.18.0.1:7101\"\n"}) {
    try {
      parseDirectorConfig(base + wrong, "/x.yaml");
      ADD_FAILURE() << "accepted: " << wrong;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("is `node` this director's own id?"), std::string::npos)
          << e.what();
    }
  }
}

TEST(Examples, LoopbackFilesAreConsistent) {
  // The example's key is made at the first start (scripts/make-secret.sh), never committed: the
  // files are read from a copy beside a key of our own.
  TempDir copy;
  for (const char* f : {"alpha.yaml", "beta.yaml", "arbiter.yaml"}) {
    std::ifstream in(std::string(QUORATE_EXAMPLES_DIR) + "/loopback/" + f);
    std::stringstream text;
    text << in.rdbuf();
    ASSERT_TRUE(in) << f;
    copy.write(f, text.str());
  }
  ::chmod(copy.write("demo.secret", "a-key-made-at-first-start\n").c_str(), 0600);
  const std::string dir = copy.path();
  const DirectorConfig alpha = loadDirectorConfig(dir + "/alpha.yaml");
  const DirectorConfig beta = loadDirectorConfig(dir + "/beta.yaml");
  const arbiter::ArbiterConfig arb = arbiter::loadArbiterConfig(dir + "/arbiter.yaml");

  EXPECT_EQ(alpha.cluster, "demo");
  EXPECT_EQ(alpha.self, lease::kDirectorA);
  EXPECT_EQ(beta.self, lease::kDirectorB);
  EXPECT_EQ(alpha.stateDir, "/tmp/quorate-demo/alpha");
  EXPECT_EQ(beta.stateDir, "/tmp/quorate-demo/beta");
  EXPECT_EQ(arb.stateDir, "/tmp/quorate-demo/arbiter");
  EXPECT_EQ(alpha.secrets, std::vector<std::string>{"a-key-made-at-first-start"});
  for (const DirectorConfig* d : {&alpha, &beta}) {
    EXPECT_EQ(d->cluster, alpha.cluster);
    EXPECT_EQ(d->secrets, alpha.secrets);
    EXPECT_EQ(d->listen, d->directors[d->self].address);
    EXPECT_EQ(d->arbiter.address, arb.listen);
    EXPECT_EQ(d->preferred, alpha.preferred);
    EXPECT_EQ(d->preemptDelay, alpha.preemptDelay);
    for (lease::NodeId i = 0; i < 3; ++i) {
      EXPECT_EQ(d->peer(i).id, alpha.peer(i).id);
      EXPECT_EQ(d->peer(i).address, alpha.peer(i).address);
    }
    EXPECT_EQ(lease::validate(d->timing), std::nullopt);
    EXPECT_LE(d->timing.acceptorLease, arb.quarantine);  // else the arbiter rejects every Accept
    EXPECT_EQ(d->membership(), alpha.membership());      // else every call is refused
  }
  ASSERT_EQ(arb.clusters.size(), 1u);
  EXPECT_EQ(arb.clusters[0].id, alpha.cluster);
  EXPECT_EQ(arb.clusters[0].secrets, alpha.secrets);
}

}  // namespace
}  // namespace quorate::server
