// The build's identity (common/version.h) against what it claims to come from.
#include "common/version.h"

#include <gtest/gtest.h>

#include <string>

#include "quorate/v1/quorate.pb.h"

namespace quorate {
namespace {

TEST(Version, ProtocolIsTheWirePackages) {
  // What peers actually exchange: the generated code's package, "quorate.vN".
  const std::string package = v1::PeerMessage::descriptor()->file()->package();
  EXPECT_EQ(package, "quorate.v" + std::to_string(kProtocolVersion));
}

TEST(Version, IsTheProjectVersion) { EXPECT_EQ(kVersion, QUORATE_TEST_PROJECT_VERSION); }

TEST(Version, CommitIsNeverEmpty) { EXPECT_FALSE(kGitCommit.empty()); }

TEST(Version, LineNamesProgramVersionCommitAndProtocol) {
  EXPECT_EQ(versionLine("quoratectl"), "quoratectl " + std::string(kVersion) + " (commit " +
                                           std::string(kGitCommit) + ", protocol " +
                                           std::to_string(kProtocolVersion) + ")");
}

}  // namespace
}  // namespace quorate
