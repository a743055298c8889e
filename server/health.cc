// Link events come from rtnetlink (kernel::LinkWatcher); scripts run through ScriptRunner
// (spawned without a shell, awaited through a pidfd), all on the io_context thread: no extra
// threads.
#include "server/health.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace quorate::server {

namespace asio = boost::asio;

namespace {

// A track script's timing as a check's: run every `interval`, no retries, its rise and fall.
check::CheckSpec scheduleOf(const TrackScript& t) {
  check::CheckSpec spec;
  spec.interval = t.interval;
  spec.timeout = t.timeout;
  spec.retries = 0;
  spec.rise = t.rise;
  spec.fall = t.fall;
  return spec;
}

// A track file's first bytes as a number; a missing or unreadable file is a failed reading.
TrackFileReading readTrackFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return {std::nullopt, std::strerror(errno)};
  char buf[64];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  const int err = errno;
  ::close(fd);
  if (n < 0) return {std::nullopt, std::strerror(err)};
  if (n == sizeof buf) return {std::nullopt, "more than 63 bytes, expected a whole number"};
  return parseTrackFile(std::string(buf, static_cast<std::size_t>(n)));
}

}  // namespace

OwnHealth::OwnHealth(const DirectorConfig& config, kernel::Links* links, asio::io_context& io,
                     OnChange onChange)
    : config_(config),
      links_(links),
      io_(io),
      onChange_(std::move(onChange)),
      runner_(io),
      fileTimer_(std::make_unique<asio::steady_timer>(io)) {
  for (const auto& t : config_.trackScripts) scripts_.push_back(newScript(t));
}

std::shared_ptr<OwnHealth::Script> OwnHealth::newScript(const TrackScript& t) {
  return std::make_shared<Script>(Script{
      t, check::Schedule(scheduleOf(t), false), {}, std::make_unique<asio::steady_timer>(io_)});
}

void OwnHealth::reloadScripts(const std::vector<TrackScript>& scripts) {
  auto same = [](const TrackScript& a, const TrackScript& b) {
    return a.name == b.name && a.argv == b.argv && a.interval == b.interval &&
           a.timeout == b.timeout && a.fall == b.fall && a.rise == b.rise;
  };
  std::vector<std::shared_ptr<Script>> kept;
  std::vector<std::shared_ptr<Script>> fresh;
  for (const auto& t : scripts) {
    const auto it = std::find_if(scripts_.begin(), scripts_.end(),
                                 [&](const auto& s) { return s && same(s->cfg, t); });
    if (it != scripts_.end()) {
      kept.push_back(std::move(*it));
    } else {
      kept.push_back(newScript(t));
      fresh.push_back(kept.back());
    }
  }
  // What is left ran a removed or changed script: destroying it kills its run and cancels its
  // timer. A handler already queued still runs (cancelling cannot unqueue it, and it sees
  // success): it holds only a weak reference, finds the script gone and touches nothing.
  for (auto& s : scripts_) {
    if (!s) continue;
    const std::string name = s->cfg.name;
    s.reset();
    const bool stillNamed = std::any_of(scripts.begin(), scripts.end(),
                                        [&](const TrackScript& t) { return t.name == name; });
    if (!stillNamed) set("track script " + name, std::nullopt);
  }
  scripts_ = std::move(kept);
  for (const auto& s : fresh) {
    set("track script " + s->cfg.name, std::nullopt);  // a changed script starts passing
    runScript(s);
  }
}

OwnHealth::~OwnHealth() { stop(); }

std::vector<std::string> OwnHealth::problems() const {
  // Asked after every lease step: the usual case, nothing failing, costs nothing.
  if (states_.problems.empty()) return {};
  std::set<std::string> global;
  for (const auto& name : config_.watchedInterfaces()) global.insert(interfaceKey(name));
  for (const auto& name : globalScripts(config_)) global.insert(scriptKey(name));
  std::vector<std::string> out;
  for (const auto& [key, text] : states_.problems) {
    if (global.count(key)) out.push_back(text);
  }
  return out;
}

LeaseVerdict OwnHealth::leaseVerdict(const std::string& name) const {
  // Asked for every lease after every lease step: with no item failing and every track file
  // reading 0 no lease can have a problem, whatever it tracks.
  const bool filesAllZero =
      std::all_of(states_.files.begin(), states_.files.end(),
                  [](const auto& f) { return f.second.value && *f.second.value == 0; });
  if (states_.problems.empty() && filesAllZero) return {};
  // The latest slot of that name: a lease removed by a reload keeps its slot, and one added
  // again under its name takes a new one.
  for (auto it = config_.leases.rbegin(); it != config_.leases.rend(); ++it) {
    if (it->name == name) return judgeLease(it->track, states_);
  }
  return {};
}

void OwnHealth::readFiles() {
  if (stopped_) return;
  if (pollFiles() && onChange_) onChange_();
  fileTimer_->expires_after(kFilePoll);
  fileTimer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) readFiles();
  });
}

void OwnHealth::reloadFiles() {
  if (!stopped_ && pollFiles() && onChange_) onChange_();
}

bool OwnHealth::pollFiles() {
  std::set<std::string> paths;
  for (const auto& l : config_.leases) {
    for (const auto& f : l.track.files) paths.insert(f.name);
  }
  bool changed = false;
  for (const auto& path : paths) {
    TrackFileReading r = readTrackFile(path);
    const auto it = states_.files.find(path);
    if (it != states_.files.end() && it->second == r) continue;
    if (r.value) {
      spdlog::info("health: track file {} holds {}", path, *r.value);
    } else {
      spdlog::warn("health: track file {}: {}", path, r.error);
    }
    states_.files[path] = std::move(r);
    changed = true;
  }
  // A file no lease tracks any more (a reload) is forgotten.
  for (auto it = states_.files.begin(); it != states_.files.end();) {
    it = paths.count(it->first) ? std::next(it) : states_.files.erase(it);
  }
  return changed;
}

void OwnHealth::set(const std::string& key, std::optional<std::string> problem) {
  auto& problems = states_.problems;
  const bool before = problems.count(key) > 0;
  const std::string old = before ? problems[key] : "";
  if (problem) {
    problems[key] = *problem;
  } else {
    problems.erase(key);
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
  for (auto& s : scripts_) runScript(s);
  readFiles();
}

void OwnHealth::stop() {
  stopped_ = true;
  fileTimer_->cancel();
  if (watchFd_) {
    boost::system::error_code ec;
    watchFd_->close(ec);
    watchFd_.reset();
  }
  for (auto& s : scripts_) {
    s->timer->cancel();
    s->run.reset();  // kills and reaps a check in flight
  }
}

void OwnHealth::checkLinks() {
  for (const auto& name : config_.linkWatchList()) {
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

void OwnHealth::runScript(const std::shared_ptr<Script>& s) {
  if (stopped_) return;
  ScriptRun run;
  run.argv = s->cfg.argv;
  run.timeout = s->cfg.timeout;
  s->run = runner_.start(run, [this, weak = std::weak_ptr<Script>(s)](ScriptExit exit) {
    if (const auto script = weak.lock()) onScriptExit(script, exit);
  });
}

void OwnHealth::onScriptExit(const std::shared_ptr<Script>& s, const ScriptExit& exit) {
  if (stopped_) return;
  record(*s, exit.ok(), exit.toString());
  // The next run starts `interval` after this one ended. `s->run` stays until then: destroying
  // a handle from inside its own callback is allowed but needless.
  s->timer->expires_after(s->cfg.interval);
  s->timer->async_wait(
      [this, weak = std::weak_ptr<Script>(s)](const boost::system::error_code& ec) {
        const auto script = weak.lock();
        if (!ec && script) runScript(script);
      });
}

void OwnHealth::record(Script& s, bool passed, const std::string& detail) {
  s.schedule.onOutcome(passed);  // retries 0: the next run is `interval` away, as below
  const std::string key = "track script " + s.cfg.name;
  if (s.schedule.up()) {
    set(key, std::nullopt);
  } else if (!passed) {
    set(key, key + " failing: " + detail);
  }
}

}  // namespace quorate::server
