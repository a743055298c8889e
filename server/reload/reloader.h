// Re-reads the director's file and applies what may change: the one path of SIGHUP and of the
// operator API's Reload.
#pragma once

#include <mutex>
#include <string>

#include "common/privileges.h"
#include "quorate/v1/quorate.pb.h"
#include "server/config.h"

namespace quorate::server {
class Daemon;
}

namespace quorate::server::reload {

class Reloader {
 public:
  // `running` was parsed from `runningText`, read from `path`; `kept` is what the director kept
  // of its capabilities (a file whose scripts need more is refused). `daemon` outlives this.
  Reloader(Daemon& daemon, std::string path, DirectorConfig running, std::string runningText,
           privileges::CapMask kept);

  // Re-reads the file, plans (server/reload/plan.h) and applies an accepted plan; one at a time,
  // from any thread but the daemon's loop thread. `via` names who asked, for the log and the
  // event log ("SIGHUP", "operator"). A refused file changes nothing, and the reply says why.
  v1::ReloadReply reload(const std::string& via);

 private:
  Daemon& daemon_;
  const std::string path_;
  const privileges::CapMask kept_;
  std::mutex mu_;
  DirectorConfig running_;   // under mu_: what the last applied file said
  std::string runningText_;  // under mu_
};

}  // namespace quorate::server::reload
