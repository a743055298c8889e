#include "server/check/schedule.h"

#include <algorithm>

namespace quorate::server::check {

Schedule::Schedule(const CheckSpec& spec, bool alpha)
    : interval_(spec.interval),
      retryDelay_(spec.retryDelay),
      warmup_(spec.warmup),
      retries_(spec.retries),
      rise_(std::max(1, spec.rise)),
      fall_(std::max(1, spec.fall)),
      up_(!alpha) {}

std::chrono::milliseconds Schedule::firstDelay(double random) const {
  const double r = std::clamp(random, 0.0, 1.0);
  const auto d = std::chrono::milliseconds(static_cast<std::int64_t>(r * warmup_.count()));
  return std::min(d,
                  std::max(warmup_ - std::chrono::milliseconds(1), std::chrono::milliseconds(0)));
}

Schedule::Step Schedule::onOutcome(bool ok) {
  Step step;
  if (!ok && up_ && retry_ < retries_) {
    ++retry_;
    step.next = retryDelay_;
    return step;
  }
  step.roundEnded = true;
  step.next = interval_;
  retry_ = 0;
  if (ok) {
    failures_ = 0;
    ++passes_;
    if (!up_ && passes_ >= rise_) up_ = step.changed = true;
  } else {
    passes_ = 0;
    ++failures_;
    if (up_ && failures_ >= fall_) {
      up_ = false;
      step.changed = true;
    }
  }
  return step;
}

}  // namespace quorate::server::check
