// Hostile configuration files given to `quorate-director --check` and `quorate-arbiter --check`
// as child processes: refused quickly, with an error naming the limit, in little memory (the
// child's peak RSS from wait4).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

extern char** environ;

namespace quorate {
namespace {

using namespace std::chrono_literals;

// A generous bound on the peak RSS of a refusal: the code before the limits passed 3 GB on the
// first bomb below.
constexpr long kMaxRssKib = 200 << 10;

struct ChildRun {
  int exitCode = -1;  // -1: killed (by the deadline or a signal)
  long maxRssKib = 0;
  std::string err;
  double seconds = 0;
};

// Runs argv with stderr to a file and waits at most `deadline` (then kills it), with the peak
// RSS from wait4. Without a sanitizer the child's address space is also capped at 2 GiB, so that
// code that does blow up fails here instead of taking the machine's memory.
ChildRun runChild(const std::vector<std::string>& argv, const std::string& errPath,
                  std::chrono::seconds deadline = 60s) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  rlimit old{};
  getrlimit(RLIMIT_AS, &old);
  rlimit capped = old;
  capped.rlim_cur = std::min<rlim_t>(old.rlim_max, rlim_t{2} << 30);
  setrlimit(RLIMIT_AS, &capped);  // inherited by the child; restored below
#endif
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  setrlimit(RLIMIT_AS, &old);
#endif
  posix_spawn_file_actions_destroy(&actions);
  ChildRun run;
  if (spawned != 0) {
    ADD_FAILURE() << "cannot start " << argv[0];
    return run;
  }
  int status = 0;
  rusage usage{};
  for (;;) {
    const pid_t done = wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() - start > deadline) {
      kill(pid, SIGKILL);
      wait4(pid, &status, 0, &usage);
      ADD_FAILURE() << argv[0] << " still ran after " << deadline.count() << " s: killed";
      break;
    }
    usleep(10'000);
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.maxRssKib = usage.ru_maxrss;
  std::ifstream in(errPath);
  std::ostringstream text;
  text << in.rdbuf();
  run.err = text.str();
  return run;
}

constexpr char kHead[] =
    "cluster: demo\n"
    "node: alpha\n"
    "secret: s3cret-s3cret-s3cret\n"
    "listen: 127.0.0.1:7101\n"
    "state_dir: state\n"
    "directors: [{id: alpha, address: 127.0.0.1:7101}, {id: beta, address: 127.0.0.1:7102}]\n"
    "arbiter: {address: 127.0.0.1:7100}\n"
    "fence: none\n"
    "instances: [{name: web, vips: [{address: 198.18.0.10/24, device: lo}]}]\n";

std::string realServer(int i) {
  return "198.18." + std::to_string(1 + i / 250) + "." + std::to_string(1 + i % 250);
}

class ConfigLimits : public ::testing::Test {
 protected:
  ChildRun check(const std::string& binary, const std::string& text) {
    const std::string path = dir.write("bomb.yaml", text);
    ::chmod(path.c_str(), 0600);  // it has an inline key: owner-only, or refused before the limits
    ChildRun r = runChild({binary, "--config", path, "--check"}, dir.file("stderr"));
    std::printf("%s --check on %zu KiB: exit %d, %.2f s, peak RSS %ld KiB\n", binary.c_str(),
                text.size() >> 10, r.exitCode, r.seconds, r.maxRssKib);
    return r;
  }
  testutil::TempDir dir{"quorate-limits"};
};

// The bomb of the issue, in kind: 20,000 real servers written out, each inheriting its virtual
// server's list of 5,000 aliases of one check. About 650 KiB that stand for 10^8 checks.
TEST_F(ConfigLimits, AliasedChecksAreRefusedByTheirCount) {
  std::string text = kHead;
  text +=
      "virtual_servers:\n"
      "  - name: http\n"
      "    address: 198.18.0.10\n"
      "    port: 80\n"
      "    checks: [&c {type: tcp}";
  for (int i = 1; i < 5000; ++i) text += ", *c";
  text += "]\n    real_servers:\n";
  for (int i = 0; i < 20000; ++i) text += "      - {address: " + realServer(i) + "}\n";
  ASSERT_GT(text.size(), 600u << 10);
  const ChildRun r = check(QUORATE_DIRECTOR, text);
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("virtual_servers[0].real_servers[4]: more than 20000 health checks"),
            std::string::npos)
      << r.err;
  EXPECT_LT(r.maxRssKib, kMaxRssKib);
}

// Nested aliases under one real server's notify_up ("billion laughs" where a list of strings is
// taken): each real server's command is converted anew, so the node count stops it.
TEST_F(ConfigLimits, AliasedCommandsAreRefusedByTheNodeCount) {
  std::string text = kHead;
  text +=
      "virtual_servers:\n"
      "  - name: http\n"
      "    address: 198.18.0.10\n"
      "    port: 80\n"
      "    real_servers:\n"
      "      - {address: 198.18.1.1, notify_up: &up [/bin/true, &x x";
  for (int i = 2; i < 99'999; ++i) text += ",*x";
  text += "]}\n";
  for (int i = 1; i < 100; ++i)
    text += "      - {address: " + realServer(i) + ", notify_up: *up}\n";
  const ChildRun r = check(QUORATE_DIRECTOR, text);
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("more than 1000000 YAML nodes to convert"), std::string::npos) << r.err;
  EXPECT_LT(r.maxRssKib, kMaxRssKib);
}

// A file over the size limit is refused before it is parsed (or even read).
TEST_F(ConfigLimits, AFileOverTheSizeLimitIsRefused) {
  std::string text = kHead;
  text += "# " + std::string(4 << 20, 'x') + "\n";
  const ChildRun r = check(QUORATE_DIRECTOR, text);
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("cannot read: larger than 4194304 bytes"), std::string::npos) << r.err;
  EXPECT_LT(r.maxRssKib, kMaxRssKib);
}

// The arbiter's file: more clusters than the limit are refused, naming it.
TEST_F(ConfigLimits, TheArbiterRefusesTooManyClusters) {
  std::string text =
      "listen: 127.0.0.1:7100\n"
      "state_dir: state\n"
      "clusters:\n";
  for (int i = 0; i <= 10'000; ++i) {
    text += "  - {id: c" + std::to_string(i) + ", secret: s3cret-s3cret-s3cret}\n";
  }
  const ChildRun r = check(QUORATE_ARBITER, text);
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("clusters: 10001 clusters, more than the limit of 10000"), std::string::npos)
      << r.err;
  EXPECT_LT(r.maxRssKib, kMaxRssKib);
}

}  // namespace
}  // namespace quorate
