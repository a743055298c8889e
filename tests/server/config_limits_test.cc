// The director config's total counts (server/config_limits.h): a file at each limit is accepted,
// one over it is refused with an error that names the count, the limit and where it was passed.
#include "server/config_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "common/config_error.h"
#include "server/config.h"

namespace quorate::server {
namespace {

using ::testing::HasSubstr;

constexpr char kPath[] = "/etc/quorate/limits.yaml";

constexpr char kHead[] =
    "cluster: demo\n"
    "node: alpha\n"
    "secret: s3cret-s3cret-s3cret\n"
    "listen: 127.0.0.1:7101\n"
    "state_dir: /tmp/quorate-test/alpha\n"
    "directors: [{id: alpha, address: 127.0.0.1:7101}, {id: beta, address: 127.0.0.1:7102}]\n"
    "arbiter: {address: 127.0.0.1:7100}\n";

constexpr char kOneInstance[] =
    "instances: [{name: web, vips: [{address: 198.18.0.10/24, device: lo}]}]\n";

std::string errorOf(const std::string& text) {
  try {
    parseDirectorConfig(text, kPath);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "accepted";
}

// The n-th distinct address of 198.18.0.0/15, from 198.18.1.1 on.
std::string address(std::size_t n) {
  return "198." + std::to_string(18 + n / 62'500) + "." + std::to_string(1 + n / 250 % 250) + "." +
         std::to_string(1 + n % 250);
}

std::string instances(std::size_t count) {
  std::string text = "instances:\n";
  for (std::size_t i = 0; i < count; ++i) {
    text += "  - {name: i" + std::to_string(i) + ", vips: [{address: " + address(i) +
            "/32, device: lo}]}\n";
  }
  return text;
}

// One virtual server with `count` real servers, each with `ownChecks` checks of its own (none:
// they inherit the virtual server's `sharedChecks`).
std::string realServers(std::size_t count, std::size_t sharedChecks = 0,
                        std::size_t ownChecks = 0) {
  std::string text = std::string(kOneInstance) +
                     "virtual_servers:\n"
                     "  - name: http\n"
                     "    address: 198.18.0.10\n"
                     "    port: 80\n";
  auto checks = [](std::size_t n) {
    std::string list = "[";
    for (std::size_t i = 0; i < n; ++i) list += i == 0 ? "{type: tcp}" : ", {type: tcp}";
    return list + "]";
  };
  if (sharedChecks > 0) text += "    checks: " + checks(sharedChecks) + "\n";
  text += "    real_servers:\n";
  for (std::size_t i = 0; i < count; ++i) {
    text += "      - {address: " + address(i);
    if (ownChecks > 0) text += ", checks: " + checks(ownChecks);
    text += "}\n";
  }
  return text;
}

TEST(DirectorConfigLimits, Instances) {
  EXPECT_EQ(errorOf(kHead + instances(kMaxInstances)), "accepted");
  EXPECT_THAT(errorOf(kHead + instances(kMaxInstances + 1)),
              HasSubstr(":8: instances: 256 instances, more than the limit of 255"));
}

TEST(DirectorConfigLimits, VipsOfAllInstances) {
  auto vips = [](std::size_t perInstance) {
    std::string text = "instances:\n";
    for (std::size_t i = 0; i < 2; ++i) {
      text += "  - name: i" + std::to_string(i) + "\n    vips:\n";
      for (std::size_t v = 0; v < perInstance; ++v) {
        text += "      - {address: " + address(i * perInstance + v) + "/32, device: lo}\n";
      }
    }
    return text;
  };
  EXPECT_EQ(errorOf(kHead + vips(kMaxVips / 2)), "accepted");
  const std::string e = errorOf(kHead + vips(kMaxVips / 2 + 1));
  EXPECT_THAT(e, HasSubstr("instances[1].vips[2047]: more than 4096 VIPs in all instances"));
}

TEST(DirectorConfigLimits, VirtualServers) {
  auto services = [](std::size_t count) {
    std::string text = std::string(kOneInstance) + "virtual_servers:\n";
    for (std::size_t i = 0; i < count; ++i) {
      text += "  - {name: s" + std::to_string(i) +
              ", address: 198.18.0.10, port: " + std::to_string(i + 1) +
              ", real_servers: [{address: 198.18.0.21}]}\n";
    }
    return text;
  };
  EXPECT_EQ(errorOf(kHead + services(kMaxVirtualServers)), "accepted");
  EXPECT_THAT(errorOf(kHead + services(kMaxVirtualServers + 1)),
              HasSubstr(":9: virtual_servers: 4097 virtual servers, more than the limit of 4096"));
}

TEST(DirectorConfigLimits, RealServersOfAllVirtualServers) {
  EXPECT_EQ(errorOf(kHead + realServers(kMaxRealServers)), "accepted");
  EXPECT_THAT(errorOf(kHead + realServers(kMaxRealServers + 1)),
              HasSubstr("virtual_servers[0].real_servers[20000]: more than 20000 real servers"));
}

// A virtual server's checks count once for each real server that inherits them.
TEST(DirectorConfigLimits, ChecksAsTheCheckerRunsThem) {
  EXPECT_EQ(errorOf(kHead + realServers(kMaxChecks / 2, 2)), "accepted");
  EXPECT_THAT(errorOf(kHead + realServers(kMaxChecks / 2 + 1, 2)),
              HasSubstr("virtual_servers[0].real_servers[10000]: more than 20000 health checks"));
  EXPECT_THAT(errorOf(kHead + realServers(kMaxChecks / 4 + 1, 0, 4)),
              HasSubstr("virtual_servers[0].real_servers[5000]: more than 20000 health checks"));
  // Own checks replace the shared ones rather than adding to them.
  EXPECT_EQ(errorOf(kHead + realServers(kMaxChecks / 2, 3, 2)), "accepted");
}

// A top-level hook counts once for each lease that inherits it.
TEST(DirectorConfigLimits, HookCommandsOfAllLeases) {
  auto hooks = [](std::size_t commands, std::size_t leases) {
    std::string text = "hooks:\n  notify:\n";
    for (std::size_t i = 0; i < commands; ++i)
      text += "    - /bin/true " + std::to_string(i) + "\n";
    return text + instances(leases);
  };
  EXPECT_EQ(errorOf(kHead + hooks(kMaxHookCommands / 2, 2)), "accepted");
  EXPECT_THAT(errorOf(kHead + hooks(kMaxHookCommands / 2 + 1, 2)),
              HasSubstr("instances[1]: more than 4096 hook commands in all leases"));
  EXPECT_THAT(errorOf(kHead + hooks(kMaxHookCommands + 1, 1)),
              HasSubstr(":8: hooks: more than 4096 hook commands"));
}

TEST(DirectorConfigLimits, TrackScripts) {
  auto scripts = [](std::size_t count) {
    std::string text = "track_scripts:\n";
    for (std::size_t i = 0; i < count; ++i) {
      text += "  - {name: t" + std::to_string(i) + ", command: [/bin/true]}\n";
    }
    return text;
  };
  EXPECT_EQ(errorOf(kHead + scripts(kMaxTrackScripts)), "accepted");
  EXPECT_THAT(errorOf(kHead + scripts(kMaxTrackScripts + 1)),
              HasSubstr(":8: track_scripts: 257 track scripts, more than the limit of 256"));
}

}  // namespace
}  // namespace quorate::server
