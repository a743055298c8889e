// --check's kernel checks on Debian 12's kernel, which has IPVS (the host that runs the unit
// tests may not): the IPVS and nf_tables checks both pass there.
#include <gtest/gtest.h>

#include "server/preflight.h"

namespace quorate::server::preflight {
namespace {

TEST(PreflightVm, IpvsAndNftablesPassOnDebiansKernel) {
  DirectorConfig c;
  c.ipvs.virtualServers.emplace_back();  // virtual servers: IPVS is asked
  c.trackInterfaces = {"lo"};            // fence: nftables (the default) with tracking: nf_tables
  const auto found = checkKernel(c);
  ASSERT_EQ(found.size(), 2u);
  for (const auto& f : found) {
    EXPECT_EQ(f.verdict, quorate::preflight::Verdict::kOk) << f.subject << ": " << f.detail;
  }
}

}  // namespace
}  // namespace quorate::server::preflight
