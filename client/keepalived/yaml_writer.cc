// The importer's YAML builder (yaml_writer.h).
#include "client/keepalived/yaml_writer.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace quorate::keepalived {
namespace {

// Length of the valid UTF-8 sequence at `i`, or 0.
std::size_t utf8Length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  if (c >= 0xe0 && c <= 0xef) n = 3;
  if (c >= 0xf0 && c <= 0xf4) n = 4;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return n;
}

bool plainSafe(std::string_view s) {
  if (s.empty() || s.size() > 200) return false;
  static const char* kWords[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"};
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* w : kWords) {
    if (lower == w) return false;
  }
  // Anything a YAML reader could take for a number stays quoted.
  const bool digit = std::any_of(
      s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (digit && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' ||
               c == 'e' || c == 'E' || c == '_' || c == 'x' || c == 'o';
      })) {
    return false;
  }
  if (!std::isalpha(static_cast<unsigned char>(s[0])) && s[0] != '/' && s[0] != '_') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == '/' || c == '@' || c == '+';
  });
}

}  // namespace

std::string yamlQuote(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
    } else if (const std::size_t n = c >= 0x80 ? utf8Length(text, i) : 0; n > 0) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(c));
      out += hex;
      ++i;
    }
  }
  return out + "\"";
}

YamlNode YamlNode::str(std::string_view text) {
  YamlNode n;
  n.scalar_ = plainSafe(text) ? std::string(text) : yamlQuote(text);
  return n;
}

YamlNode YamlNode::num(std::int64_t value) {
  YamlNode n;
  n.scalar_ = std::to_string(value);
  return n;
}

YamlNode YamlNode::boolean(bool value) {
  YamlNode n;
  n.scalar_ = value ? "true" : "false";
  return n;
}

YamlNode YamlNode::map() {
  YamlNode n;
  n.kind_ = Kind::kMap;
  return n;
}

YamlNode YamlNode::list() {
  YamlNode n;
  n.kind_ = Kind::kList;
  return n;
}

YamlNode& YamlNode::set(const std::string& key, YamlNode value, const std::string& comment) {
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) {
      values_[i] = std::move(value);
      if (!comment.empty()) comments_[i] = comment;
      return *this;
    }
  }
  keys_.push_back(key);
  values_.push_back(std::move(value));
  comments_.push_back(comment);
  return *this;
}

YamlNode& YamlNode::push(YamlNode value, const std::string& comment) {
  keys_.emplace_back();
  values_.push_back(std::move(value));
  comments_.push_back(comment);
  return *this;
}

YamlNode& YamlNode::flow() {
  flow_ = true;
  return *this;
}

YamlNode* YamlNode::find(const std::string& key) {
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) return &values_[i];
  }
  return nullptr;
}

bool YamlNode::has(const std::string& key) const {
  return std::find(keys_.begin(), keys_.end(), key) != keys_.end();
}

bool YamlNode::allScalars() const {
  return std::all_of(values_.begin(), values_.end(),
                     [](const YamlNode& v) { return v.isScalar(); });
}

std::string YamlNode::renderFlow() const {
  if (kind_ == Kind::kScalar) return scalar_;
  std::string out = kind_ == Kind::kMap ? "{" : "[";
  for (std::size_t i = 0; i < values_.size(); ++i) {
    if (i > 0) out += ", ";
    if (kind_ == Kind::kMap) out += keys_[i] + ": ";
    out += values_[i].renderFlow();
  }
  return out + (kind_ == Kind::kMap ? "}" : "]");
}

// Comment lines are written as given, one "# " per line.
static void writeComment(std::string& out, const std::string& comment, int indent) {
  if (comment.empty()) return;
  std::size_t start = 0;
  while (start <= comment.size()) {
    std::size_t end = comment.find('\n', start);
    if (end == std::string::npos) end = comment.size();
    out.append(static_cast<std::size_t>(indent), ' ');
    out += "# " + comment.substr(start, end - start) + "\n";
    start = end + 1;
  }
}

void YamlNode::renderBlock(std::string& out, int indent) const {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  for (std::size_t i = 0; i < values_.size(); ++i) {
    const YamlNode& v = values_[i];
    writeComment(out, comments_[i], indent);
    const bool inline_ = v.isScalar() || v.isEmpty() || (v.flow_ && v.allScalars());
    if (kind_ == Kind::kMap) {
      out += pad + keys_[i] + ":";
      if (inline_) {
        out += " " + (v.isScalar() ? v.scalar_ : v.renderFlow()) + "\n";
      } else {
        out += "\n";
        v.renderBlock(out, indent + 2);
      }
      continue;
    }
    // A list item: "- " then the item, its first line on the dash's line.
    if (inline_) {
      out += pad + "- " + (v.isScalar() ? v.scalar_ : v.renderFlow()) + "\n";
      continue;
    }
    std::string item;
    v.renderBlock(item, indent + 2);
    // Comments of the item's first entry go above the dash.
    std::size_t firstLine = 0;
    while (item.compare(firstLine + static_cast<std::size_t>(indent) + 2, 1, "#") == 0) {
      const std::size_t nl = item.find('\n', firstLine);
      out += item.substr(firstLine, nl + 1 - firstLine);
      firstLine = nl + 1;
    }
    out += pad + "- " + item.substr(firstLine + static_cast<std::size_t>(indent) + 2);
  }
}

std::string YamlNode::render() const {
  std::string out;
  if (kind_ == Kind::kScalar) return scalar_ + "\n";
  renderBlock(out, 0);
  return out;
}

}  // namespace quorate::keepalived
