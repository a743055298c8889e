// Runs external programs (track scripts, MISC_CHECK scripts, notify hooks, fence agents) without a
// shell, asynchronously on an io_context: posix_spawn, a pidfd awaited by Asio, a deadline after
// which the program's process group is SIGKILLed, optional stdin and captured output through
// non-blocking pipes, a minimal environment. No threads, no SIGCHLD handler. Also the load-time
// check that a script cannot be changed by anyone but root or the user it runs as.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace quorate::server {

// The whole environment of a program, besides ScriptRun::env: nothing of the director's own
// environment reaches a script (it may hold credentials, proxies or library paths). Programs
// named without a '/' are looked up on this PATH too.
inline constexpr const char* kScriptPath = "/usr/sbin:/usr/bin:/sbin:/bin";
inline constexpr const char* kScriptLang = "C";

// The user scripts run as when the configuration names none, like keepalived's
// keepalived_script: "quorate_script" if that user exists, else "nobody". Running scripts as
// root must be asked for (script_user: root). A director that does not run as root cannot
// switch users: "" (scripts run as the director).
std::string defaultScriptUser();

// Whether `program` (absolute, or looked up on kScriptPath) may run as `user` ("": as the
// director): refused, like keepalived's enable_script_security, when the file or a directory
// above it (the path as written and the file it resolves to) is owned by anyone but root and
// that user, or is writable by group or others (a directory with the sticky bit, like /tmp, may
// be writable by all: only an entry's owner can replace it; group root may write). The error
// names the path and its mode: "directory /srv/hooks is writable by others (mode 0777)". A
// program that does not exist is not refused here (its runs fail, saying so); only the parts of
// its path that exist are checked. Fails too for an unknown user.
Status checkScriptSecurity(const std::string& program, const std::string& user);

// How a run ended.
struct ScriptExit {
  enum class Kind { kExited, kSignalled, kTimedOut, kFailedToStart };
  Kind kind = Kind::kFailedToStart;
  int code = 0;       // exit code, signal number, or (kTimedOut) the timeout in ms
  std::string error;  // kFailedToStart: why ("no such file: /x", "unknown user 'nobody2'")
  // With ScriptRun::captureBytes: the first captureBytes bytes of stdout and stderr (one pipe,
  // interleaved as written). Read up to the main process's exit (what a background child writes
  // later is not waited for); outputTruncated when more came, outputDiscarded counts the rest.
  std::string output;
  bool outputTruncated = false;
  std::size_t outputDiscarded = 0;
  bool ok() const { return kind == Kind::kExited && code == 0; }
  // "exit 0", "exit 3", "killed by signal 9", "timed out after 1000 ms", "not started: ...".
  std::string toString() const;
};

struct ScriptRun {
  std::vector<std::string> argv;  // argv[0] is an absolute path (or found on PATH)
  // Run as this user (and its groups); empty: the runner's default user (setDefaultUser), if
  // any, else as we are.
  std::string user;
  // "KEY=value": the environment besides PATH=kScriptPath and LANG=kScriptLang (an entry here
  // replaces those); nothing else is inherited.
  std::vector<std::string> env;
  std::chrono::milliseconds timeout{5000};
  // Written to the program's stdin through a pipe, then the pipe is closed. Empty: stdin is
  // /dev/null. Written without blocking the io_context; a program that exits or closes stdin
  // without reading it all is not an error (the rest is dropped, no SIGPIPE reaches us).
  std::string input;
  // 0: stdout and stderr are /dev/null. Else both go to one pipe, of which this many bytes are
  // kept in ScriptExit::output; the rest is read and discarded so the program never blocks.
  std::size_t captureBytes = 0;
};

class ScriptRunner {
 public:
  using Done = std::function<void(ScriptExit)>;
  explicit ScriptRunner(boost::asio::io_context& io);
  ~ScriptRunner();  // kills and reaps whatever still runs

  // A running program. Destroying the handle SIGKILLs it (and its process group) and reaps it;
  // `done` is then never called.
  class Handle {
   public:
    virtual ~Handle() = default;
    virtual pid_t pid() const = 0;
  };
  // Starts `run`; `done` is called once, on the io_context's thread, never from inside start()
  // (a program that cannot be started reports kFailedToStart through `done` too). stdin, stdout
  // and stderr are /dev/null unless `run` asks for input or capture. The program leads its own
  // process group. `done` comes at the main process's exit (or its kill at the timeout), never
  // later: a background child still holding the output pipe is not waited for, is not killed,
  // and gets EPIPE if it writes after that (the pipe is closed).
  std::unique_ptr<Handle> start(const ScriptRun& run, Done done);

  // Programs running now (for tests and Status).
  std::size_t running() const;

  // The user a run with no user of its own runs as (the config's script_user); empty: as we
  // are. Call before the first start().
  void setDefaultUser(std::string user);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quorate::server
