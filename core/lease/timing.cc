// The timing conditions under which a holder's lease ends before any acceptor's.
#include "lease/timing.h"

#include <cmath>
#include <sstream>

namespace quorate::lease {
namespace {

double ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

Duration minAcceptorLease(Duration holderLease, double rho) {
  const double ns = static_cast<double>(holderLease.count()) * (1 + rho) / (1 - rho);
  return Duration(static_cast<Duration::rep>(std::ceil(ns)));
}

std::optional<std::string> validate(const Timing& t) {
  std::ostringstream why;
  if (!(t.rho >= 0 && t.rho < 0.1)) {
    why << "max drift must be in [0, 100000) ppm, got " << t.rho * 1e6 << " ppm";
    return why.str();
  }
  if (t.holderLease <= Duration::zero() || t.acceptorLease <= Duration::zero() ||
      t.quarantine <= Duration::zero() || t.renewInterval <= Duration::zero()) {
    return std::string("every timer must be positive");
  }
  const double up = 1 + t.rho;
  const double down = 1 - t.rho;
  if (ms(t.holderLease) * up > ms(t.acceptorLease) * down) {
    why << "holder_lease_ms * (1 + rho) must be <= acceptor_lease_ms * (1 - rho): "
        << ms(t.holderLease) << " * " << up << " > " << ms(t.acceptorLease) << " * " << down
        << "; raise acceptor_lease_ms to at least "
        << std::ceil(ms(minAcceptorLease(t.holderLease, t.rho)));
    return why.str();
  }
  if (ms(t.holderLease) * up > ms(t.quarantine) * down) {
    why << "holder_lease_ms * (1 + rho) must be <= quarantine_ms * (1 - rho): " << ms(t.holderLease)
        << " * " << up << " > " << ms(t.quarantine) << " * " << down;
    return why.str();
  }
  if (t.acceptorLease > t.quarantine) {
    why << "acceptor_lease_ms must be <= quarantine_ms (a restarted acceptor must outwait "
           "every lease it granted): "
        << ms(t.acceptorLease) << " > " << ms(t.quarantine);
    return why.str();
  }
  if (2 * t.renewInterval > t.holderLease) {
    why << "renew_interval_ms must be at most half of holder_lease_ms: " << ms(t.renewInterval)
        << " > " << ms(t.holderLease) << " / 2";
    return why.str();
  }
  return std::nullopt;
}

}  // namespace quorate::lease
