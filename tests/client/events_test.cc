// quoratectl events: the readable rendering, the last N records of a real file, corrupt lines and
// missing files, and the real binary following a log that the real writer rotates under it.
#include "client/events.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "client/commands.h"
#include "server/events/event_log.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace quorate::client {
namespace {

using nlohmann::json;
using testutil::TempDir;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string record(int seq, const std::string& event = "tick") {
  return json{{"time", "2026-12-06T18:40:01.123Z"},
              {"seq", seq},
              {"node", "alpha"},
              {"lease", "web"},
              {"event", event}}
      .dump();
}

struct Outcome {
  int exit = -1;
  std::string out;
  std::string err;
};

Outcome events(const std::string& file, std::uint64_t n, bool asJson = false) {
  EventsOptions o;
  o.file = file;
  o.lines = n;
  o.json = asJson;
  std::ostringstream out;
  std::ostringstream err;
  Outcome r;
  r.exit = runEvents(o, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(FormatEvent, LeadingFieldsThenTheRestInKeyOrder) {
  EXPECT_EQ(formatEvent(R"({"time":"2026-12-06T18:40:01.123Z","seq":4,"node":"alpha",)"
                        R"("lease":"web","event":"became-holder","epoch":7,"previous":"beta",)"
                        R"("ok":true,"ms":12.5,"argv":["/x","y"]})"),
            "2026-12-06T18:40:01.123Z alpha web became-holder argv=[\"/x\",\"y\"] epoch=7 ms=12.5 "
            "ok=true previous=beta seq=4");
  EXPECT_EQ(formatEvent(R"({"event":"started"})"), "- - - started");
  EXPECT_EQ(formatEvent(R"({})"), "- - - -");
}

TEST(FormatEvent, NothingRawReachesTheTerminal) {
  const auto s = formatEvent(
      R"({"event":"hook","output":"line1\nline2 \u001b[31mred\u0000","node":"a b","k=v":"é"})");
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, R"(- "a b" - hook "k=v"="\u00e9" output="line1\nline2 \u001b[31mred\u0000")");
  for (const char c : *s) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20) << *s;
    EXPECT_LT(static_cast<unsigned char>(c), 0x7f) << *s;
  }
}

TEST(FormatEvent, NotAnObjectIsNotARecord) {
  for (const char* bad : {"", "garbage {", "42", "[1,2]", "\"text\"", "{\"a\":1", "null"}) {
    EXPECT_FALSE(formatEvent(bad)) << bad;
  }
}

TEST(Events, TheLastNRecordsInOrder) {
  TempDir dir("events");
  std::string text;
  for (int i = 1; i <= 30; ++i) text += record(i) + "\n";
  const std::string file = dir.write("events.jsonl", text);
  Outcome r = events(file, 20);
  EXPECT_EQ(r.exit, kExitOk) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  auto shown = lines(r.out);
  ASSERT_EQ(shown.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(shown[i], "2026-12-06T18:40:01.123Z alpha web tick seq=" + std::to_string(i + 11));
  }
  r = events(file, 100);
  EXPECT_EQ(lines(r.out).size(), 30u);
  r = events(file, 0);
  EXPECT_TRUE(r.out.empty());
  r = events(file, 3, true);
  EXPECT_EQ(lines(r.out), (std::vector<std::string>{record(28), record(29), record(30)}));
}

TEST(Events, TailOfAFileLargerThanOneReadChunk) {
  TempDir dir("events");
  std::string text;
  for (int i = 1; i <= 5000; ++i) text += record(i, std::string(40, 'e')) + "\n";
  ASSERT_GT(text.size(), 4u * 64 * 1024);
  const std::string file = dir.write("events.jsonl", text);
  const Outcome r = events(file, 1500, true);
  const auto shown = lines(r.out);
  ASSERT_EQ(shown.size(), 1500u);
  for (int i = 0; i < 1500; ++i) EXPECT_EQ(shown[i], record(3501 + i, std::string(40, 'e'))) << i;
}

TEST(Events, ACorruptLineIsReportedAndSkipped) {
  TempDir dir("events");
  const std::string first = record(1) + "\n";
  const std::string file =
      dir.write("events.jsonl", first + "{\"seq\":2,\"event\":\"cut off\n" + record(3) + "\n");
  for (const bool asJson : {false, true}) {
    const Outcome r = events(file, 20, asJson);
    EXPECT_EQ(r.exit, kExitOk);
    EXPECT_EQ(lines(r.out).size(), 2u) << r.out;
    EXPECT_EQ(r.err, "quoratectl: " + file + ": corrupt record at byte " +
                         std::to_string(first.size()) +
                         ", skipped: \"{\\\"seq\\\":2,\\\"event\\\":\\\"cut off\"\n");
  }
}

TEST(Events, AnOverlongLineIsReportedOnceAndSkipped) {
  TempDir dir("events");
  const std::string first = record(1) + "\n";
  const std::string file =
      dir.write("events.jsonl", first + "{" + std::string(5 << 20, 'x') + "\n" + record(3) + "\n");
  const Outcome r = events(file, 20, true);
  EXPECT_EQ(r.exit, kExitOk);
  EXPECT_EQ(lines(r.out), (std::vector<std::string>{record(1), record(3)}));
  EXPECT_EQ(r.err, "quoratectl: " + file + ": corrupt record at byte " +
                       std::to_string(first.size()) +
                       ", skipped: a line longer than 4194304 bytes\n");
}

TEST(Events, AnUnterminatedLastRecordIsShown) {
  TempDir dir("events");
  const std::string file = dir.write("events.jsonl", record(1) + "\n" + record(2));
  const Outcome r = events(file, 20, true);
  EXPECT_EQ(lines(r.out), (std::vector<std::string>{record(1), record(2)}));
}

TEST(Events, MissingOrUnreadableFileIsAClearError) {
  TempDir dir("events");
  Outcome r = events(dir.file("nope.jsonl"), 20);
  EXPECT_EQ(r.exit, kExitFailure);
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(r.err.rfind("quoratectl: " + dir.file("nope.jsonl") + ": No such file or directory", 0),
            0u)
      << r.err;
  r = events(dir.path(), 20);
  EXPECT_EQ(r.exit, kExitFailure);
  EXPECT_EQ(r.err, "quoratectl: " + dir.path() + ": Is a directory\n");
  if (::geteuid() != 0) {  // root reads anything
    const std::string file = dir.write("secret.jsonl", record(1) + "\n");
    ::chmod(file.c_str(), 0);
    r = events(file, 20);
    EXPECT_EQ(r.exit, kExitFailure);
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  }
}

// quoratectl running with its stdout and stderr collected by a thread.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    args.insert(args.begin(), QUORATECTL_PATH);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    int err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe";
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
      ADD_FAILURE() << "posix_spawn " << argv[0];
      pid_ = -1;
    }
    reader_ = std::thread([this, o = out[0], e = err[0]] { collect(o, e); });
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (reader_.joinable()) reader_.join();
  }
  pid_t pid() const { return pid_; }
  std::string out() const {
    std::lock_guard<std::mutex> lock(mu_);
    return out_;
  }
  std::string err() const {
    std::lock_guard<std::mutex> lock(mu_);
    return err_;
  }
  // Waits until stdout holds `text`; the deadline only stops a hang.
  bool waitForOut(const std::string& text, std::chrono::seconds within = std::chrono::seconds(30)) {
    const auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end) {
      if (out().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (reader_.joinable()) reader_.join();
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  void collect(int out, int err) {
    pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
    int open = 2;
    while (open > 0) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buf[4096];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          std::lock_guard<std::mutex> lock(mu_);
          (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open;
        }
      }
    }
  }

  pid_t pid_ = -1;
  mutable std::mutex mu_;
  std::string out_;
  std::string err_;
  std::thread reader_;
};

TEST(EventsBinary, PrintsAndReportsMissingFilesAndCorruptLines) {
  TempDir dir("events");
  const std::string file = dir.write("events.jsonl", record(1) + "\nnot json\n" + record(2) + "\n");
  {
    Child c({"events", "--file", file, "-n", "5"});
    EXPECT_EQ(c.wait(), 0);
    EXPECT_EQ(lines(c.out()),
              (std::vector<std::string>{"2026-12-06T18:40:01.123Z alpha web tick seq=1",
                                        "2026-12-06T18:40:01.123Z alpha web tick seq=2"}));
    EXPECT_NE(c.err().find(file + ": corrupt record at byte"), std::string::npos) << c.err();
  }
  {
    Child c({"events", "--file", dir.file("missing.jsonl")});
    EXPECT_EQ(c.wait(), kExitFailure);
    EXPECT_TRUE(c.out().empty());
    EXPECT_NE(c.err().find(dir.file("missing.jsonl") + ": No such file or directory"),
              std::string::npos)
        << c.err();
  }
  {
    Child c({"events", "-n", "x"});
    EXPECT_EQ(c.wait(), kExitUsage);
  }
}

// The real writer rotates the file under a following quoratectl: every record shows up once, in
// order, old file first; Ctrl-C ends it with 0.
TEST(EventsBinary, FollowsAcrossRotations) {
  TempDir dir("events");
  server::events::EventLog::Options o;
  o.path = dir.file("events.jsonl");
  o.node = "alpha";
  o.maxBytes = 2000;
  o.keep = 2;
  auto opened = server::events::EventLog::open(o);
  ASSERT_TRUE(opened) << opened.status().message();
  auto log = std::move(opened).value();
  log->append({{"event", "before"}, {"lease", "web"}});  // seq 1, shown by -n 1
  log->flush();

  Child c({"events", "--file", o.path, "--follow", "-n", "1", "--json"});
  ASSERT_TRUE(c.waitForOut("\"seq\":1,")) << c.out() << c.err();
  // Batches smaller than a file, each waited for: at most one rotation between two looks.
  int seq = 1;
  for (int batch = 0; batch < 8; ++batch) {
    for (int i = 0; i < 6; ++i) {
      log->append({{"event", "tick"}, {"lease", "web"}, {"pad", std::string(60, 'p')}});
      ++seq;
    }
    log->flush();
    ASSERT_TRUE(c.waitForOut("\"seq\":" + std::to_string(seq) + ","))
        << "batch " << batch << " never shown; out:\n"
        << c.out() << c.err();
  }
  EXPECT_GE(log->counters().rotations, 3u);
  ::kill(c.pid(), SIGINT);
  EXPECT_EQ(c.wait(), 0);
  EXPECT_TRUE(c.err().empty()) << c.err();
  const auto shown = lines(c.out());
  ASSERT_EQ(shown.size(), static_cast<std::size_t>(seq));
  for (int i = 0; i < seq; ++i) EXPECT_EQ(json::parse(shown[i])["seq"], i + 1) << shown[i];
}

TEST(EventsBinary, FollowWithNZeroShowsOnlyNewRecords) {
  TempDir dir("events");
  const std::string file = dir.write("events.jsonl", record(1) + "\n");
  Child c({"events", "--file", file, "-f", "-n", "0"});
  auto append = [&](int seq) {
    std::ofstream f(file, std::ios::app);
    f << record(seq) << "\n" << std::flush;
  };
  // Nothing says when it has started to follow: append until a record shows up.
  int seq = 2;
  for (; seq < 100; ++seq) {
    append(seq);
    if (c.waitForOut("seq=" + std::to_string(seq), std::chrono::seconds(1))) break;
  }
  ASSERT_LT(seq, 100) << c.out() << c.err();
  append(seq + 1);
  ASSERT_TRUE(c.waitForOut("seq=" + std::to_string(seq + 1))) << c.out() << c.err();
  ::kill(c.pid(), SIGINT);
  EXPECT_EQ(c.wait(), 0);
  const auto shown = lines(c.out());
  ASSERT_FALSE(shown.empty());
  EXPECT_EQ(c.out().find("seq=1\n"), std::string::npos) << "the old record was shown";
  // Consecutive records ending with the last one appended, none twice.
  const int first = seq + 2 - static_cast<int>(shown.size());
  EXPECT_GE(first, 2);
  for (std::size_t i = 0; i < shown.size(); ++i) {
    EXPECT_EQ(shown[i], "2026-12-06T18:40:01.123Z alpha web tick seq=" + std::to_string(first + i));
  }
}

}  // namespace
}  // namespace quorate::client
