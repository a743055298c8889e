// When a peer's refusal is worth an error line: the first of each kind at once, then one per
// interval. A refusal repeats at every renewal (a lease the arbiter cannot take, a lease the
// other director does not have yet during a rolling reload), and an error line per renewal
// would bury everything else in the journal.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace quorate::server {

class RefusalLog {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RefusalLog(Clock::duration interval = std::chrono::seconds(30)) : interval_(interval) {}

  // True when a refusal by `peer` with gRPC code `code` for `lease` should be logged at error
  // level at `now`; false for a repeat within the interval (log it at debug). Thread-safe: the
  // transport's callbacks run on gRPC's threads.
  bool shouldLog(const std::string& peer, int code, const std::string& lease,
                 Clock::time_point now);

 private:
  const Clock::duration interval_;
  std::mutex mu_;
  std::map<std::tuple<std::string, int, std::string>, Clock::time_point> last_;
};

}  // namespace quorate::server
