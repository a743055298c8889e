// Link events come from rtnetlink (kernel::LinkWatcher); scripts are spawned without a shell
// and awaited through a pidfd, all on the io_context thread: no extra threads.
#include "server/health.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace quorate::server {
namespace {

namespace asio = boost::asio;

int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

OwnHealth::OwnHealth(const DirectorConfig& config, kernel::Links* links, asio::io_context& io,
                     OnChange onChange)
    : config_(config), links_(links), io_(io), onChange_(std::move(onChange)) {
  for (const auto& t : config_.trackScripts) {
    auto s = std::make_unique<Script>();
    s->cfg = &t;
    s->timer = std::make_unique<asio::steady_timer>(io_);
    scripts_.push_back(std::move(s));
  }
}

OwnHealth::~OwnHealth() { stop(); }

std::vector<std::string> OwnHealth::problems() const {
  std::vector<std::string> out;
  for (const auto& [key, text] : problems_) out.push_back(text);
  return out;
}

void OwnHealth::set(const std::string& key, std::optional<std::string> problem) {
  const bool before = problems_.count(key) > 0;
  const std::string old = before ? problems_[key] : "";
  if (problem) {
    problems_[key] = *problem;
  } else {
    problems_.erase(key);
  }
  if (before != problem.has_value() || (problem && *problem != old)) {
    if (problem) {
      spdlog::warn("health: {}", *problem);
    } else {
      spdlog::info("health: {} fine again", key);
    }
    if (onChange_) onChange_();
  }
}

void OwnHealth::start(std::unique_ptr<kernel::LinkWatcher> watcher) {
  stopped_ = false;
  watcher_ = std::move(watcher);
  if (watcher_) {
    watchFd_ = std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(watcher_->fd()));
    watchLinks();
  }
  checkLinks();
  for (auto& s : scripts_) runScript(*s);
}

void OwnHealth::stop() {
  stopped_ = true;
  if (watchFd_) {
    boost::system::error_code ec;
    watchFd_->close(ec);
    watchFd_.reset();
  }
  for (auto& s : scripts_) {
    s->timer->cancel();
    if (s->pid > 0) {
      ::kill(s->pid, SIGKILL);
      ::waitpid(s->pid, nullptr, 0);
      s->pid = -1;
    }
    if (s->exitFd) {
      boost::system::error_code ec;
      s->exitFd->close(ec);
      s->exitFd.reset();
    }
  }
}

void OwnHealth::checkLinks() {
  for (const auto& name : config_.watchedInterfaces()) {
    const auto link = links_->get(name);
    const std::string key = "interface " + name;
    if (!link) {
      set(key, "interface " + name + ": " + link.status().message());
    } else if (!link->adminUp) {
      set(key, "interface " + name + " is administratively down");
    } else if (!link->running) {
      set(key, "interface " + name + " has no carrier");
    } else {
      set(key, std::nullopt);
    }
  }
}

void OwnHealth::watchLinks() {
  watchFd_->async_wait(asio::posix::stream_descriptor::wait_read,
                       [this](const boost::system::error_code& ec) {
                         if (ec || stopped_) return;
                         if (auto changed = watcher_->drain(); !changed) {
                           spdlog::error("health: link events: {}", changed.status().message());
                         }
                         checkLinks();
                         watchLinks();
                       });
}

void OwnHealth::runScript(Script& s) {
  if (stopped_) return;
  std::vector<char*> argv;
  for (const auto& a : s.cfg->argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  auto again = [this, &s] {
    s.timer->expires_after(s.cfg->interval);
    s.timer->async_wait([this, &s](const boost::system::error_code& ec) {
      if (!ec) runScript(s);
    });
  };
  if (rc != 0) {
    record(s, false, std::string("cannot run ") + argv[0] + ": " + std::strerror(rc));
    return again();
  }
  const int fd = pidfdOpen(pid);
  if (fd < 0) {
    // Without a pidfd we cannot wait asynchronously; give up on this round.
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    record(s, false, std::string("pidfd_open: ") + std::strerror(errno));
    return again();
  }
  s.pid = pid;
  s.timedOut = false;
  s.exitFd = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
  s.exitFd->async_wait(asio::posix::stream_descriptor::wait_read,
                       [this, &s, again](const boost::system::error_code& ec) {
                         if (ec || stopped_) return;
                         onScriptExit(s);
                         again();
                       });
  s.timer->expires_after(s.cfg->timeout);
  s.timer->async_wait([&s](const boost::system::error_code& ec) {
    if (ec || s.pid <= 0) return;
    s.timedOut = true;
    ::kill(s.pid, SIGKILL);  // the pidfd becomes readable; onScriptExit reaps it
  });
}

void OwnHealth::onScriptExit(Script& s) {
  s.timer->cancel();
  int status = 0;
  ::waitpid(s.pid, &status, 0);
  s.pid = -1;
  boost::system::error_code ec;
  s.exitFd->close(ec);
  s.exitFd.reset();
  if (s.timedOut) {
    record(s, false, "timed out after " + std::to_string(s.cfg->timeout.count()) + " ms");
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    record(s, true, "");
  } else if (WIFEXITED(status)) {
    record(s, false, "exit status " + std::to_string(WEXITSTATUS(status)));
  } else {
    record(s, false, "killed by signal " + std::to_string(WTERMSIG(status)));
  }
}

void OwnHealth::record(Script& s, bool passed, const std::string& detail) {
  if (passed) {
    s.failures = 0;
    if (!s.ok && ++s.successes >= s.cfg->rise) s.ok = true;
  } else {
    s.successes = 0;
    if (s.ok && ++s.failures >= s.cfg->fall) s.ok = false;
  }
  const std::string key = "track script " + s.cfg->name;
  if (s.ok) {
    set(key, std::nullopt);
  } else if (!passed) {
    set(key, key + " failing: " + detail);
  }
}

}  // namespace quorate::server
