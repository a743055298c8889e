// Membership texts: every view a valid configuration can write is one the arbiter accepts.
#include "common/membership.h"

#include <gtest/gtest.h>

#include "common/yaml_config.h"

namespace quorate {
namespace {

// Longest valid values: a 64-character id for the cluster and every node, and a 253-character
// host name (four labels of 63) with a five-digit port.
TEST(Membership, LongestValidViewIsAccepted) {
  const std::string id(config::kMaxIdLength, 'n');
  const std::string label(63, 'h');
  const std::string host = label + "." + label + "." + label + "." + label.substr(0, 61);
  ASSERT_EQ(host.size(), 253u);
  const std::string address = host + ":65535";
  ASSERT_FALSE(config::hostPortError(address)) << *config::hostPortError(address);
  std::array<Member, lease::kNodeCount> members;
  for (lease::NodeId n = 0; n < lease::kNodeCount; ++n) {
    members[n] = Member{id.substr(0, id.size() - 1) + std::to_string(n), address};
    ASSERT_TRUE(config::isId(members[n].name));
  }
  const std::string text = membershipText(id, members);
  for (lease::NodeId n = 0; n < lease::kNodeCount; ++n) {
    EXPECT_EQ(memberName(text, n), members[n].name)
        << "a valid configuration's view (" << text.size() << " bytes) is refused as malformed";
  }
}

TEST(Membership, RefusesMalformedTexts) {
  const std::array<Member, lease::kNodeCount> m{Member{"alpha", "198.18.0.1:7101"},
                                                Member{"beta", "198.18.0.2:7101"},
                                                Member{"arbiter", "198.18.0.3:7100"}};
  const std::string good = membershipText("demo", m);
  EXPECT_EQ(memberName(good, 1), "beta");
  EXPECT_FALSE(memberName(good + "3 extra 198.18.0.4:1\n", 1));
  EXPECT_FALSE(memberName("", 0));
  EXPECT_FALSE(memberName(good + std::string(kMaxMembershipText, ' '), 0));
}

}  // namespace
}  // namespace quorate
