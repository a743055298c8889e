// Runs external programs (track scripts, MISC_CHECK scripts, notify hooks, fence agents) without a
// shell, asynchronously on an io_context: posix_spawn, a pidfd awaited by Asio, a deadline after
// which the program's process group is SIGKILLed, optional stdin and captured output through
// non-blocking pipes. No threads, no SIGCHLD handler.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace quorate::server {

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
  std::string user;               // run as this user (and its primary group); empty: as we are
  std::vector<std::string> env;   // "KEY=value" added to the director's environment
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quorate::server
