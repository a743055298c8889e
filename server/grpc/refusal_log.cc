// RefusalLog (refusal_log.h): the last error line per peer, code and lease.
#include "server/grpc/refusal_log.h"

namespace quorate::server {

bool RefusalLog::shouldLog(const std::string& peer, int code, const std::string& lease,
                           Clock::time_point now) {
  std::lock_guard lock(mu_);
  // Bounded: three peers at most, a few codes, and the leases a config may have.
  auto [it, added] = last_.try_emplace({peer, code, lease}, now);
  if (added) return true;
  if (now - it->second < interval_) return false;
  it->second = now;
  return true;
}

}  // namespace quorate::server
