// Unit tests of the arbiter config: a full parse, defaults, every kind of bad input, fuzzing.
#include "arbiter/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <string>

#include "common/config_error.h"
#include "tests/common/config_test_util.h"

namespace quorate::arbiter {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;
using testutil::editLines;
using testutil::TempDir;

// Line numbers matter: the table below refers to them. `other.secret` lives beside the file.
constexpr char kValid[] =
    "listen: 127.0.0.1:7100\n"          //  1
    "state_dir: state\n"                //  2
    "quarantine_ms: 2500\n"             //  3
    "log_level: debug\n"                //  4
    "clusters:\n"                       //  5
    "  - id: demo\n"                    //  6
    "    secret: s3cret-0123456789\n"   //  7
    "  - id: other\n"                   //  8
    "    secret_file: other.secret\n";  //  9

class ArbiterConfigTest : public ::testing::Test {
 protected:
  ArbiterConfigTest() {
    for (const auto& [name, text] :
         {std::pair<std::string, std::string>{"other.secret", "\n  other-secret-abcdef\n"},
          {"empty.secret", ""},
          {"same.secret", "s3cret-0123456789\n"}}) {
      ::chmod(dir_.write(name, text).c_str(), 0600);  // key files are owner-only, or refused
    }
  }

  std::string path() const { return dir_.file("arbiter.yaml"); }

  std::string errorOf(const std::string& text) const {
    try {
      parseArbiterConfig(text, path());
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "parsed without error:\n" << text;
    return "";
  }

  TempDir dir_;
};

TEST_F(ArbiterConfigTest, ParsesEveryKey) {
  const ArbiterConfig c = parseArbiterConfig(kValid, path());
  EXPECT_EQ(c.path, path());
  EXPECT_EQ(c.listen, "127.0.0.1:7100");
  EXPECT_EQ(c.stateDir, dir_.file("state"));
  EXPECT_EQ(c.quarantine, lease::Duration(2500ms));
  EXPECT_EQ(c.logLevel, "debug");
  ASSERT_EQ(c.clusters.size(), 2u);
  EXPECT_EQ(c.clusters[0].id, "demo");
  EXPECT_EQ(c.clusters[0].secrets, std::vector<std::string>{"s3cret-0123456789"});
  EXPECT_EQ(c.clusters[1].id, "other");
  EXPECT_EQ(c.clusters[1].secrets, std::vector<std::string>{"other-secret-abcdef"});
}

TEST_F(ArbiterConfigTest, Defaults) {
  const ArbiterConfig c = parseArbiterConfig(
      "listen: \"[::]:7100\"\nstate_dir: /var/lib/quorate\nclusters: [{id: a, secret: "
      "0123456789abcdef}]\n",
      path());
  EXPECT_EQ(c.quarantine, lease::Timing{}.quarantine);
  EXPECT_EQ(c.logLevel, "info");
  EXPECT_EQ(c.stateDir, "/var/lib/quorate");
  ASSERT_EQ(c.clusters.size(), 1u);
}

TEST_F(ArbiterConfigTest, LoadReadsTheFile) {
  const std::string p = dir_.write("arbiter.yaml", kValid);
  ::chmod(p.c_str(), 0600);  // it holds an inline key
  EXPECT_EQ(loadArbiterConfig(p).clusters.size(), 2u);
  try {
    loadArbiterConfig(dir_.file("nope.yaml"));
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              dir_.file("nope.yaml") + ": cannot read: No such file or directory");
  }
}

struct BadCase {
  const char* name;
  int first;
  int count;
  const char* text;
  int line;  // expected in the message; 0: the message has no line
  const char* key;
  const char* what;
};

const BadCase kBadCases[] = {
    {"listen_missing", 1, 1, "", 0, "listen", "missing required key"},
    {"listen_bad", 1, 1, "listen: 7100", 1, "listen", "expected host:port"},
    {"listen_port", 1, 1, "listen: 127.0.0.1:65536", 1, "listen", "port must be a number"},
    {"state_dir_missing", 2, 1, "", 0, "state_dir", "missing required key"},
    {"state_dir_list", 2, 1, "state_dir: [a]", 2, "state_dir", "expected a path, got a list"},
    {"quarantine_fast", 3, 1, "quarantine_ms: fast", 3, "quarantine_ms",
     "expected a positive integer (milliseconds), got \"fast\""},
    {"quarantine_zero", 3, 1, "quarantine_ms: 0", 3, "quarantine_ms",
     "must be between 1 and 86400000 (milliseconds), got 0"},
    {"quarantine_overflow", 3, 1, "quarantine_ms: 18446744073709551616", 3, "quarantine_ms",
     "must be between 1 and 86400000"},
    {"quarantine_typo", 3, 1, "quarantine: 1800", 3, "quarantine",
     "unknown key (did you mean quarantine_ms?)"},
    {"log_level_bad", 4, 1, "log_level: 3", 4, "log_level", "expected one of trace"},
    {"clusters_missing", 5, 5, "", 0, "clusters", "missing required key"},
    {"clusters_empty", 5, 5, "clusters: []", 5, "clusters",
     "expected at least one cluster, got none"},
    {"clusters_null", 5, 5, "clusters:", 5, "clusters", "expected a list, got nothing"},
    {"clusters_map", 5, 5, "clusters:\n  demo: x", 5, "clusters", "expected a list, got a mapping"},
    {"cluster_duplicate", 8, 1, "  - id: demo", 8, "clusters[1].id",
     "duplicate cluster id \"demo\" (first given at line 6)"},
    {"cluster_bad_id", 6, 1, "  - id: a/b", 6, "clusters[0].id", "expected a name"},
    {"cluster_no_id", 6, 2, "  - secret: 0123456789abcdef", 6, "clusters[0].id",
     "missing required key"},
    {"cluster_no_secret", 7, 1, "", 6, "clusters[0].secret_file",
     "missing required key (or give the secret inline as secret)"},
    {"cluster_both_secrets", 8, 0, "    secret_file: other.secret", 8, "clusters[0].secret_file",
     "not both (secret is at line 7)"},
    {"cluster_secret_missing_file", 9, 1, "    secret_file: missing.secret", 9,
     "clusters[1].secret_file", "No such file or directory"},
    {"cluster_secret_empty_file", 9, 1, "    secret_file: empty.secret", 9,
     "clusters[1].secret_file", "is empty"},
    {"cluster_secret_short", 7, 1, "    secret: s3cret", 7, "clusters[0].secret",
     "holds 6 bytes; a key needs at least 16"},
    {"cluster_same_key_twice", 9, 1, "    secret_file: same.secret", 8, "clusters[1]",
     "cluster \"other\" has a key of cluster \"demo\" (line 6): every cluster needs its own"},
    {"cluster_unknown_key", 8, 0, "    secrets: x", 8, "clusters[0].secrets",
     "unknown key (did you mean secret?)"},
    {"cluster_scalar", 8, 2, "  - other", 8, "clusters[1]", "expected a mapping of keys"},
    {"duplicate_top_key", 5, 0, "listen: 127.0.0.1:7200", 5, "listen",
     "duplicate key (first given at line 1)"},
    {"director_key_here", 5, 0, "cluster: demo", 5, "cluster", "unknown key"},
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class ArbiterBadInput : public ArbiterConfigTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(ArbiterBadInput, OneClearError) {
  const BadCase& c = GetParam();
  const std::string text = editLines(kValid, c.first, c.count, c.text);
  const std::string prefix =
      path() + (c.line > 0 ? ":" + std::to_string(c.line) : std::string()) + ": " + c.key + ": ";
  const std::string message = errorOf(text);
  EXPECT_THAT(message, StartsWith(prefix)) << "input:\n" << text;
  EXPECT_THAT(message, HasSubstr(c.what));
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
}

INSTANTIATE_TEST_SUITE_P(Table, ArbiterBadInput, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& p) {
                           return std::string(p.param.name);
                         });

TEST_F(ArbiterConfigTest, WholeFileErrors) {
  EXPECT_EQ(errorOf(""), path() + ": the file is empty; expected a mapping of keys");
  EXPECT_THAT(errorOf("listen: [\n"), StartsWith(path() + ":"));
  EXPECT_THAT(errorOf("listen: [\n"), HasSubstr("invalid YAML"));
  EXPECT_THAT(errorOf("clusters"), StartsWith(path() + ":1: expected a mapping of keys"));
}

TEST_F(ArbiterConfigTest, MutatedInputsParseOrThrowConfigError) {
  const auto inputs = testutil::mutationsOf(kValid, 7);
  const int parsed = testutil::expectOnlyConfigErrors(
      inputs, path(), [&](const std::string& text) { parseArbiterConfig(text, path()); });
  EXPECT_GT(parsed, 0);
  EXPECT_LT(static_cast<std::size_t>(parsed), inputs.size());
}

TEST(ArbiterExample, LoopbackLoads) {
  // The example's key is made at its first start (scripts/make-secret.sh), never committed: a
  // copy of the file beside a key of our own.
  TempDir dir;
  std::ifstream in(std::string(QUORATE_EXAMPLES_DIR) + "/loopback/arbiter.yaml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  ::chmod(dir.write("demo.secret", "a-key-made-at-first-start\n").c_str(), 0600);
  const ArbiterConfig c = loadArbiterConfig(dir.write("arbiter.yaml", text));
  EXPECT_EQ(c.listen, "127.0.0.1:7100");
  EXPECT_EQ(c.stateDir, "/tmp/quorate-demo/arbiter");
  EXPECT_EQ(c.quarantine, lease::Duration(1800ms));
  ASSERT_EQ(c.clusters.size(), 1u);
  EXPECT_EQ(c.clusters[0].id, "demo");
  EXPECT_EQ(c.clusters[0].secrets, std::vector<std::string>{"a-key-made-at-first-start"});
}

}  // namespace
}  // namespace quorate::arbiter

namespace quorate::arbiter {
namespace {

using ::testing::HasSubstr;

class ArbiterOperatorConfigTest : public ::testing::Test {
 protected:
  std::string errorOf(const std::string& text) {
    try {
      parseArbiterConfig(text, dir_.file("arbiter.yaml"));
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "parsed without error:\n" << text;
    return "";
  }
  static std::string withOperator(const std::string& op) {
    return "listen: 127.0.0.1:7100\nstate_dir: state\n" + op +
           "clusters:\n  - id: demo\n    secret_file: /nonexistent\n";
  }
  testutil::TempDir dir_;
};

TEST_F(ArbiterOperatorConfigTest, AbsentMeansNoStatusApi) {
  const auto c = parseArbiterConfig(
      "listen: 127.0.0.1:7100\nstate_dir: state\nclusters:\n  - id: demo\n"
      "    secret: s3cret-0123456789\n",
      dir_.file("arbiter.yaml"));
  EXPECT_FALSE(c.operatorApi.has_value());
}

TEST_F(ArbiterOperatorConfigTest, SocketRelativeToTheFileAndGroup) {
  const auto c = parseArbiterConfig(
      "listen: 127.0.0.1:7100\nstate_dir: state\noperator:\n  socket: run/arbiter.sock\n"
      "  group: root\nclusters:\n  - id: demo\n    secret: s3cret-0123456789\n",
      dir_.file("arbiter.yaml"));
  ASSERT_TRUE(c.operatorApi.has_value());
  EXPECT_EQ(c.operatorApi->socket, dir_.file("run/arbiter.sock"));
  EXPECT_EQ(c.operatorApi->group, gid_t{0});
  EXPECT_EQ(c.operatorApi->groupName, "root");
}

TEST_F(ArbiterOperatorConfigTest, BadOperatorKeysAreNamed) {
  EXPECT_THAT(errorOf(withOperator("operator:\n  group: root\n")),
              HasSubstr("operator.socket: missing required key"));
  EXPECT_THAT(errorOf(withOperator("operator:\n  socket: /run/a.sock\n  group: no-such-grp-q\n")),
              HasSubstr("no such group \"no-such-grp-q\""));
  EXPECT_THAT(errorOf(withOperator("operator:\n  socket: /run/a.sock\n  tcp: {}\n")),
              HasSubstr("tcp"));
  EXPECT_THAT(errorOf(withOperator("operator:\n  socket: /" + std::string(120, 'x') + "\n")),
              HasSubstr("path too long for a Unix socket"));
}

}  // namespace
}  // namespace quorate::arbiter
