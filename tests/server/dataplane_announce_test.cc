// Each lease announces its VIPs with its own settings: an instance's `announce:` over the
// top-level one (server/dataplane.h announceOf), on the recording fake kernel.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>

#include "server/config.h"
#include "server/dataplane.h"
#include "tests/server/fake_kernel.h"
#include "tests/server/test_config.h"

namespace quorate::server {
namespace {

using std::chrono::milliseconds;

TEST(DataPlaneAnnounce, EachLeaseBurstsWithItsOwnRepeat) {
  const auto config = parseDirectorConfig(testing::directorConfig(R"(
announce: {repeat: 2, interval_ms: 1}
instances:
  - name: web
    vips: [{address: 198.18.0.10/24, device: eth0}]
    announce: {repeat: 5}
  - name: gw
    vips: [{address: 198.18.1.1/24, device: eth0}]
)"),
                                          "/etc/quorate/announce.yaml");
  testing::FakeKernel k;
  boost::asio::io_context io;
  lease::Time now(milliseconds(10'000));
  DataPlane dp(config, k.ports(), io, [&] { return now; });
  ASSERT_TRUE(dp.start());
  dp.hold(0, now + milliseconds(600));
  io.run();  // the burst runs out (no refresh): the loop ends
  io.restart();
  EXPECT_EQ(k.frames.size(), 5u) << "web: its own repeat";
  dp.hold(1, now + milliseconds(600));
  io.run();
  EXPECT_EQ(k.frames.size(), 5u + 2u) << "gw: the top-level repeat";
}

}  // namespace
}  // namespace quorate::server
