// The bounds of common/yaml_config: the file's size, one list's length, and the work of
// converting a document (nodes visited and scalar bytes read, each use of an alias counted).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/yaml_config.h"
#include "tests/common/config_test_util.h"

namespace quorate::config {
namespace {

using ::testing::HasSubstr;
using testutil::configErrorOf;
using testutil::TempDir;

constexpr char kPath[] = "/etc/quorate/limits.yaml";

// Every item of every list under `v`, as a parser walking the whole document would visit them.
std::size_t walk(const Value& v) {
  std::size_t visited = 1;
  if (v.node().IsSequence()) {
    for (const Value& item : v.asList()) visited += walk(item);
  }
  return visited;
}

// Nested aliases, each level listing the one below `fanout` times: fanout^depth leaves.
std::string laughs(int fanout, int depth) {
  std::string text = "l0: &a0 [x]\n";
  for (int i = 1; i <= depth; ++i) {
    text += "l" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < fanout; ++j) text += (j == 0 ? "*a" : ", *a") + std::to_string(i - 1);
    text += "]\n";
  }
  return text;
}

TEST(ConfigLimits, AliasesCountEachTimeTheyAreConverted) {
  // 10^9 leaves from 10 lines: refused after kMaxConfigNodes visits, naming the limit.
  const std::string text = laughs(10, 9);
  const Document d(kPath, text);
  const Map root = d.root({"l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9"});
  const std::string e = configErrorOf([&] { walk(root.required("l9")); });
  EXPECT_THAT(e, HasSubstr("more than 1000000 YAML nodes to convert"));
  EXPECT_THAT(e, HasSubstr("an alias (*name) counts its anchor's whole content each time"));
  EXPECT_LE(d.nodesVisited(), kMaxConfigNodes + 10);
}

TEST(ConfigLimits, ModestAliasesAreFine) {
  // 10^5 leaves (211,111 nodes): well under the limit, and every visit is counted.
  const Document d(kPath, laughs(10, 5));
  const Map root = d.root({"l0", "l1", "l2", "l3", "l4", "l5"});
  EXPECT_EQ(walk(root.required("l5")), 211'111u);
  EXPECT_GE(d.nodesVisited(), 211'110u);
}

TEST(ConfigLimits, AliasedLongScalarsCountTheirBytes) {
  // One 1 MiB string used 100 times: 100 MiB of copies from a 1 MiB file.
  std::string text = "big: &s " + std::string(1 << 20, 'x') + "\nuses: [";
  for (int i = 0; i < 100; ++i) text += i == 0 ? "*s" : ", *s";
  text += "]\n";
  const Document d(kPath, text);
  const Map root = d.root({"big", "uses"});
  const std::string e = configErrorOf([&] {
    for (const Value& v : root.required("uses").asList()) v.asString();
  });
  // No line of its own: yaml-cpp gives an alias its anchor's node, and so its line.
  EXPECT_THAT(e, HasSubstr(": uses[14]: more than 16777216 bytes of values to convert"));
}

TEST(ConfigLimits, OneListIsBounded) {
  std::string text = "a: [";
  for (std::size_t i = 0; i <= kMaxListItems; ++i) text += i == 0 ? "1" : ",1";
  text += "]\n";
  const Document d(kPath, text);
  EXPECT_THAT(configErrorOf([&] { d.root({"a"}).required("a").asList(); }),
              HasSubstr(":1: a: a list of 100001 items, more than the limit of 100000"));
}

TEST(ConfigLimits, AFileOverTheLimitIsRefusedBeforeItIsRead) {
  TempDir dir;
  const std::string at =
      dir.write("at.yaml", "a: 1\n#" + std::string(kMaxConfigBytes - 7, 'x') + "\n");
  EXPECT_EQ(readConfigFile(at).size(), kMaxConfigBytes);
  const std::string over = dir.write("over.yaml", std::string(kMaxConfigBytes + 1, '#'));
  EXPECT_EQ(configErrorOf([&] { readConfigFile(over); }),
            over + ": cannot read: larger than 4194304 bytes (4194305 bytes)");
}

}  // namespace
}  // namespace quorate::config
