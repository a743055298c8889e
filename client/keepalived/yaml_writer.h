// A small YAML document builder for the importer's output: block style, keys in the order given,
// comments an operator reads, strings quoted whenever YAML could read them as something else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quorate::keepalived {

class YamlNode {
 public:
  static YamlNode str(std::string_view text);  // a string, quoted unless plainly safe
  static YamlNode num(std::int64_t value);
  static YamlNode boolean(bool value);
  static YamlNode map();
  static YamlNode list();

  // Map entries, in order; a key set twice keeps its first place with the new value.
  YamlNode& set(const std::string& key, YamlNode value, const std::string& comment = "");
  YamlNode& push(YamlNode value, const std::string& comment = "");
  // Rendered on one line ({a: 1, b: x} / [a, b]) when every member is a scalar.
  YamlNode& flow();
  YamlNode* find(const std::string& key);
  bool has(const std::string& key) const;
  bool isEmpty() const { return values_.empty(); }
  bool isScalar() const { return kind_ == Kind::kScalar; }
  std::size_t size() const { return values_.size(); }

  // The document (a map or a list at the top level).
  std::string render() const;

 private:
  enum class Kind { kScalar, kMap, kList };
  void renderBlock(std::string& out, int indent) const;
  std::string renderFlow() const;
  bool allScalars() const;

  Kind kind_ = Kind::kScalar;
  std::string scalar_;
  bool flow_ = false;
  std::vector<std::string> keys_;  // maps only
  std::vector<YamlNode> values_;
  std::vector<std::string> comments_;  // a "# ..." line before each entry, or ""
};

// The text as a YAML double-quoted scalar.
std::string yamlQuote(std::string_view text);

}  // namespace quorate::keepalived
