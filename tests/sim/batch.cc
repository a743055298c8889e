// Runs a range of seeds of one scenario and sums up what they showed.
#include "sim/batch.h"

#include <sstream>

namespace quorate::sim {

BatchResult runSeeds(const SimConfig& cfg, std::uint64_t first, std::uint64_t count,
                     std::size_t keepFailures, std::uint64_t stopAfter) {
  BatchResult b;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    const SimResult r = runSchedule(cfg, seed);
    ++b.schedules;
    b.totals.events += r.stats.events;
    b.totals.messagesSent += r.stats.messagesSent;
    b.totals.messagesLost += r.stats.messagesLost;
    b.totals.crashes += r.stats.crashes;
    b.totals.pauses += r.stats.pauses;
    b.totals.stepDowns += r.stats.stepDowns;
    b.totals.healthFlips += r.stats.healthFlips;
    b.totals.tenures += r.stats.tenures;
    b.totals.persistFailures += r.stats.persistFailures;
    b.totals.arbiterRollbacks += r.stats.arbiterRollbacks;
    b.totals.diskLosses += r.stats.diskLosses;
    b.totals.timerChanges += r.stats.timerChanges;
    b.totals.clockFaults += r.stats.clockFaults;
    b.totals.clones += r.stats.clones;
    b.totals.announces += r.stats.announces;
    b.totals.insiderMessages += r.stats.insiderMessages;
    b.totals.insiderAtEdge += r.stats.insiderAtEdge;
    b.totals.halts += r.stats.halts;
    if (r.timeToHolder && *r.timeToHolder > b.worstTimeToHolder) {
      b.worstTimeToHolder = *r.timeToHolder;
      b.worstTimeToHolderSeed = seed;
    }
    if (r.maxQuietGap > lease::Duration::zero()) ++b.schedulesWithQuietGap;
    if (r.maxQuietGap > b.worstQuietGap) {
      b.worstQuietGap = r.maxQuietGap;
      b.worstQuietGapSeed = seed;
    }
    if (!r.ok()) {
      ++b.violations;
      if (b.failures.size() < keepFailures) b.failures.push_back(r);
      if (stopAfter > 0 && b.violations >= stopAfter) break;
    }
  }
  return b;
}

std::string BatchResult::summary(const SimConfig& cfg) const {
  std::ostringstream s;
  s << "scenario " << cfg.name << ": " << schedules << " schedules, " << violations
    << " violations, " << totals.tenures << " tenures, " << totals.crashes << " crashes, "
    << totals.pauses << " pauses, " << totals.stepDowns << " step-downs, " << totals.healthFlips
    << " health flips, " << totals.events << " events\n"
    << "  boundary: " << totals.persistFailures << " failed persists (" << totals.arbiterRollbacks
    << " rolled back by the real arbiter), " << totals.diskLosses << " lost disks, "
    << totals.timerChanges << " timer changes, " << totals.clockFaults << " clock faults, "
    << totals.clones << " clones, " << totals.announces << " announces, " << totals.insiderMessages
    << " insider messages (" << totals.insiderAtEdge << " refused at the wire), " << totals.halts
    << " halts\n"
    << "  liveness: worst time to a holder after the quiet start "
    << formatDuration(worstTimeToHolder) << " (seed " << worstTimeToHolderSeed << "), bound "
    << formatDuration(cfg.livenessBound > lease::Duration::zero() ? cfg.livenessBound
                                                                  : livenessBound(cfg))
    << "\n"
    << "  stability: " << schedulesWithQuietGap
    << " schedules lost the holder again in the quiet phase, longest gap "
    << formatDuration(worstQuietGap) << " (seed " << worstQuietGapSeed << ")";
  return s.str();
}

std::string replayHint(const SimConfig& cfg, std::uint64_t seed) {
  return "bin/quorate-sim --scenario " + cfg.name + " --first " + std::to_string(seed) +
         " --seeds 1 --trace";
}

}  // namespace quorate::sim
