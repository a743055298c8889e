// The daemons' start-up checks as processes: broken config files, --check, usage, corrupt state.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <sstream>

#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

constexpr Ms kRunTimeout{5000};  // a daemon that should refuse to start but does not is killed

// Replaces the first line of `text` that starts with `prefix` by `replacement` (no line at all
// when empty). Returns the new text and the 1-based number of that line.
std::pair<std::string, int> replaceLine(const std::string& text, const std::string& prefix,
                                        const std::string& replacement) {
  std::istringstream in(text);
  std::string out;
  int number = 0;
  int found = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (found == 0 && line.rfind(prefix, 0) == 0) {
      found = number;
      if (!replacement.empty()) out += replacement + "\n";
      continue;
    }
    out += line + "\n";
  }
  if (found == 0) throw std::runtime_error("no line starts with \"" + prefix + "\"");
  return {out, found};
}

struct Breakage {
  std::string prefix;       // the line to replace
  std::string replacement;  // empty: remove it
  std::string key;          // the key the error must name
};

// Writes each broken variant of `node`'s valid file and runs `binary` on it (and with --check):
// exit code 2, and stderr names the file, the line (unless the key is missing) and the key.
void expectRefused(const Cluster& c, const std::string& node, const std::string& binary,
                   const std::vector<Breakage>& breakages) {
  const std::string valid = readFile(c.configPath(node));
  int index = 0;
  for (const auto& b : breakages) {
    SCOPED_TRACE(node + ": " + (b.replacement.empty() ? "without " + b.prefix : b.replacement));
    const auto [text, line] = replaceLine(valid, b.prefix, b.replacement);
    const std::string path = c.configPath(node) + ".broken" + std::to_string(index++) + ".yaml";
    writeFile(path, text);
    const std::string where = b.replacement.empty()
                                  ? path + ": " + b.key + ": "
                                  : path + ":" + std::to_string(line) + ": " + b.key + ": ";
    for (const bool check : {false, true}) {
      std::vector<std::string> argv = {binary, "--config", path};
      if (check) argv.emplace_back("--check");
      const RunResult r = runProgram(argv, kRunTimeout);
      EXPECT_EQ(r.exitCode, 2) << (check ? "with --check; " : "") << "stderr: " << r.err;
      EXPECT_NE(r.err.find(where), std::string::npos)
          << "expected \"" << where << "\" in stderr: " << r.err;
    }
  }
}

TEST(Config, DirectorRefusesABrokenFileNamingFileLineAndKey) {
  Cluster c("bad-director-config", ClusterOptions().prefer(kAlpha));
  expectRefused(c, kAlpha, QUORATE_DIRECTOR,
                {
                    {"  holder_lease_ms:", "  holder_lease_ms: fast", "timers.holder_lease_ms"},
                    {"  quarantine_ms:", "  quarantin_ms: 1800", "timers.quarantin_ms"},
                    {"  max_drift_ppm:", "  max_drift_ppm: 100000", "timers.max_drift_ppm"},
                    {"node:", "node: gamma", "node"},
                    {"listen:", "listen: 127.0.0.1:99999", "listen"},
                    {"preferred:", "preferred: gamma", "preferred"},
                    {"log_level:", "log_level: loud", "log_level"},
                    {"log_level:", "log_target: kmsg", "log_target"},
                    {"listen:", "", "listen"},
                });
}

TEST(Config, ArbiterRefusesABrokenFileNamingFileLineAndKey) {
  Cluster c("bad-arbiter-config");
  expectRefused(c, kArbiter, QUORATE_ARBITER,
                {
                    {"quarantine_ms:", "quarantine_ms: fast", "quarantine_ms"},
                    {"log_level:", "log_levle: info", "log_levle"},
                    {"log_level:", "log_target: journald", "log_target"},
                    {"listen:", "listen: nowhere", "listen"},
                    {"  - id:", "  - id: \"bad id!\"", "clusters[0].id"},
                    {"state_dir:", "", "state_dir"},
                });
}

// The examples as a first start sees them: no key in git, scripts/make-secret.sh makes one
// (random, mode 0600), and every daemon accepts the files; a key file others can read is refused.
TEST(Config, CheckAcceptsTheLoopbackExamplesWithAKeyMadeAtFirstStart) {
  const std::string examples = std::string(QUORATE_EXAMPLES_DIR) + "/loopback/";
  testutil::TempDir tmp("quorate-proc-examples");
  const std::string dir = tmp.path() + "/";
  const std::vector<std::pair<std::string, std::string>> files = {
      {QUORATE_ARBITER, "arbiter.yaml"},
      {QUORATE_DIRECTOR, "alpha.yaml"},
      {QUORATE_DIRECTOR, "beta.yaml"},
  };
  for (const auto& [binary, file] : files) writeFile(dir + file, readFile(examples + file));
  const std::string script = std::string(QUORATE_EXAMPLES_DIR) + "/../../scripts/make-secret.sh";
  const RunResult made = runProgram({"/bin/sh", script, dir + "demo.secret"}, kRunTimeout);
  ASSERT_EQ(made.exitCode, 0) << made.err;
  struct stat st {};
  ASSERT_EQ(::stat((dir + "demo.secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_GE(st.st_size, 40);  // 32 random bytes in base64
  // Made once: a second run leaves the key the nodes share alone.
  const std::string key = readFile(dir + "demo.secret");
  ASSERT_EQ(runProgram({"/bin/sh", script, dir + "demo.secret"}, kRunTimeout).exitCode, 0);
  EXPECT_EQ(readFile(dir + "demo.secret"), key);
  for (const auto& [binary, file] : files) {
    SCOPED_TRACE(file);
    const RunResult r = runProgram({binary, "--check", "--config", dir + file}, kRunTimeout);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    EXPECT_NE(r.out.find(dir + file + ": OK"), std::string::npos) << r.out;
  }
  ::chmod((dir + "demo.secret").c_str(), 0644);
  for (const auto& [binary, file] : files) {
    SCOPED_TRACE(file);
    const RunResult r = runProgram({binary, "--check", "--config", dir + file}, kRunTimeout);
    EXPECT_NE(r.exitCode, 0);
    EXPECT_NE(r.err.find("\"" + dir +
                         "demo.secret\" has mode 0644: a key must be readable by its "
                         "owner only"),
              std::string::npos)
        << r.out << r.err;
  }
}

TEST(Config, MissingConfigOptionPrintsUsage) {
  for (const std::string binary : {QUORATE_DIRECTOR, QUORATE_ARBITER}) {
    SCOPED_TRACE(binary);
    const RunResult r = runProgram({binary}, kRunTimeout);
    EXPECT_FALSE(r.timedOut);
    EXPECT_NE(r.exitCode, 0);
    const std::string all = r.out + r.err;
    EXPECT_NE(all.find("--config is required"), std::string::npos) << all;
    EXPECT_NE(all.find("--help"), std::string::npos) << all;
  }
}

// A state file that cannot be read is never taken for a fresh node: that would reset epochs.
TEST(Config, CorruptStateFileStopsTheDaemonFromStarting) {
  Cluster c("corrupt-state");
  const std::vector<std::string> garbage = {
      std::string("\x00\xff\x13 not a state file\n", 21),
      "quorate-acceptor-state 1\nmax_epoch 12x\nowner 0\n",
  };
  const std::vector<std::pair<std::string, std::string>> daemons = {
      {kAlpha, c.stateDir(kAlpha) + "/acceptor.state"},
      {kArbiter, c.stateDir(kArbiter) + "/" + c.clusterId() + ".state"},
  };
  for (const auto& [node, stateFile] : daemons) {
    for (const auto& bytes : garbage) {
      SCOPED_TRACE(stateFile);
      std::filesystem::create_directories(c.stateDir(node));
      writeFile(stateFile, bytes);
      const std::string binary = node == kArbiter ? QUORATE_ARBITER : QUORATE_DIRECTOR;
      const RunResult r = runProgram({binary, "--config", c.configPath(node)}, kRunTimeout);
      EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
      EXPECT_NE((r.out + r.err).find(stateFile), std::string::npos) << r.out << r.err;
      EXPECT_EQ(readFile(stateFile), bytes) << "the state file was changed";
    }
  }
}

}  // namespace
}  // namespace quorate::proctest
