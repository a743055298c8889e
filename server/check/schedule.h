// The timing and hysteresis of one check as a steppable state machine: fed each attempt's
// outcome, it says when the next attempt starts and whether the check went up or down. No
// clock, no I/O: the runner (checker.h) owns the timer.
#pragma once

#include <chrono>

#include "server/check/spec.h"

namespace quorate::server::check {

class Schedule {
 public:
  // `alpha`: start down (keepalived's alpha); otherwise start up.
  Schedule(const CheckSpec& spec, bool alpha);

  bool up() const { return up_; }
  // Rounds in a row that passed / failed, and the retry the next attempt is (0: a new round).
  int passes() const { return passes_; }
  int failures() const { return failures_; }
  int retry() const { return retry_; }

  // When the first attempt starts: spread over [0, warmup) by `random` in [0, 1).
  std::chrono::milliseconds firstDelay(double random) const;

  struct Step {
    std::chrono::milliseconds next{0};  // from the end of this attempt to the start of the next
    bool roundEnded = false;            // the attempt ended its round (pass, or last retry)
    bool changed = false;               // up() changed
  };
  Step onOutcome(bool ok);

 private:
  std::chrono::milliseconds interval_, retryDelay_, warmup_;
  int retries_, rise_, fall_;
  bool up_;
  int passes_ = 0, failures_ = 0, retry_ = 0;
};

}  // namespace quorate::server::check
