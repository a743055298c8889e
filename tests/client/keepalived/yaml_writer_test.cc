// The importer's YAML builder: every string reads back as the same string through yaml-cpp (what
// the daemons use), whatever YAML would otherwise make of it, and layout and comments are kept.
#include "client/keepalived/yaml_writer.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace quorate::keepalived {
namespace {

TEST(KeepalivedYaml, EveryStringReadsBackAsItself) {
  const std::string tricky[] = {
      "plain",       "true",     "no",     "null",          "~",        "1.5",      "0x10",
      "198.18.0.1",  "eth0:1",   "a: b",   "- x",           "#x",       "x #y",     "\"quoted\"",
      "back\\slash", "",         " lead",  "trail ",        "tab\t",    "nl\nline", "bell\x07",
      "é ü",         "\xff\xfe", "[a]",    "{b}",           "*alias",   "&anchor",  "!tag",
      "%pct",        "@at",      "`tick`", "/usr/bin/x -y", "'single'", "?",        ":",
      "-",           "0",        "-1",     "1e3",           ".inf",     "Yes",      "OFF"};
  YamlNode root = YamlNode::map();
  YamlNode list = YamlNode::list();
  for (const auto& s : tricky) list.push(YamlNode::str(s));
  root.set("strings", std::move(list));
  const YAML::Node back = YAML::Load(root.render());
  ASSERT_TRUE(back["strings"].IsSequence());
  ASSERT_EQ(back["strings"].size(), std::size(tricky));
  for (std::size_t i = 0; i < std::size(tricky); ++i) {
    const std::string& want = tricky[i];
    // Bytes that are not UTF-8 are written as \xNN (U+00NN); every other string is exact.
    if (want == "\xff\xfe") {
      EXPECT_EQ(back["strings"][i].as<std::string>(), "\xc3\xbf\xc3\xbe");
      continue;
    }
    EXPECT_EQ(back["strings"][i].as<std::string>(), want) << "item " << i;
    EXPECT_TRUE(back["strings"][i].Tag() == "!" || back["strings"][i].Tag() == "?" ||
                back["strings"][i].Tag().empty())
        << "item " << i;
  }
}

// yaml-cpp hands any scalar over as a string, so reading back cannot tell "true" from true:
// what a YAML reader would type (a bool, a null, a number) must be written quoted, which yaml-cpp
// marks with the tag "!" (a plain scalar gets "?").
TEST(KeepalivedYaml, WhatYamlWouldTypeIsQuoted) {
  const std::string typed[] = {"true", "no",   "null", "~",   "1.5", "0x10", "0",   "-1",
                               "1e3",  ".inf", "Yes",  "OFF", "y",   "on",   "1_0", "0o17"};
  YamlNode root = YamlNode::map();
  YamlNode list = YamlNode::list();
  for (const auto& s : typed) list.push(YamlNode::str(s));
  root.set("typed", std::move(list));
  const YAML::Node back = YAML::Load(root.render());
  for (std::size_t i = 0; i < std::size(typed); ++i) {
    EXPECT_EQ(back["typed"][i].Tag(), "!") << typed[i] << " is written plain";
  }
  EXPECT_EQ(YAML::Load(YamlNode::str("plain").render()).Tag(), "?");  // the check can see it
}

TEST(KeepalivedYaml, NestedBlocksFlowMapsAndComments) {
  YamlNode root = YamlNode::map();
  root.set("a", YamlNode::num(1), "first\nsecond");
  YamlNode items = YamlNode::list();
  YamlNode m = YamlNode::map();
  m.set("name", YamlNode::str("x"), "about name");
  YamlNode inner = YamlNode::list();
  inner.push(YamlNode::map().set("k", YamlNode::boolean(true)).flow());
  m.set("inner", std::move(inner));
  items.push(std::move(m), "the item");
  root.set("items", std::move(items));
  root.set("empty", YamlNode::list());
  root.set("a", YamlNode::num(2));  // keeps its place
  EXPECT_EQ(root.render(),
            "# first\n"
            "# second\n"
            "a: 2\n"
            "items:\n"
            "  # the item\n"
            "    # about name\n"
            "  - name: x\n"
            "    inner:\n"
            "      - {k: true}\n"
            "empty: []\n");
  const YAML::Node back = YAML::Load(root.render());
  EXPECT_EQ(back["items"][0]["inner"][0]["k"].as<bool>(), true);
}

}  // namespace
}  // namespace quorate::keepalived
