// quorate-sim: runs seeded schedules of one scenario from the command line, or traces one.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "sim/batch.h"
#include "sim/scenarios.h"

namespace {

int usage() {
  std::cerr << "usage: quorate-sim [--scenario NAME] [--first N] [--seeds N] [--rho R] [--keep N] "
               "[--trace]\n"
               "  runs seeds [first, first + seeds); --trace prints every event (use with "
               "--seeds 1);\n  --rho overrides the scenario's simulated clock drift; --keep prints "
               "up to N "
               "failing seeds (20)\n  --clone-routing both|one|replies: how the clone scenarios "
               "deliver to "
               "director A\n  --real-arbiter / --model-arbiter: the arbiter as the real "
               "ArbiterService or as its model (a bare acceptor), whatever the scenario says\n"
               "  scenarios:";
  for (const auto& n : quorate::sim::scenarioNames()) std::cerr << " " << n;
  std::cerr << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string scenario = "default";
  std::uint64_t first = 0;
  std::uint64_t seeds = 1000;
  bool trace = false;
  std::optional<double> rho;
  std::size_t keep = 20;
  std::optional<quorate::sim::CloneRouting> routing;
  std::optional<bool> realArbiter;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool hasValue = i + 1 < argc;
    if (arg == "--scenario" && hasValue) {
      scenario = argv[++i];
    } else if (arg == "--first" && hasValue) {
      first = std::strtoull(argv[++i], nullptr, 0);
    } else if (arg == "--seeds" && hasValue) {
      seeds = std::strtoull(argv[++i], nullptr, 0);
    } else if (arg == "--rho" && hasValue) {
      rho = std::strtod(argv[++i], nullptr);
    } else if (arg == "--clone-routing" && hasValue) {
      const std::string r = argv[++i];
      if (r == "both") {
        routing = quorate::sim::CloneRouting::kBoth;
      } else if (r == "one") {
        routing = quorate::sim::CloneRouting::kOne;
      } else if (r == "replies") {
        routing = quorate::sim::CloneRouting::kRepliesBack;
      } else {
        return usage();
      }
    } else if (arg == "--keep" && hasValue) {
      keep = std::strtoull(argv[++i], nullptr, 0);
    } else if (arg == "--real-arbiter" || arg == "--model-arbiter") {
      realArbiter = arg == "--real-arbiter";
    } else if (arg == "--trace") {
      trace = true;
    } else {
      return usage();
    }
  }
  auto cfg = quorate::sim::scenarioByName(scenario);
  if (!cfg) return usage();
  if (rho) cfg->rhoSim = *rho;
  if (routing) cfg->cloneRouting = *routing;
  if (realArbiter) cfg->realArbiter = *realArbiter;

  if (trace) {
    bool ok = true;
    for (std::uint64_t s = first; s < first + seeds; ++s) {
      const auto r = quorate::sim::runSchedule(*cfg, s, &std::cout);
      std::cout << r.describe(cfg->name) << "\n";
      ok = ok && r.ok();
    }
    return ok ? 0 : 1;
  }
  const auto b = quorate::sim::runSeeds(*cfg, first, seeds, keep);
  for (const auto& r : b.failures) {
    std::cout << r.describe(cfg->name) << "\n  replay: " << quorate::sim::replayHint(*cfg, r.seed)
              << "\n";
  }
  std::cout << "seeds [" << first << ", " << first + seeds << ") " << b.summary(*cfg) << "\n";
  return b.violations == 0 ? 0 : 1;
}
