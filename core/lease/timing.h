// Lease timers and the drift conditions that make them safe.
#pragma once

#include <optional>
#include <string>

#include "lease/types.h"

namespace quorate::lease {

struct Timing {
  Duration holderLease = std::chrono::milliseconds(1500);    // how long a holder acts per round
  Duration acceptorLease = std::chrono::milliseconds(1700);  // how long acceptors keep it
  Duration quarantine = std::chrono::milliseconds(1800);     // silence of a restarted acceptor
  Duration renewInterval = std::chrono::milliseconds(500);
  double rho = 0.001;  // maximum clock-rate drift, 1000 ppm
};

// Returns a message naming the broken condition, or nullopt when safe:
//   holderLease * (1 + rho) <= acceptorLease * (1 - rho)
//   holderLease * (1 + rho) <= quarantine * (1 - rho)
//   acceptorLease <= quarantine (a restarted acceptor outwaits every lease it granted)
//   2 * renewInterval <= holderLease (at least two renewal attempts per lease)
std::optional<std::string> validate(const Timing& t);

// The longest acceptor lease that is still safe for `holderLease` under `rho`.
Duration minAcceptorLease(Duration holderLease, double rho);

}  // namespace quorate::lease
