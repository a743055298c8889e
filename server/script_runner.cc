// Programs run without a shell. Without a user: posix_spawn (vfork-fast; glibc reports exec
// errors as its return value). With a user: fork, then only raw syscalls in the child
// (setgroups/setresgid/setresuid affect the calling thread only, which in the child is the whole
// process), with a close-on-exec pipe that carries the errno of a failed step back. Either way
// the parent learns the outcome of exec before start() returns, awaits the exit through a pidfd,
// and reaps with waitpid. stdin and the captured output are pipes whose parent ends are
// non-blocking and awaited by Asio (wait, then read or write ourselves, so no buffer of a
// cancelled operation outlives its run); writes to stdin hold SIGPIPE back in the writing thread
// only, so the director is safe whatever the process's disposition of SIGPIPE.
#include "server/script_runner.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <optional>
#include <unordered_set>

namespace quorate::server {
namespace {

namespace asio = boost::asio;

int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::string errnoText(int err) { return std::strerror(err); }

// Moves `fd` to a number >= 3 (close-on-exec), so that it survives the child's dup2 onto 0..2.
int aboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

// Owns a file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// A pipe for one of the child's standard streams: `child` is what the child gets (blocking, as
// programs expect), `parent` our non-blocking end; both close-on-exec and above 2.
struct StdPipe {
  UniqueFd child;
  UniqueFd parent;
};

// `childReads`: the child reads (stdin), else it writes (stdout and stderr).
std::optional<StdPipe> makeStdPipe(bool childReads, std::string& error) {
  std::array<int, 2> fds{-1, -1};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    error = "pipe: " + errnoText(errno);
    return std::nullopt;
  }
  UniqueFd readEnd(aboveStdio(fds[0]));
  UniqueFd writeEnd(aboveStdio(fds[1]));
  if (readEnd.get() < 0 || writeEnd.get() < 0) {
    error = "pipe: " + errnoText(errno);
    return std::nullopt;
  }
  StdPipe p;
  p.child = childReads ? std::move(readEnd) : std::move(writeEnd);
  p.parent = childReads ? std::move(writeEnd) : std::move(readEnd);
  const int flags = ::fcntl(p.parent.get(), F_GETFL);
  if (flags < 0 || ::fcntl(p.parent.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    error = "pipe: " + errnoText(errno);
    return std::nullopt;
  }
  return p;
}

// write() that cannot raise SIGPIPE in the director. A pipe's SIGPIPE goes to the writing thread,
// so blocking it in this thread and taking back the one this write raised leaves the rest of the
// process and its signal dispositions untouched.
ssize_t writeWithoutSigpipe(int fd, const char* data, std::size_t size) {
  sigset_t pipeSet;
  ::sigemptyset(&pipeSet);
  ::sigaddset(&pipeSet, SIGPIPE);
  sigset_t old;
  ::pthread_sigmask(SIG_BLOCK, &pipeSet, &old);
  sigset_t pending;
  ::sigemptyset(&pending);
  ::sigpending(&pending);
  const bool alreadyPending = ::sigismember(&pending, SIGPIPE) == 1;
  const ssize_t n = ::write(fd, data, size);
  const int err = errno;
  // Not only after EPIPE: a write that the reader's exit cut short returns its count and
  // raises SIGPIPE all the same.
  ::sigemptyset(&pending);
  ::sigpending(&pending);
  if (!alreadyPending && ::sigismember(&pending, SIGPIPE) == 1) {
    const struct timespec zero {};
    while (::sigtimedwait(&pipeSet, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return n;
}

// Waits for `pid` (which has exited or been SIGKILLed) and returns its wait status, or nullopt
// if it could not be reaped (then nothing is known of how it ended).
std::optional<int> reap(pid_t pid) {
  int status = 0;
  for (;;) {
    if (::waitpid(pid, &status, 0) == pid) return status;
    if (errno != EINTR) return std::nullopt;
  }
}

// The file argv[0] names: as is when it holds a '/', else searched on kScriptPath like
// posix_spawnp/execvp would with the program's own environment. Returns the path, or sets
// `error`.
std::optional<std::string> resolve(const std::string& program, std::string& error) {
  if (program.empty()) {
    error = "empty program name";
    return std::nullopt;
  }
  auto check = [&](const std::string& path) -> int {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return errno;
    if (!S_ISREG(st.st_mode)) return EISDIR;
    if (::access(path.c_str(), X_OK) != 0) return errno;
    return 0;
  };
  auto explain = [&](const std::string& path, int err) {
    if (err == ENOENT || err == ENOTDIR) return "no such file: " + path;
    if (err == EISDIR) return "not a regular file: " + path;
    if (err == EACCES) return "not executable: " + path;
    return "cannot run " + path + ": " + errnoText(err);
  };
  if (program.find('/') != std::string::npos) {
    if (const int err = check(program); err != 0) {
      error = explain(program, err);
      return std::nullopt;
    }
    return program;
  }
  const std::string path = kScriptPath;
  std::optional<std::pair<std::string, int>> firstProblem;  // a candidate that exists but fails
  std::size_t begin = 0;
  while (begin <= path.size()) {
    std::size_t end = path.find(':', begin);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(begin, end - begin);
    begin = end + 1;
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + program;
    const int err = check(candidate);
    if (err == 0) return candidate;
    if (err != ENOENT && err != ENOTDIR && !firstProblem) firstProblem.emplace(candidate, err);
  }
  error = firstProblem ? explain(firstProblem->first, firstProblem->second)
                       : "no such program on PATH: " + program;
  return std::nullopt;
}

// A program's whole environment: PATH and LANG, then `extra` ("KEY=value"), whose entries replace
// those of the same key (the last of duplicates wins). The director's own environment stays out.
std::vector<std::string> scriptEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> all = {std::string("PATH=") + kScriptPath,
                                  std::string("LANG=") + kScriptLang};
  all.insert(all.end(), extra.begin(), extra.end());
  auto key = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> out;
  for (std::size_t i = 0; i < all.size(); ++i) {
    bool later = false;
    for (std::size_t j = i + 1; j < all.size() && !later; ++j) later = key(all[j]) == key(all[i]);
    if (!later) out.push_back(all[i]);
  }
  return out;
}

std::vector<char*> pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Who to run as, looked up before forking (NSS is not async-signal-safe).
struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

std::optional<Credentials> lookUp(const std::string& user, std::string& error) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<std::size_t>(size) : 16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  int rc = 0;
  while ((rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0 || found == nullptr) {
    error = rc != 0 && rc != ENOENT ? "looking up user '" + user + "': " + errnoText(rc)
                                    : "unknown user '" + user + "'";
    return std::nullopt;
  }
  Credentials c;
  c.uid = pw.pw_uid;
  c.gid = pw.pw_gid;
  int n = 32;
  c.groups.resize(static_cast<std::size_t>(n));
  while (::getgrouplist(pw.pw_name, pw.pw_gid, c.groups.data(), &n) < 0) {
    c.groups.resize(static_cast<std::size_t>(n) * 2);
    n = static_cast<int>(c.groups.size());
  }
  c.groups.resize(static_cast<std::size_t>(n));
  return c;
}

// What the child reports through the pipe when a step before exec fails.
enum ChildStep : int { kSetGroups = 1, kSetGid, kSetUid, kExec };

const char* stepName(int step) {
  switch (step) {
    case kSetGroups:
      return "setgroups";
    case kSetGid:
      return "setgid";
    case kSetUid:
      return "setuid";
    default:
      return "exec";
  }
}

[[noreturn]] void childFail(int fd, int step) {
  const std::array<int, 2> msg = {step, errno};
  [[maybe_unused]] const ssize_t n = ::write(fd, msg.data(), sizeof msg);
  ::_exit(127);
}

// In the child of fork(): only async-signal-safe calls from here to exec.
[[noreturn]] void child(const char* path, char* const* argv, char* const* envp, int inFd, int outFd,
                        int errFd, const Credentials* as) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // errors: ignored
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setpgid(0, 0);
  ::dup2(inFd, 0);
  ::dup2(outFd, 1);
  ::dup2(outFd, 2);
  ::syscall(SYS_close_range, 3u, static_cast<unsigned>(errFd - 1), 0u);
  ::syscall(SYS_close_range, static_cast<unsigned>(errFd + 1), ~0u, 0u);
  if (as != nullptr) {
    if (::syscall(SYS_setgroups, as->groups.size(), as->groups.data()) != 0) {
      childFail(errFd, kSetGroups);
    }
    if (::syscall(SYS_setresgid, as->gid, as->gid, as->gid) != 0) childFail(errFd, kSetGid);
    if (::syscall(SYS_setresuid, as->uid, as->uid, as->uid) != 0) childFail(errFd, kSetUid);
  }
  ::execve(path, argv, envp);
  childFail(errFd, kExec);
}

}  // namespace

std::string ScriptExit::toString() const {
  switch (kind) {
    case Kind::kExited:
      return "exit " + std::to_string(code);
    case Kind::kSignalled:
      return "killed by signal " + std::to_string(code);
    case Kind::kTimedOut:
      return "timed out after " + std::to_string(code) + " ms";
    case Kind::kFailedToStart:
      return "not started: " + error;
  }
  return "?";
}

namespace {

struct RunState;

// The runner's state that its runs see.
struct Registry {
  explicit Registry(asio::io_context& context) : io(context) {}
  asio::io_context& io;
  std::unordered_set<RunState*> live;  // started and not yet reaped
};

}  // namespace

struct ScriptRunner::Impl : Registry {
  using Registry::Registry;
  std::string defaultUser;
};

namespace {

// One program. Owned by its handle; the Asio handlers hold weak references, so that a handle
// destroyed while a completion is queued makes that completion a no-op.
struct RunState {
  Registry* owner = nullptr;  // null once the runner is gone
  pid_t pid = -1;             // > 0 while started and not reaped
  std::chrono::milliseconds timeout{0};
  std::optional<asio::posix::stream_descriptor> exitFd;  // the pidfd
  std::optional<asio::steady_timer> deadline;
  bool timedOut = false;
  ScriptRunner::Done done;
  std::optional<asio::posix::stream_descriptor> inputFd;  // stdin's write end, until all written
  std::string input;
  std::size_t inputWritten = 0;
  std::optional<asio::posix::stream_descriptor> outputFd;  // stdout+stderr's read end
  std::size_t captureBytes = 0;
  std::string output;
  std::size_t outputDiscarded = 0;

  void keepOutput(const char* data, std::size_t size) {
    const std::size_t room = captureBytes - std::min(captureBytes, output.size());
    const std::size_t kept = std::min(room, size);
    output.append(data, kept);
    outputDiscarded += size - kept;
  }

  // SIGKILLs the process group and reaps the leader; `done` is not called. Blocks at most as
  // long as the kernel takes to deliver SIGKILL.
  void abandon() {
    done = nullptr;
    if (pid > 0) {
      ::kill(-pid, SIGKILL);
      reap(pid);
      pid = -1;
    }
    exitFd.reset();
    deadline.reset();
    inputFd.reset();
    outputFd.reset();
    if (owner) owner->live.erase(this);
  }

  void finish(ScriptExit exit) {
    auto d = std::move(done);
    done = nullptr;
    if (d) d(std::move(exit));
  }
};

class HandleImpl : public ScriptRunner::Handle {
 public:
  explicit HandleImpl(std::shared_ptr<RunState> state) : state_(std::move(state)) {}
  ~HandleImpl() override { state_->abandon(); }
  pid_t pid() const override { return state_->pid; }

 private:
  std::shared_ptr<RunState> state_;
};

// Writes what the pipe takes of the rest of the input, then awaits room for more; closes stdin
// when all is written or the program no longer reads it (EPIPE: it exited or closed stdin).
void writeInput(const std::shared_ptr<RunState>& s) {
  if (!s->inputFd) return;
  const int fd = s->inputFd->native_handle();
  while (s->inputWritten < s->input.size()) {
    const ssize_t n = writeWithoutSigpipe(fd, s->input.data() + s->inputWritten,
                                          s->input.size() - s->inputWritten);
    if (n > 0) {
      s->inputWritten += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      s->inputFd->async_wait(
          asio::posix::stream_descriptor::wait_write,
          [weak = std::weak_ptr<RunState>(s)](const boost::system::error_code& ec) {
            auto locked = weak.lock();
            if (ec || !locked) return;
            writeInput(locked);
          });
      return;
    }
    break;
  }
  s->inputFd.reset();  // EOF for the program
  std::string().swap(s->input);
}

// Reads at most `limit` bytes of output that are there now. Returns false at EOF or on an error
// (the pipe is then closed), true when the pipe is empty for now.
bool readOutput(RunState& s, std::size_t limit = std::numeric_limits<std::size_t>::max()) {
  std::array<char, 16384> buf;
  while (limit > 0) {
    const ssize_t n = ::read(s.outputFd->native_handle(), buf.data(), std::min(buf.size(), limit));
    if (n > 0) {
      s.keepOutput(buf.data(), static_cast<std::size_t>(n));
      limit -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    s.outputFd.reset();
    return false;
  }
  return true;
}

// Drains the output pipe while the program runs, so that it never blocks on a full pipe.
void awaitOutput(const std::shared_ptr<RunState>& s) {
  s->outputFd->async_wait(asio::posix::stream_descriptor::wait_read,
                          [weak = std::weak_ptr<RunState>(s)](const boost::system::error_code& ec) {
                            auto locked = weak.lock();
                            if (ec || !locked || !locked->outputFd) return;
                            if (readOutput(*locked)) awaitOutput(locked);
                          });
}

// At the main process's exit: what the pipe holds now, and no more. Everything the process
// wrote is in the pipe by now (a write to a pipe completes into its buffer); bounding the read by
// what is there keeps a background child that writes without pause from holding us here.
void collectOutput(RunState& s) {
  if (!s.outputFd) return;
  int pending = 0;
  if (::ioctl(s.outputFd->native_handle(), FIONREAD, &pending) == 0 && pending > 0) {
    readOutput(s, static_cast<std::size_t>(pending));
  }
  s.outputFd.reset();
}

void onExit(const std::shared_ptr<RunState>& s) {
  const pid_t pid = s->pid;
  const std::optional<int> reaped = reap(pid);
  const int reapErr = errno;
  const int status = reaped.value_or(0);
  s->pid = -1;
  if (s->owner) s->owner->live.erase(s.get());
  s->owner = nullptr;
  s->exitFd.reset();  // safe inside its own handler: Asio freed the operation before the upcall
  if (s->deadline) s->deadline->cancel();
  s->inputFd.reset();
  collectOutput(*s);
  ScriptExit exit;
  exit.output = std::move(s->output);
  exit.outputDiscarded = s->outputDiscarded;
  exit.outputTruncated = s->outputDiscarded > 0;
  if (!reaped) {
    // Never a pass by accident: how it ended is unknown.
    exit.kind = ScriptExit::Kind::kFailedToStart;
    exit.error = "lost track of pid " + std::to_string(pid) + ": " + errnoText(reapErr);
  } else if (s->timedOut) {
    exit.kind = ScriptExit::Kind::kTimedOut;
    exit.code = static_cast<int>(s->timeout.count());
  } else if (WIFEXITED(status)) {
    exit.kind = ScriptExit::Kind::kExited;
    exit.code = WEXITSTATUS(status);
  } else {
    exit.kind = ScriptExit::Kind::kSignalled;
    exit.code = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  s->finish(std::move(exit));
}

// Starts the program; returns its pid or sets `error`. The program has exec'd (or failed to)
// when this returns.
pid_t spawnPlain(const std::string& path, char* const* argv, char* const* envp, int inFd, int outFd,
                 std::string& error) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (inFd >= 0) {
    posix_spawn_file_actions_adddup2(&fa, inFd, 0);
  } else {
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  }
  if (outFd >= 0) {
    posix_spawn_file_actions_adddup2(&fa, outFd, 1);
    posix_spawn_file_actions_adddup2(&fa, outFd, 2);
  } else {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t set;
  ::sigemptyset(&set);
  posix_spawnattr_setsigmask(&attr, &set);
  ::sigfillset(&set);
  posix_spawnattr_setsigdefault(&attr, &set);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, path.c_str(), &fa, &attr, argv, envp);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    error = "cannot run " + path + ": " + errnoText(rc);
    return -1;
  }
  return pid;
}

// `inFd`, `outFd`: the child's stdin and stdout+stderr; -1 for /dev/null.
pid_t spawnAs(const std::string& path, char* const* argv, char* const* envp, int inFd, int outFd,
              const Credentials* as, const std::string& user, std::string& error) {
  const int nullFd = aboveStdio(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (nullFd < 0) {
    error = "open /dev/null: " + errnoText(errno);
    return -1;
  }
  std::array<int, 2> pipeFds{-1, -1};
  if (::pipe2(pipeFds.data(), O_CLOEXEC) != 0) {
    error = "pipe: " + errnoText(errno);
    ::close(nullFd);
    return -1;
  }
  const int readFd = aboveStdio(pipeFds[0]);
  const int writeFd = aboveStdio(pipeFds[1]);
  // No signal handler of ours may run in the child before it resets them.
  sigset_t all;
  sigset_t old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  // _Fork: no atfork handlers (OpenSSL's, gRPC's) run in the child, which stays
  // async-signal-safe up to exec.
  const pid_t pid = ::_Fork();
  if (pid == 0) {
    child(path.c_str(), argv, envp, inFd >= 0 ? inFd : nullFd, outFd >= 0 ? outFd : nullFd, writeFd,
          as);
  }
  const int forkErr = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(writeFd);
  ::close(nullFd);
  if (pid < 0) {
    ::close(readFd);
    error = "fork: " + errnoText(forkErr);
    return -1;
  }
  std::array<int, 2> msg{0, 0};
  ssize_t n;
  while ((n = ::read(readFd, msg.data(), sizeof msg)) < 0 && errno == EINTR) {
  }
  ::close(readFd);
  if (n == 0) return pid;  // exec closed the pipe
  reap(pid);
  if (n == static_cast<ssize_t>(sizeof msg) && msg[0] == kExec) {
    error = "cannot run " + path + ": " + errnoText(msg[1]);
  } else if (n == static_cast<ssize_t>(sizeof msg)) {
    error =
        "cannot run " + path + " as " + user + ": " + stepName(msg[0]) + ": " + errnoText(msg[1]);
  } else {
    error = "cannot run " + path + ": the child failed before exec";
  }
  return -1;
}

}  // namespace

ScriptRunner::ScriptRunner(asio::io_context& io) : impl_(std::make_unique<Impl>(io)) {}

ScriptRunner::~ScriptRunner() {
  for (RunState* s : impl_->live) {
    s->owner = nullptr;  // abandon() must not touch `live` while we iterate it
    s->abandon();
  }
  impl_->live.clear();
}

std::size_t ScriptRunner::running() const { return impl_->live.size(); }

void ScriptRunner::setDefaultUser(std::string user) { impl_->defaultUser = std::move(user); }

std::unique_ptr<ScriptRunner::Handle> ScriptRunner::start(const ScriptRun& run, Done done) {
  auto state = std::make_shared<RunState>();
  state->timeout = run.timeout;
  state->done = std::move(done);
  auto handle = std::make_unique<HandleImpl>(state);
  auto fail = [&](std::string why) -> std::unique_ptr<Handle> {
    spdlog::debug("script: {}: {}", run.argv.empty() ? "" : run.argv[0], why);
    asio::post(impl_->io, [weak = std::weak_ptr<RunState>(state), why = std::move(why)] {
      if (auto s = weak.lock()) {
        ScriptExit exit;
        exit.kind = ScriptExit::Kind::kFailedToStart;
        exit.error = why;
        s->finish(std::move(exit));
      }
    });
    return std::move(handle);
  };

  if (run.argv.empty()) return fail("empty command");
  std::string error;
  std::optional<Credentials> as;
  const std::string& user = run.user.empty() ? impl_->defaultUser : run.user;
  if (!user.empty()) {
    as = lookUp(user, error);
    if (!as) return fail(error);
    // Already that user: no privilege needed, and none is dropped.
    if (as->uid == ::geteuid() && as->gid == ::getegid()) as.reset();
  }
  const auto path = resolve(run.argv[0], error);
  if (!path) return fail(error);
  const auto argv = pointers(run.argv);
  const auto envStrings = scriptEnvironment(run.env);
  const auto envp = pointers(envStrings);

  std::optional<StdPipe> in;
  std::optional<StdPipe> out;
  if (!run.input.empty() && !(in = makeStdPipe(true, error))) return fail(error);
  if (run.captureBytes > 0 && !(out = makeStdPipe(false, error))) return fail(error);
  const int inFd = in ? in->child.get() : -1;
  const int outFd = out ? out->child.get() : -1;
  const pid_t pid = as ? spawnAs(*path, argv.data(), envp.data(), inFd, outFd, &*as, user, error)
                       : spawnPlain(*path, argv.data(), envp.data(), inFd, outFd, error);
  if (pid < 0) return fail(error);
  // Only the program holds these now: its exit is the pipes' EOF and EPIPE.
  if (in) in->child.reset();
  if (out) out->child.reset();
  const int fd = pidfdOpen(pid);
  if (fd < 0) {
    const int err = errno;
    ::kill(-pid, SIGKILL);
    reap(pid);
    return fail("pidfd_open: " + errnoText(err));
  }
  state->pid = pid;
  state->exitFd.emplace(impl_->io, fd);
  if (in) {
    state->input = run.input;
    state->inputFd.emplace(impl_->io, in->parent.release());
  }
  if (out) {
    state->captureBytes = run.captureBytes;
    state->outputFd.emplace(impl_->io, out->parent.release());
  }
  impl_->live.insert(state.get());
  state->owner = impl_.get();  // only while in `live`
  std::weak_ptr<RunState> weak = state;
  state->exitFd->async_wait(asio::posix::stream_descriptor::wait_read,
                            [weak](const boost::system::error_code& ec) {
                              auto s = weak.lock();
                              if (ec || !s || s->pid <= 0) return;
                              onExit(s);
                            });
  if (state->inputFd) writeInput(state);
  if (state->outputFd) awaitOutput(state);
  if (run.timeout.count() > 0) {
    state->deadline.emplace(impl_->io, run.timeout);
    state->deadline->async_wait([weak](const boost::system::error_code& ec) {
      auto s = weak.lock();
      if (ec || !s || s->pid <= 0) return;
      // Ended on its own just now: let the pidfd's handler report how.
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(s->pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid != 0) {
        return;
      }
      s->timedOut = true;
      ::kill(-s->pid, SIGKILL);  // the pidfd becomes readable; onExit reaps
    });
  }
  return handle;
}

std::string defaultScriptUser() {
  if (::geteuid() != 0) return "";
  std::string ignored;
  return lookUp("quorate_script", ignored) ? "quorate_script" : "nobody";
}

namespace {

std::string octalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string ownerName(uid_t uid) {
  const long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    return std::string(found->pw_name) + " (uid " + std::to_string(uid) + ")";
  }
  return "uid " + std::to_string(uid);
}

// One part of a script's path: who may change it. `last`: the file itself (a sticky bit does
// not make a writable file safe).
std::optional<std::string> unsafePart(const std::string& path, const struct stat& st, bool last,
                                      uid_t runUid) {
  const char* what = S_ISDIR(st.st_mode) ? "directory " : "file ";
  const std::string mode = " (mode " + octalMode(st.st_mode) + ")";
  if (st.st_uid != 0 && st.st_uid != runUid) {
    return what + path + " is owned by " + ownerName(st.st_uid) + mode;
  }
  const bool sticky = !last && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) != 0;
  if ((st.st_mode & S_IWOTH) != 0 && !sticky) return what + path + " is writable by others" + mode;
  if ((st.st_mode & S_IWGRP) != 0 && st.st_gid != 0 && !sticky) {
    return what + path + " is writable by group " + std::to_string(st.st_gid) + mode;
  }
  return std::nullopt;
}

// Checks every existing part of `path` ("/", "/a", "/a/b", ...). `follow`: stat (the path is
// canonical, no links in it) or lstat (a link's own mode means nothing: what it points to is
// checked through the canonical path).
std::optional<std::string> unsafePath(const std::string& path, bool follow, uid_t runUid) {
  std::vector<std::string> parts = {"/"};
  for (std::size_t pos = 1; pos <= path.size();) {
    std::size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    if (end > pos) parts.push_back(path.substr(0, end));
    pos = end + 1;
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    struct stat st {};
    const int rc = follow ? ::stat(parts[i].c_str(), &st) : ::lstat(parts[i].c_str(), &st);
    if (rc != 0 && (errno == ENOENT || errno == ENOTDIR)) {
      return std::nullopt;  // the rest does not exist: only the parts above it could add it
    }
    if (rc != 0) return "cannot check " + parts[i] + ": " + errnoText(errno);
    if (S_ISLNK(st.st_mode)) continue;
    if (auto why = unsafePart(parts[i], st, i + 1 == parts.size(), runUid)) return why;
  }
  return std::nullopt;
}

}  // namespace

Status checkScriptSecurity(const std::string& program, const std::string& user) {
  std::string error;
  uid_t runUid = ::geteuid();
  if (!user.empty()) {
    const auto as = lookUp(user, error);
    if (!as) return Status::fail(ENOENT, error);
    runUid = as->uid;
  }
  std::string path = program;
  if (program.find('/') == std::string::npos) {
    const auto found = resolve(program, error);
    if (!found) return Status::ok();  // not there: its runs say so
    path = *found;
  }
  const std::string as = user.empty() ? "" : " (runs as " + user + ")";
  if (auto why = unsafePath(path, false, runUid)) {
    return Status::fail(EPERM, "script " + program + as + " refused: " + *why +
                                   "; only root or the script's user may change a script");
  }
  char real[PATH_MAX];
  if (::realpath(path.c_str(), real) != nullptr && path != real) {
    if (auto why = unsafePath(real, true, runUid)) {
      return Status::fail(EPERM, "script " + program + as + " refused: it resolves to " + real +
                                     ", and " + *why +
                                     "; only root or the script's user may change a script");
    }
  }
  return Status::ok();
}

}  // namespace quorate::server
