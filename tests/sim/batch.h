// Runs a range of seeds of one scenario and sums up what they showed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/simulator.h"

namespace quorate::sim {

struct BatchResult {
  std::uint64_t schedules = 0;
  std::uint64_t violations = 0;
  std::vector<SimResult> failures;  // the first few
  lease::Duration worstTimeToHolder{0};
  std::uint64_t worstTimeToHolderSeed = 0;
  lease::Duration worstQuietGap{0};
  std::uint64_t worstQuietGapSeed = 0;
  std::uint64_t schedulesWithQuietGap = 0;
  SimStats totals;

  // A few lines: counts, the liveness numbers and their seeds.
  std::string summary(const SimConfig& cfg) const;
};

// Seeds [first, first + count); keeps the first `keepFailures` failing results and
// stops early once `stopAfter` schedules have failed (0: never).
BatchResult runSeeds(const SimConfig& cfg, std::uint64_t first, std::uint64_t count,
                     std::size_t keepFailures = 10, std::uint64_t stopAfter = 0);

// What to paste into a shell to replay one seed with a trace.
std::string replayHint(const SimConfig& cfg, std::uint64_t seed);

}  // namespace quorate::sim
