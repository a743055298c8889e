// The health-check benchmark's quorate side (docs/bench-checks.md): N real servers on loopback
// or benchmark-network addresses (served by quorate-check-targets, same --base and --count), one
// TCP or HTTP check each at a fixed interval, run by quorate's checker on one thread. After a
// warm-up it measures for --seconds: attempts per second, the process's CPU (user + system) per
// 1,000 checks and as a share of one core, and its RSS. Prints one JSON object.
#include <arpa/inet.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "bench/bench_addresses.h"
#include "server/check/checker.h"
#include "server/script_runner.h"

namespace {

using namespace quorate::server;
using Clock = std::chrono::steady_clock;

struct Options {
  int count = 10'000;
  std::string base = "127.1.0.1";
  int port = 8080;
  std::string type = "http";
  int intervalMs = 1000;
  int requestsPerConnection = 1;
  int timeoutMs = 3000;
  double warmupS = 5;
  double seconds = 20;
};

double cpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// VmRSS or VmHWM of this process, in KiB.
long statusKb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

void raiseFileLimit(rlim_t want) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = std::min(std::max(rl.rlim_cur, want), rl.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"quorate's health checker on N loopback real servers (docs/bench-checks.md)"};
  app.add_option("--count", o.count, "real servers")->check(CLI::Range(1, 1'000'000));
  app.add_option("--base", o.base, "first address, as given to quorate-check-targets");
  app.add_option("--port", o.port, "port of every real server")->check(CLI::Range(1, 65535));
  app.add_option("--type", o.type, "tcp or http")->check(CLI::IsMember({"tcp", "http"}));
  app.add_option("--interval-ms", o.intervalMs, "check interval")->check(CLI::Range(10, 600'000));
  app.add_option("--requests-per-connection", o.requestsPerConnection,
                 "http: checks one connection may carry (1: a new connection per check)")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--timeout-ms", o.timeoutMs, "check timeout")->check(CLI::Range(1, 600'000));
  app.add_option("--warmup-s", o.warmupS, "seconds before measuring");
  app.add_option("--seconds", o.seconds, "seconds measured");
  CLI11_PARSE(app, argc, argv);
  raiseFileLimit(static_cast<rlim_t>(o.count) * 2 + 1024);
  spdlog::set_level(spdlog::level::warn);

  check::CheckSpec spec;
  if (o.type == "http") {
    check::HttpSpec http;
    http.requestsPerConnection = o.requestsPerConnection;
    spec.kind = http;
  } else {
    spec.kind = check::TcpSpec{};
  }
  spec.interval = std::chrono::milliseconds(o.intervalMs);
  spec.warmup = spec.interval;
  spec.timeout = std::chrono::milliseconds(o.timeoutMs);
  std::vector<std::uint32_t> ips;
  try {
    ips = quorate::bench::benchAddresses(o.base, o.count);
  } catch (const std::exception& e) {
    std::cerr << "quorate-check-bench: " << e.what() << "\n";
    return 2;
  }
  std::vector<check::CheckedServer> config;
  for (const std::uint32_t ip : ips) {
    check::CheckedServer rs;
    rs.key.virtualServer = "bench";
    rs.key.address.family = AF_INET;
    for (int i = 0; i < 4; ++i)
      rs.key.address.bytes[i] = static_cast<std::uint8_t>(ip >> (24 - 8 * i));
    rs.key.port = static_cast<std::uint16_t>(o.port);
    rs.checks = {check::checkTarget(spec, rs.key.address, rs.key.port)};
    config.push_back(std::move(rs));
  }

  boost::asio::io_context io;
  ScriptRunner scripts(io);
  std::uint64_t down = 0, up = 0;
  check::HealthChecks checks(
      io, scripts, [&](const check::Verdict& v) { v.alive ? ++up : ++down; }, 1);
  checks.apply(config);
  auto runFor = [&](double s) {
    io.run_for(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)));
  };
  runFor(o.warmupS);
  const auto a0 = checks.attempts();
  const double c0 = cpuSeconds();
  const auto t0 = Clock::now();
  runFor(o.seconds);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = cpuSeconds() - c0;
  const auto attempts = checks.attempts() - a0;
  const double perSecond = static_cast<double>(attempts) / wall;
  nlohmann::json out = {
      {"tool", "quorate"},
      {"type", o.type},
      {"servers", o.count},
      {"interval_ms", o.intervalMs},
      {"requests_per_connection", o.requestsPerConnection},
      {"seconds", wall},
      {"checks", attempts},
      {"checks_per_s", perSecond},
      {"cpu_percent_of_one_core", 100.0 * cpu / wall},
      {"cpu_ms_per_1000_checks",
       attempts ? 1000.0 * 1000.0 * cpu / static_cast<double>(attempts) : 0},
      {"rss_kb", statusKb("VmRSS")},
      {"hwm_kb", statusKb("VmHWM")},
      {"verdicts_down", down},
      {"verdicts_up", up},
  };
  std::cout << out.dump() << std::endl;
  checks.stop();
  return down == 0 ? 0 : 1;
}
