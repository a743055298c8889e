// The director's own health, as keepalived's track_interface, track_script and track_file judge
// it: every tracked interface up with carrier, every tracked script passing (with fall/rise
// hysteresis), every track file's value. Runs on the director's io_context; reports each change.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/check/schedule.h"
#include "server/config.h"
#include "server/kernel/links.h"
#include "server/script_runner.h"
#include "server/track_set.h"

namespace quorate::server {

class OwnHealth {
 public:
  // Called on the io_context thread whenever healthy() or problems() change.
  using OnChange = std::function<void()>;

  OwnHealth(const DirectorConfig& config, kernel::Links* links, boost::asio::io_context& io,
            OnChange onChange);
  ~OwnHealth();

  // Reads the tracked interfaces once, subscribes to link changes and starts the scripts.
  // `watcher` may be null when no interface is tracked. Call on the io_context thread.
  void start(std::unique_ptr<kernel::LinkWatcher> watcher);
  // Stops watching and kills running scripts. Idempotent.
  void stop();

  // The director-wide verdict: the global track_interfaces, every VIP's device and the track
  // scripts no lease names (they gate every lease).
  bool healthy() const { return problems().empty(); }
  // One line per global problem, e.g. "interface eth0 is down", "track script gw failed".
  std::vector<std::string> problems() const;
  // Lease `name`'s own tracking (track_interfaces, track_scripts, track_files of its instances
  // or sync group), on top of the above; empty for a lease the configuration does not have.
  LeaseVerdict leaseVerdict(const std::string& name) const;
  // How often the track files are read again.
  static constexpr std::chrono::milliseconds kFilePoll{500};

  // A reload: `scripts` from now on. A script of the same name and settings keeps its state and
  // its timing; a new or changed one starts afresh (passing); a removed one is killed and its
  // problem cleared. Call on the io_context thread.
  void reloadScripts(const std::vector<TrackScript>& scripts);
  // A reload changed what the leases track: their track files are read now, so that no lease
  // is judged fine on a file not read yet. Call on the io_context thread.
  void reloadFiles();

  struct Script {
    TrackScript cfg;  // a copy: the daemon's configuration may change under a reload
    // The rise/fall hysteresis, the real servers' checks' (retries 0): up() is the verdict.
    // Scripts start as passing.
    check::Schedule schedule;
    // The run in flight (or the last one, until the next starts); destroying it kills it.
    std::unique_ptr<ScriptRunner::Handle> run;
    // Until the next run.
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

 private:
  std::shared_ptr<Script> newScript(const TrackScript& t);
  void checkLinks();
  void watchLinks();
  // Callbacks hold the script weakly: a reload may destroy it while one is queued.
  void runScript(const std::shared_ptr<Script>& s);
  void onScriptExit(const std::shared_ptr<Script>& s, const ScriptExit& exit);
  void record(Script& s, bool passed, const std::string& detail);
  void set(const std::string& key, std::optional<std::string> problem);
  void readFiles();  // every lease's track files, now and then every kFilePoll
  bool pollFiles();  // every lease's track files once: whether a reading changed

  const DirectorConfig& config_;
  kernel::Links* links_;
  boost::asio::io_context& io_;
  OnChange onChange_;
  std::unique_ptr<kernel::LinkWatcher> watcher_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> watchFd_;
  ScriptRunner runner_;  // declared before scripts_: outlives their handles
  std::vector<std::shared_ptr<Script>> scripts_;
  TrackStates states_;  // every tracked item's state, global or a lease's
  std::unique_ptr<boost::asio::steady_timer> fileTimer_;
  bool stopped_ = false;
};

}  // namespace quorate::server
