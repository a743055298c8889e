// quorate-view-bench: what Balancer::view() (quoratectl status) costs on the director's loop
// thread for one virtual server of N real servers, against the in-memory IPVS of the unit tests.
//
// Usage: quorate-view-bench [N ...] (default 1000 10000). For each N: one virtual server with N
// real servers (two ports per address, so the port matters), programmed and read back once; then
// 7 runs, each timing enough view() calls to take ~200 ms, and the median time per call; then
// the median of 7 runs of 20 health verdicts (each an update() of the service). Nothing
// touches the kernel or any network (docs/bench-ipvs.md).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "server/ipvs/balancer.h"
#include "tests/server/ipvs/fake_ipvs.h"

namespace {

namespace kipvs = quorate::kernel::ipvs;
using namespace quorate::server::ipvs;
using Clock = std::chrono::steady_clock;

IpvsConfig oneService(std::size_t n) {
  VirtualServerConfig vs;
  vs.name = "web";
  vs.service.key = kipvs::ServiceKey::inet(kipvs::Protocol::Tcp,
                                           *quorate::net::IpAddress::parse("198.18.0.10"), 80);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t host = i / 2;  // 198.19.0.1 ... (up to 65,000 hosts)
    RealServerConfig rs;
    rs.dest.address = *quorate::net::IpAddress::parse("198.19." + std::to_string(host / 250) + "." +
                                                      std::to_string(host % 250 + 1));
    rs.dest.port = static_cast<std::uint16_t>(8080 + i % 2);
    rs.dest.weight = 1;
    vs.realServers.push_back(rs);
  }
  IpvsConfig c;
  c.virtualServers.push_back(std::move(vs));
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes;
  for (int i = 1; i < argc; ++i) {
    char* end = nullptr;
    const unsigned long n = std::strtoul(argv[i], &end, 10);
    if (*end != '\0' || n == 0 || n > 130'000) {
      std::fprintf(stderr, "usage: %s [real servers (1..130000) ...]\n", argv[0]);
      return 2;
    }
    sizes.push_back(n);
  }
  if (sizes.empty()) sizes = {1000, 10000};
  // The balancer logs every verdict and reconcile: not what is measured.
  spdlog::set_level(spdlog::level::warn);
  constexpr int kRuns = 7;
  for (const std::size_t n : sizes) {
    testing::FakeIpvs kernel;
    Balancer balancer(oneService(n), {0}, 0, kernel);
    if (!balancer.start().isOk() || !balancer.resync().isOk()) {
      std::fprintf(stderr, "setting up %zu real servers failed\n", n);
      return 1;
    }
    balancer.activate(0);
    if (!balancer.resync().isOk() || balancer.view().at(0).realServers.size() != n) {
      std::fprintf(stderr, "the view of %zu real servers is wrong\n", n);
      return 1;
    }
    // Calls per run: ~200 ms, from one timed call.
    const auto t0 = Clock::now();
    (void)balancer.view();
    const double once = std::chrono::duration<double>(Clock::now() - t0).count();
    const int calls = std::max(1, static_cast<int>(0.2 / std::max(once, 1e-7)));
    std::vector<double> perCall;
    for (int r = 0; r < kRuns; ++r) {
      std::size_t sink = 0;
      const auto start = Clock::now();
      for (int c = 0; c < calls; ++c) sink += balancer.view().at(0).realServers.size();
      const double s = std::chrono::duration<double>(Clock::now() - start).count();
      if (sink != n * static_cast<std::size_t>(calls)) return 1;
      perCall.push_back(s / calls);
    }
    std::sort(perCall.begin(), perCall.end());
    // The other side of keeping installed endpoints sorted: a health verdict on this service
    // (Reconciler::update() re-plans it and rebuilds its installed list), dead and back, timed.
    std::vector<double> perVerdict;
    for (int r = 0; r < kRuns; ++r) {
      constexpr int kFlips = 10;
      const auto start = Clock::now();
      for (int f = 0; f < kFlips; ++f) {
        (void)balancer.setAlive(0, n / 2, false, "bench");
        (void)balancer.setAlive(0, n / 2, true, "bench");
      }
      perVerdict.push_back(std::chrono::duration<double>(Clock::now() - start).count() /
                           (2 * kFlips));
    }
    std::sort(perVerdict.begin(), perVerdict.end());
    std::printf("real servers %6zu  health verdict median %9.3f ms\n", n,
                perVerdict[kRuns / 2] * 1e3);
    std::printf(
        "real servers %6zu  view() median %9.3f ms  (min %.3f, max %.3f; %d runs x %d calls)\n", n,
        perCall[kRuns / 2] * 1e3, perCall.front() * 1e3, perCall.back() * 1e3, kRuns, calls);
  }
  return 0;
}
