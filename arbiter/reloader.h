// SIGHUP in the arbiter: reads its file again and applies the difference (arbiter/reload.h).
#pragma once

#include <string>

#include "arbiter/arbiter_service.h"
#include "arbiter/config.h"

namespace quorate::arbiter {

class Reloader {
 public:
  // `running`: the configuration `service` was built from; `clock`: the lease clock.
  Reloader(ArbiterConfig running, ArbiterService& service, ArbiterService::Clock clock)
      : running_(std::move(running)), service_(service), clock_(std::move(clock)) {}

  // Reads running().path again. A file that does not parse, a change that needs a restart, or a
  // state or CA file that cannot be read changes nothing; the log names the reasons. Returns
  // whether the new file is now the running one.
  bool reload();

  const ArbiterConfig& running() const { return running_; }

 private:
  ArbiterConfig running_;
  ArbiterService& service_;
  ArbiterService::Clock clock_;
};

}  // namespace quorate::arbiter
