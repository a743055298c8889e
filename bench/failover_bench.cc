// Handover and failover times of the real daemons on loopback: step-down, SIGTERM,
// kill -9 and SIGSTOP of the holder, each over many trials; prints a markdown table.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <random>
#include <thread>

#include "process/cluster.h"

namespace {

using quorate::proctest::Clock;
using quorate::proctest::Cluster;
using quorate::proctest::Ms;
using quorate::proctest::StatusWatch;

struct Series {
  std::string name;
  std::vector<double> ms;
  int failures = 0;
};

double nearestRank(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// One trial: `act` hurts the holder; the time until the other director's own
// WatchStatus stream says it holds. `heal` brings the hurt node back. `settle` runs
// between the cluster turning healthy and `act` (a healthy cluster was last seen
// just after a renewal, so unplanned faults need a random delay to land anywhere).
template <typename Act, typename Heal, typename Settle>
void trial(Cluster& c, Series& s, Settle settle, Act act, Heal heal) {
  auto before = c.waitForHealthy(Ms(15000));
  if (!before) {
    ++s.failures;
    return;
  }
  const std::string holder = before->holder;
  const std::string other = quorate::proctest::otherDirector(holder);
  StatusWatch watch(c, other);
  settle();
  const auto t0 = Clock::now();
  act(holder);
  auto seen = watch.waitFor([&](const quorate::v1::StatusReply& r) { return r.role() == "holder"; },
                            Ms(10000));
  if (!seen) {
    ++s.failures;
  } else {
    s.ms.push_back(std::chrono::duration<double, std::milli>(*seen - t0).count());
  }
  heal(holder);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"quorate-bench-failover: handover and failover times on loopback"};
  int trials = 30;
  app.add_option("--trials", trials, "trials per scenario")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);

  Cluster c("bench-failover");
  c.startAll();
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> phase(0, 500);  // land anywhere in a renewal interval
  auto randomPhase = [&] { std::this_thread::sleep_for(Ms(phase(rng))); };

  std::vector<Series> all;
  Series stepDown{"step-down (planned)", {}};
  for (int i = 0; i < trials; ++i) {
    trial(c, stepDown, randomPhase, [&](const std::string& h) { c.stepDown(h); },
          [](const std::string&) {});
  }
  all.push_back(stepDown);

  Series term{"SIGTERM of the holder (planned stop)", {}};
  for (int i = 0; i < trials; ++i) {
    trial(c, term, randomPhase, [&](const std::string& h) { c.terminate(h, Ms(5000)); },
          [&](const std::string& h) { c.start(h); });
  }
  all.push_back(term);

  Series kill{"kill -9 of the holder", {}};
  for (int i = 0; i < trials; ++i) {
    trial(c, kill, randomPhase, [&](const std::string& h) { c.kill(h); },
          [&](const std::string& h) { c.start(h); });
  }
  all.push_back(kill);

  Series freeze{"SIGSTOP of the holder", {}};
  for (int i = 0; i < trials; ++i) {
    trial(c, freeze, randomPhase, [&](const std::string& h) { c.pause(h); },
          [&](const std::string& h) { c.resume(h); });
  }
  all.push_back(freeze);

  std::printf("| scenario | trials | failed | p50 ms | p90 ms | p99 ms | min ms | max ms |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const auto& s : all) {
    std::printf("| %s | %zu | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n", s.name.c_str(),
                s.ms.size(), s.failures, nearestRank(s.ms, 0.5), nearestRank(s.ms, 0.9),
                nearestRank(s.ms, 0.99), nearestRank(s.ms, 0.0), nearestRank(s.ms, 1.0));
  }
  return 0;
}
