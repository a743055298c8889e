// Tests of the event log with real files: records, stamps, one line per record, rotation, a full
// queue, write errors (injected, and a real full tmpfs in a private mount namespace) and syncs.
#include "server/events/event_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

extern char** environ;

namespace quorate::server::events {
namespace {

using nlohmann::json;
using testutil::TempDir;

constexpr const char* kTmpfsEnv = "QUORATE_EVENTLOG_TMPFS";

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The file's lines; each must end with a newline (a cut-off last line fails the test).
std::vector<std::string> linesOf(const std::string& path) {
  const std::string text = readAll(path);
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    if (nl == std::string::npos) {
      ADD_FAILURE() << path << " ends in a line without a newline: " << text.substr(start);
      break;
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::vector<json> recordsOf(const std::string& path) {
  std::vector<json> out;
  for (const auto& line : linesOf(path)) {
    try {
      out.push_back(json::parse(line));
    } catch (const json::exception& e) {
      ADD_FAILURE() << path << ": not a JSON line (" << e.what() << "): " << line;
    }
  }
  return out;
}

EventLog::Options options(const TempDir& dir, std::string name = "events.jsonl") {
  EventLog::Options o;
  o.path = dir.file(name);
  o.node = "alpha";
  return o;
}

std::unique_ptr<EventLog> openOrFail(EventLog::Options o) {
  auto log = EventLog::open(std::move(o));
  if (!log) {
    ADD_FAILURE() << log.status().message();
    return nullptr;
  }
  return std::move(log).value();
}

// Captures what the log says at warn and above, to count the lines of one burst of errors.
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)) {
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink_));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::size_t count(spdlog::level::level_enum level) const {
    std::size_t n = 0;
    for (const auto& m : sink_->last_raw()) n += m.level == level ? 1 : 0;
    return n;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(EventLog, RecordsRoundTripWithTimeSeqAndNode) {
  TempDir dir("eventlog");
  const mode_t oldMask = ::umask(077);  // the file is 0640 whatever the umask
  auto log = openOrFail(options(dir));
  ::umask(oldMask);
  ASSERT_TRUE(log);
  log->append({{"event", "became-holder"}, {"lease", "web"}, {"epoch", 7}});
  log->append({{"event", "hook"},
               {"lease", "web"},
               {"exit", 0},
               {"duration_ms", 12.5},
               {"argv", {"/bin/true", "x"}}});
  log->append({{"event", "stopping"}});
  log->flush();
  EXPECT_EQ(log->counters().written, 3u);
  EXPECT_EQ(log->counters().dropped, 0u);
  EXPECT_EQ(log->counters().writeErrors, 0u);

  const auto records = recordsOf(log->path());
  ASSERT_EQ(records.size(), 3u);
  const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i]["seq"], i + 1);
    EXPECT_EQ(records[i]["node"], "alpha");
    ASSERT_TRUE(records[i]["time"].is_string());
    EXPECT_TRUE(std::regex_match(records[i]["time"].get<std::string>(), rfc3339))
        << records[i]["time"];
  }
  EXPECT_EQ(records[0]["event"], "became-holder");
  EXPECT_EQ(records[0]["epoch"], 7);
  EXPECT_EQ(records[1]["argv"], json({"/bin/true", "x"}));
  EXPECT_EQ(records[1]["duration_ms"], 12.5);
  EXPECT_FALSE(records[2].contains("dropped_before"));
  // The stamp comes first, so that tail shows the time at the start of each line.
  EXPECT_EQ(linesOf(log->path())[0].rfind("{\"time\":\"", 0), 0u);

  struct stat st {};
  ASSERT_EQ(::stat(log->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(EventLog, TimeIsUtcWithMilliseconds) {
  using namespace std::chrono;
  const system_clock::time_point t{milliseconds(1796582401123)};  // 2026-12-06T18:40:01.123Z
  EXPECT_EQ(EventLog::formatTime(t), "2026-12-06T18:40:01.123Z");
  EXPECT_EQ(EventLog::formatTime(system_clock::time_point{milliseconds(5)}),
            "1970-01-01T00:00:00.005Z");
}

TEST(EventLog, HostileValuesStayOneLinePerRecord) {
  TempDir dir("eventlog");
  auto log = openOrFail(options(dir));
  ASSERT_TRUE(log);
  const std::string nul("a\0b", 3);
  const std::vector<std::string> hostile = {
      "line1\nline2",       "cr\r\n",    "\"quoted\" \\ back",   nul, "\x1b[31mred",
      "\xff\xfe not utf-8", "tab\there", std::string(5000, '\n')};
  for (const auto& h : hostile) log->append({{"event", "output"}, {"text", h}, {h, "as a key"}});
  log->append("not an object\n");                                     // kept under "record"
  log->append({{"event", "forged"}, {"seq", 999}, {"node", "eve"}});  // the stamp wins
  log->flush();
  EXPECT_EQ(log->counters().written, hostile.size() + 2);
  const auto lines = linesOf(log->path());
  ASSERT_EQ(lines.size(), hostile.size() + 2);
  const auto records = recordsOf(log->path());
  ASSERT_EQ(records.size(), hostile.size() + 2);
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    if (i == 5) {  // invalid UTF-8 is replaced, not thrown
      EXPECT_EQ(records[i]["text"], "\xef\xbf\xbd\xef\xbf\xbd not utf-8");
      continue;
    }
    EXPECT_EQ(records[i]["text"], hostile[i]) << i;
    EXPECT_EQ(records[i][hostile[i]], "as a key") << i;
  }
  EXPECT_EQ(records[hostile.size()]["record"], "not an object\n");
  EXPECT_EQ(records.back()["seq"], hostile.size() + 2);
  EXPECT_EQ(records.back()["node"], "alpha");
}

TEST(EventLog, AppendsToAnExistingFile) {
  TempDir dir("eventlog");
  const std::string path = dir.write("events.jsonl", "{\"seq\":1,\"event\":\"earlier run\"}\n");
  {
    auto log = openOrFail(options(dir));
    ASSERT_TRUE(log);
    log->append({{"event", "started"}});
  }  // the destructor writes what is queued
  const auto records = recordsOf(path);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["event"], "earlier run");
  EXPECT_EQ(records[1]["event"], "started");
}

TEST(EventLog, BadPathsAreClearErrors) {
  TempDir dir("eventlog");
  auto missing = EventLog::open(options(dir, "no/such/dir/events.jsonl"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().err(), ENOENT);
  EXPECT_NE(missing.status().message().find(dir.file("no/such/dir") + " does not exist"),
            std::string::npos)
      << missing.status().message();

  dir.write("plain", "x");
  auto underFile = EventLog::open(options(dir, "plain/events.jsonl"));
  ASSERT_FALSE(underFile);
  EXPECT_NE(underFile.status().message().find(dir.file("plain")), std::string::npos)
      << underFile.status().message();

  std::filesystem::create_directory(dir.file("adir"));
  auto isDir = EventLog::open(options(dir, "adir"));
  ASSERT_FALSE(isDir);
  EXPECT_NE(isDir.status().message().find(dir.file("adir")), std::string::npos);

  auto o = options(dir);
  o.queue = 0;
  EXPECT_FALSE(EventLog::open(o));
  o = options(dir);
  o.path.clear();
  EXPECT_FALSE(EventLog::open(o));

  if (::geteuid() != 0) {  // root writes anywhere; the read-only mount below covers root
    std::filesystem::create_directory(dir.file("ro"));
    ::chmod(dir.file("ro").c_str(), 0500);
    auto ro = EventLog::open(options(dir, "ro/events.jsonl"));
    ASSERT_FALSE(ro);
    EXPECT_NE(ro.status().message().find("not writable"), std::string::npos);
  }
}

// Every file of a rotation set: the current one last.
std::vector<std::string> rotationSet(const std::string& path, int upTo) {
  std::vector<std::string> out;
  for (int i = upTo; i >= 1; --i) out.push_back(path + "." + std::to_string(i));
  out.push_back(path);
  return out;
}

TEST(EventLog, RotationKeepsExactlyKeepFilesAndLosesNothing) {
  TempDir dir("eventlog");
  auto o = options(dir);
  o.maxBytes = 1000;
  o.keep = 3;
  std::atomic<int> dirSyncs{0};
  o.ops.dirSync = [&](int fd) {
    ++dirSyncs;
    return ::fsync(fd);
  };
  std::mutex mu;
  std::map<ino_t, off_t> syncedUpTo;  // per file: its size at its last fdatasync
  o.ops.dataSync = [&](int fd) {
    struct stat st {};
    ::fstat(fd, &st);
    std::lock_guard<std::mutex> lock(mu);
    syncedUpTo[st.st_ino] = st.st_size;
    return ::fdatasync(fd);
  };
  auto log = openOrFail(o);
  ASSERT_TRUE(log);
  constexpr int kRecords = 200;
  for (int i = 0; i < kRecords; ++i) {
    log->append({{"event", "tick"}, {"pad", std::string(60, 'x')}, {"i", i}});
    // Flushing now and then lets the writer rotate while records are still queued behind it.
    if (i % 37 == 0) log->flush();
  }
  log->flush();
  const auto c = log->counters();
  EXPECT_EQ(c.written, static_cast<std::uint64_t>(kRecords));
  EXPECT_EQ(c.writeErrors, 0u);
  EXPECT_GT(c.rotations, 3u);
  EXPECT_EQ(dirSyncs.load(), static_cast<int>(c.rotations));  // one directory sync per rotation

  for (const auto& f : rotationSet(o.path, 3)) {
    struct stat st {};
    ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
    EXPECT_LE(static_cast<std::uint64_t>(st.st_size), o.maxBytes) << f;
    // Every file was synced whole: before its rename, not after on the next file.
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(syncedUpTo[st.st_ino], st.st_size) << f;
  }
  EXPECT_FALSE(std::filesystem::exists(o.path + ".4"));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 4u);

  // Oldest to newest, the kept records are one run of seq with no gap, ending at the last.
  std::vector<std::uint64_t> seqs;
  for (const auto& f : rotationSet(o.path, 3)) {
    for (const auto& r : recordsOf(f)) seqs.push_back(r["seq"].get<std::uint64_t>());
  }
  ASSERT_FALSE(seqs.empty());
  EXPECT_EQ(seqs.back(), static_cast<std::uint64_t>(kRecords));
  for (std::size_t i = 1; i < seqs.size(); ++i) {
    ASSERT_EQ(seqs[i], seqs[i - 1] + 1)
        << "a record is missing or repeated around seq " << seqs[i - 1];
  }
}

TEST(EventLog, KeepZeroStartsAFreshFile) {
  TempDir dir("eventlog");
  auto o = options(dir);
  o.maxBytes = 300;
  o.keep = 0;
  auto log = openOrFail(o);
  ASSERT_TRUE(log);
  for (int i = 0; i < 20; ++i) log->append({{"event", "tick"}, {"pad", std::string(60, 'x')}});
  log->flush();
  EXPECT_GT(log->counters().rotations, 0u);
  EXPECT_FALSE(std::filesystem::exists(o.path + ".1"));
  const auto records = recordsOf(o.path);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back()["seq"], 20);
}

// A write function that parks the writer inside its first write until released.
struct StalledWrite {
  std::promise<void> entered;
  std::promise<void> releaser;  // before `release`, which is made from it
  std::shared_future<void> release;
  std::atomic<bool> first{true};
  StalledWrite() : release(releaser.get_future().share()) {}
  FileOps ops() {
    FileOps o = FileOps::system();
    o.write = [this](int fd, const void* data, std::size_t size) {
      if (first.exchange(false)) {
        entered.set_value();
        release.wait();
      }
      return ::write(fd, data, size);
    };
    return o;
  }
};

TEST(EventLog, AFullQueueDropsCountsAndSaysSo) {
  TempDir dir("eventlog");
  StalledWrite stall;
  auto o = options(dir);
  o.queue = 4;
  o.ops = stall.ops();
  auto log = openOrFail(o);
  ASSERT_TRUE(log);
  log->append({{"event", "first"}});  // seq 1: the writer takes it and stalls in write()
  stall.entered.get_future().wait();
  // The caller goes on while the disk is stuck: append must return (a blocked append would
  // leave this future unready; 60 s only bounds a hang, it is not a timing claim).
  auto appends = std::async(std::launch::async, [&] {
    for (int i = 0; i < 10; ++i) log->append({{"event", "burst"}, {"i", i}});  // seq 2..11
  });
  ASSERT_EQ(appends.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "append blocked behind a stalled write";
  EXPECT_EQ(log->counters().dropped, 6u);  // 4 queued behind the stalled one, 6 refused
  stall.releaser.set_value();
  log->flush();                       // room in the queue again
  log->append({{"event", "after"}});  // seq 12
  log->flush();
  const auto c = log->counters();
  EXPECT_EQ(c.written, 6u);
  EXPECT_EQ(c.dropped, 6u);

  const auto records = recordsOf(o.path);
  ASSERT_EQ(records.size(), 6u);
  std::vector<std::uint64_t> seqs;
  for (const auto& r : records) seqs.push_back(r["seq"]);
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 12}));
  EXPECT_EQ(records.back()["event"], "after");
  EXPECT_EQ(records.back()["dropped_before"], 6);  // explains the gap 5 -> 12
  for (std::size_t i = 0; i + 1 < records.size(); ++i) {
    EXPECT_FALSE(records[i].contains("dropped_before")) << records[i];
  }
}

// write() fails with `err` while `failing` is set; with `partial`, it first writes half the
// line (as a filling disk does) and fails on the rest.
struct FailingWrite {
  std::atomic<bool> failing{false};
  bool partial = false;
  int err = ENOSPC;
  FileOps ops() {
    FileOps o = FileOps::system();
    o.write = [this](int fd, const void* data, std::size_t size) -> ssize_t {
      if (!failing) return ::write(fd, data, size);
      if (partial && size > 1) return ::write(fd, data, size / 2);
      errno = err;
      return -1;
    };
    return o;
  }
};

TEST(EventLog, WriteErrorsAreCountedLoggedOnceAndTheLogRecovers) {
  for (const bool partial : {false, true}) {
    SCOPED_TRACE(partial ? "partial writes" : "failed writes");
    TempDir dir("eventlog");
    CapturedLog captured;
    FailingWrite disk;
    disk.partial = partial;
    auto o = options(dir);
    o.ops = disk.ops();
    auto log = openOrFail(o);
    ASSERT_TRUE(log);
    log->append({{"event", "before"}});  // seq 1
    log->flush();
    disk.failing = true;
    for (int i = 0; i < 5; ++i) log->append({{"event", "lost"}, {"i", i}});  // seq 2..6
    log->flush();
    EXPECT_EQ(log->counters().writeErrors, 5u);
    EXPECT_EQ(log->counters().written, 1u);
    EXPECT_EQ(captured.count(spdlog::level::err), 1u);  // one line for the burst
    disk.failing = false;
    log->append({{"event", "after"}});  // seq 7
    log->flush();
    EXPECT_EQ(log->counters().written, 2u);
    EXPECT_EQ(log->counters().writeErrors, 5u);
    EXPECT_EQ(captured.count(spdlog::level::warn), 1u);  // "writing again"

    // Only whole records in the file: a half-written line was cut off again.
    const auto records = recordsOf(o.path);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0]["seq"], 1);
    EXPECT_EQ(records[1]["seq"], 7);
    EXPECT_EQ(records[1]["failed_before"], 5);
  }
}

// Records the file's size at each fdatasync: what was durable when.
struct SyncRecorder {
  std::mutex mu;
  std::vector<off_t> syncedSizes;
  std::atomic<bool> fails{false};
  FileOps ops(FileOps base = FileOps::system()) {
    base.dataSync = [this](int fd) {
      struct stat st {};
      ::fstat(fd, &st);
      {
        std::lock_guard<std::mutex> lock(mu);
        syncedSizes.push_back(st.st_size);
      }
      if (fails) {
        errno = EIO;
        return -1;
      }
      return ::fdatasync(fd);
    };
    return base;
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return syncedSizes.size();
  }
  off_t last() {
    std::lock_guard<std::mutex> lock(mu);
    return syncedSizes.empty() ? 0 : syncedSizes.back();
  }
};

TEST(EventLog, EveryWrittenRecordWasSyncedAndAFailedSyncIsAnError) {
  TempDir dir("eventlog");
  SyncRecorder syncs;
  auto o = options(dir);
  o.ops = syncs.ops();
  auto log = openOrFail(o);
  ASSERT_TRUE(log);
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 7; ++i) log->append({{"event", "tick"}, {"round", round}});
    log->flush();
    // Whatever was flushed was synced: the file holds nothing beyond the last sync.
    ASSERT_GT(syncs.count(), 0u);
    EXPECT_EQ(static_cast<std::uintmax_t>(syncs.last()), std::filesystem::file_size(o.path));
    EXPECT_EQ(log->counters().written, 7u * (round + 1));
  }
  EXPECT_LE(syncs.count(), 35u);
  syncs.fails = true;
  const auto before = syncs.count();
  log->append({{"event", "unsynced"}});
  log->flush();
  EXPECT_EQ(syncs.count(), before + 1);
  EXPECT_EQ(log->counters().written, 35u);  // not counted: its sync failed
  EXPECT_EQ(log->counters().writeErrors, 1u);
  syncs.fails = false;
  log->append({{"event", "after"}});
  log->flush();
  const auto records = recordsOf(o.path);
  ASSERT_EQ(records.size(), 37u);  // the unsynced one may well be in the file
  EXPECT_EQ(records.back()["failed_before"], 1);
}

TEST(EventLog, RecordsQueuedTogetherShareOneSync) {
  TempDir dir("eventlog");
  StalledWrite stall;
  SyncRecorder syncs;
  auto o = options(dir);
  o.ops = syncs.ops(stall.ops());
  auto log = openOrFail(o);
  ASSERT_TRUE(log);
  log->append({{"event", "first"}});
  stall.entered.get_future().wait();  // the writer is stuck in the first record's write
  for (int i = 0; i < 100; ++i) log->append({{"event", "queued"}, {"i", i}});
  stall.releaser.set_value();
  log->flush();
  EXPECT_EQ(log->counters().written, 101u);
  EXPECT_EQ(syncs.count(), 2u);  // the first record's, then one for the hundred behind it
  EXPECT_EQ(static_cast<std::uintmax_t>(syncs.last()), std::filesystem::file_size(o.path));
}

TEST(EventLog, DestructorWritesWhatIsQueued) {
  TempDir dir("eventlog");
  const auto o = options(dir);
  {
    auto log = openOrFail(o);
    ASSERT_TRUE(log);
    for (int i = 0; i < 100; ++i) log->append({{"event", "tick"}, {"i", i}});
  }
  EXPECT_EQ(recordsOf(o.path).size(), 100u);
}

// Runs this binary's DISABLED_TinyTmpfsChild inside a new mount namespace with a 16 KiB tmpfs (and
// a read-only one) mounted on a fresh directory: a real disk that fills up and empties again.
TEST(EventLog, FullTmpfsIsCountedAndRecovers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mount namespace, tmpfs)";
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/unshare";
  TempDir dir("eventlog-tmpfs");
  const std::string script =
      "mount -t tmpfs -o size=16k,mode=0755 quorate-test \"$1\" && mkdir \"$1/ro\" && "
      "mount -t tmpfs -o ro,size=4k quorate-test-ro \"$1/ro\" && "
      "exec \"$0\" --gtest_also_run_disabled_tests "
      "--gtest_filter=EventLog.DISABLED_TinyTmpfsChild";
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  std::vector<std::string> args = {"/usr/bin/unshare", "-m", "--propagation", "private",
                                   "/bin/sh",          "-c", script,          self,
                                   dir.path()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envStore = {std::string(kTmpfsEnv) + "=" + dir.path()};
  for (char** e = environ; *e != nullptr; ++e) envStore.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : envStore) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data()), 0);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's failures are printed above";
  // The mounts went with the namespace: nothing is left mounted here.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// Not a test of its own (disabled, so neither ctest nor a plain run starts it): the child that
// FullTmpfsIsCountedAndRecovers runs inside its mount namespace.
TEST(EventLog, DISABLED_TinyTmpfsChild) {
  const char* dirEnv = std::getenv(kTmpfsEnv);
  if (dirEnv == nullptr) GTEST_SKIP() << "runs inside FullTmpfsIsCountedAndRecovers";
  const std::string dir = dirEnv;
  // A read-only file system is refused at open, with the path.
  EventLog::Options ro;
  ro.path = dir + "/ro/events.jsonl";
  auto refused = EventLog::open(ro);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().err(), EROFS);
  EXPECT_NE(refused.status().message().find(dir + "/ro"), std::string::npos);

  // Room that comes back later: a filler file of 8 KiB.
  const std::string filler = dir + "/filler";
  {
    std::ofstream f(filler, std::ios::binary);
    f << std::string(8192, 'f');
  }
  EventLog::Options o;
  o.path = dir + "/events.jsonl";
  o.node = "alpha";
  auto opened = EventLog::open(o);
  ASSERT_TRUE(opened) << opened.status().message();
  auto log = std::move(opened).value();
  CapturedLog captured;
  int appended = 0;
  while (log->counters().writeErrors == 0 && appended < 1000) {
    log->append({{"event", "fill"}, {"pad", std::string(300, 'p')}});
    ++appended;
    log->flush();
  }
  ASSERT_GT(log->counters().writeErrors, 0u) << "the tmpfs never filled";
  const auto writtenWhenFull = log->counters().written;
  // As long as the records that filled it: a shorter one could fit the last page's tail.
  for (int i = 0; i < 4; ++i) log->append({{"event", "lost"}, {"pad", std::string(300, 'p')}});
  log->flush();
  EXPECT_EQ(log->counters().written, writtenWhenFull);
  EXPECT_EQ(log->counters().writeErrors, 5u);
  EXPECT_EQ(captured.count(spdlog::level::err), 1u);

  ASSERT_EQ(::unlink(filler.c_str()), 0);  // space returns
  log->append({{"event", "recovered"}});
  log->flush();
  EXPECT_EQ(log->counters().written, writtenWhenFull + 1);
  EXPECT_EQ(log->counters().writeErrors, 5u);

  const auto records = recordsOf(o.path);  // whole lines only, though the disk filled mid-line
  ASSERT_EQ(records.size(), writtenWhenFull + 1);
  EXPECT_EQ(records.back()["event"], "recovered");
  EXPECT_EQ(records.back()["failed_before"], 5);
  EXPECT_EQ(records.back()["seq"], records[records.size() - 2]["seq"].get<int>() + 6);
}

}  // namespace
}  // namespace quorate::server::events
