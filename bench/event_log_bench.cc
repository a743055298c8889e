// Event log benchmark: what append() costs the caller (the lease loop) and how many fdatasync'd
// records a second the writer keeps up with, on the disk of --dir (docs/bench-eventlog.md).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "server/events/event_log.h"

namespace {

using Clock = std::chrono::steady_clock;
using quorate::server::events::EventLog;

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"quorate event log benchmark"};
  std::string dir = "/var/tmp";
  int records = 20000;
  int rate = 0;
  std::size_t queue = quorate::server::events::kDefaultQueue;
  std::uint64_t maxBytes = quorate::server::events::kDefaultMaxBytes;
  app.add_option("--dir", dir, "where the log goes (its disk is measured)");
  app.add_option("--records", records, "records to append")->check(CLI::Range(1, 10'000'000));
  app.add_option("--rate", rate, "appends a second; 0: as fast as possible")
      ->check(CLI::Range(0, 10'000'000));
  app.add_option("--queue", queue, "the queue's bound")->check(CLI::Range(1, 1'000'000));
  app.add_option("--max-bytes", maxBytes, "rotate at this size");
  CLI11_PARSE(app, argc, argv);

  const std::string path = dir + "/quorate-event-log-bench.jsonl";
  for (int i = 0; i <= 5; ++i) {
    std::filesystem::remove(i == 0 ? path : path + "." + std::to_string(i));
  }
  EventLog::Options o;
  o.path = path;
  o.node = "alpha";
  o.queue = queue;
  o.maxBytes = maxBytes;
  auto opened = EventLog::open(o);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.status().message().c_str());
    return 1;
  }
  auto log = std::move(opened).value();

  std::vector<double> appendUs;
  appendUs.reserve(static_cast<std::size_t>(records));
  const auto start = Clock::now();
  for (int i = 0; i < records; ++i) {
    if (rate > 0)
      std::this_thread::sleep_until(start + std::chrono::microseconds(1'000'000LL * i / rate));
    // The size of a role change record as the lease host writes it.
    nlohmann::json r = {{"event", "became-holder"},
                        {"lease", "web"},
                        {"epoch", i},
                        {"previous", "beta"},
                        {"reason", "peer silent for 1800 ms"}};
    const auto t0 = Clock::now();
    log->append(std::move(r));
    appendUs.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  const auto appended = Clock::now();
  log->flush();
  const auto done = Clock::now();
  const auto c = log->counters();
  const double seconds = std::chrono::duration<double>(done - start).count();
  std::printf("records %d rate %s queue %zu dir %s\n", records,
              rate > 0 ? std::to_string(rate).c_str() : "max", queue, dir.c_str());
  std::printf("append us: p50 %.2f p99 %.2f p99.9 %.2f max %.2f\n", percentile(appendUs, 0.5),
              percentile(appendUs, 0.99), percentile(appendUs, 0.999),
              *std::max_element(appendUs.begin(), appendUs.end()));
  std::printf(
      "appending took %.3f s; written %llu dropped %llu errors %llu rotations %llu\n",
      std::chrono::duration<double>(appended - start).count(),
      static_cast<unsigned long long>(c.written), static_cast<unsigned long long>(c.dropped),
      static_cast<unsigned long long>(c.writeErrors), static_cast<unsigned long long>(c.rotations));
  std::printf("writer: %.0f records/s (written / time to the last fdatasync)\n",
              static_cast<double>(c.written) / seconds);
  log.reset();
  for (int i = 0; i <= 5; ++i) {
    std::filesystem::remove(i == 0 ? path : path + "." + std::to_string(i));
  }
  return 0;
}
