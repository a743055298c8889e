// Shared YAML config parsing: typed getters whose errors name the file, the line and the key.
#include "common/yaml_config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <limits>
#include <sstream>
#include <system_error>
#include <utility>

#include "common/secret.h"

namespace quorate::config {
namespace {

// 1-based line of `node`, or `fallback` when yaml-cpp has no mark for it.
int lineOf(const YAML::Node& node, int fallback) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

// What a node is, for "expected X, got Y".
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string join(std::initializer_list<std::string_view> items) {
  std::string out;
  for (std::string_view item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Edit distance, case-insensitive: to suggest the key a typo meant.
std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t substitute = diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknownKeyMessage(std::string_view name,
                              std::initializer_list<std::string_view> allowed) {
  std::string_view best;
  std::size_t bestDistance = std::string_view::npos;
  for (std::string_view candidate : allowed) {
    const std::size_t d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // Close enough to be a typo, and not merely short: "ide" suggests "id", "b" does not suggest "a".
  if (!best.empty() && bestDistance < best.size() &&
      bestDistance <= std::max<std::size_t>(1, best.size() / 4)) {
    return "unknown key (did you mean " + std::string(best) + "?)";
  }
  return "unknown key; expected one of: " + join(allowed);
}

bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Short and made of visible ASCII: safe to show unquoted in a message.
bool isPlainKey(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return c > ' ' && c < 0x7f && c != '"' && c != '\\';
  });
}

bool isHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = host.find('.', start);
    const std::string_view label =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!isAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::optional<std::string> portError(std::string_view port) {
  if (port.empty()) return "missing port after ':'";
  if (!isDigits(port) || port.size() > 5) return "port must be a number between 1 and 65535";
  int value = 0;
  std::from_chars(port.data(), port.data() + port.size(), value);
  if (value < 1 || value > 65535) return "port must be a number between 1 and 65535";
  return std::nullopt;
}

std::string trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const std::size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const std::size_t last = s.find_last_not_of(kSpace);
  return std::string(s.substr(first, last - first + 1));
}

// Whether 0-based line `line` of `text`, or the one before it, is indented with a tab.
bool indentedWithTab(std::string_view text, int line) {
  std::size_t start = 0;
  for (int i = 0; i < line - 1 && start != std::string_view::npos; ++i) {
    start = text.find('\n', start);
    if (start != std::string_view::npos) ++start;
  }
  for (int i = std::max(0, line - 1); i <= line && start < text.size(); ++i) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view l = text.substr(start, end - start);
    const std::size_t indent = l.find_first_not_of(" \t");
    if (l.substr(0, indent).find('\t') != std::string_view::npos) return true;
    start = end + 1;
  }
  return false;
}

// Records where a document starts and ignores the rest.
class DocumentStart : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  YAML::Mark start;
};

}  // namespace

// ---- Value -------------------------------------------------------------------------------------

Value::Value(const Document& doc, YAML::Node node, std::string key, int line)
    : doc_(&doc), node_(std::move(node)), key_(std::move(key)), line_(line) {}

void Value::fail(const std::string& what) const { doc_->fail(line_, key_, what); }

std::string Value::asString() const {
  if (!node_.IsScalar()) fail("expected a string, got " + describe(node_));
  const std::string& s = node_.Scalar();
  if (s.empty()) fail("must not be empty");
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) fail("must not contain control characters, got " + quote(s));
  }
  return s;
}

bool isId(std::string_view s) {
  return !s.empty() && s.size() <= kMaxIdLength && std::all_of(s.begin(), s.end(), [](char c) {
    return isAlnum(c) || c == '.' || c == '_' || c == '-';
  });
}

std::string Value::asId() const {
  const std::string s = asString();
  if (!isId(s)) {
    fail("expected a name of 1 to " + std::to_string(kMaxIdLength) +
         " characters from A-Z a-z 0-9 . _ -, got " + quote(s));
  }
  return s;
}

std::int64_t Value::asInt(std::int64_t min, std::int64_t max, std::string_view unit) const {
  const std::string kind = min > 0    ? "a positive integer"
                           : min == 0 ? "a non-negative integer"
                                      : "an integer";
  const std::string expected = "expected " + kind + " (" + std::string(unit) + ")";
  if (!node_.IsScalar()) fail(expected + ", got " + describe(node_));
  const std::string& s = node_.Scalar();
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  const bool wholeNumber = end == s.data() + s.size() && !s.empty();
  if (ec == std::errc::result_out_of_range && wholeNumber) {
    value = s.front() == '-' ? std::numeric_limits<std::int64_t>::min()
                             : std::numeric_limits<std::int64_t>::max();
  } else if (ec != std::errc() || !wholeNumber) {
    fail(expected + ", got " + quote(s));
  }
  if (value < min || value > max) {
    fail("must be between " + std::to_string(min) + " and " + std::to_string(max) + " (" +
         std::string(unit) + "), got " + s);
  }
  return value;
}

std::chrono::milliseconds Value::asMillis(std::int64_t min, std::int64_t max) const {
  return std::chrono::milliseconds(asInt(min, max, "milliseconds"));
}

std::string Value::asHostPort() const {
  if (!node_.IsScalar()) fail("expected host:port, got " + describe(node_));
  const std::string s = asString();
  if (const auto why = hostPortError(s)) fail(*why + ", got " + quote(s));
  return s;
}

std::string Value::asPath() const {
  if (!node_.IsScalar()) fail("expected a path, got " + describe(node_));
  return doc_->resolve(asString());
}

bool Value::asBool() const { return asOneOf({"true", "false"}) == "true"; }

std::vector<std::string> Value::asCommand() const {
  std::vector<std::string> argv;
  for (const Value& a : asList()) argv.push_back(a.asString());
  if (argv.empty()) fail("expected a list [\"/absolute/program\", \"arg\", ...]");
  if (argv[0].empty() || argv[0][0] != '/') {
    fail("expected an absolute program path (it runs without a shell), got " + quote(argv[0]));
  }
  return argv;
}

std::string Value::asOneOf(std::initializer_list<std::string_view> choices) const {
  if (node_.IsScalar()) {
    const std::string& s = node_.Scalar();
    for (std::string_view choice : choices) {
      if (s == choice) return s;
    }
  }
  fail("expected one of " + join(choices) + ", got " + describe(node_));
}

Map Value::asMap(std::initializer_list<std::string_view> allowed) const {
  return Map(*this, allowed);
}

std::vector<Value> Value::asList() const {
  if (!node_.IsSequence()) fail("expected a list, got " + describe(node_));
  const std::size_t size = node_.size();
  if (size > kMaxListItems) {
    fail("a list of " + std::to_string(size) + " items, more than the limit of " +
         std::to_string(kMaxListItems));
  }
  doc_->charge(size, 0, line_, key_);
  std::vector<Value> items;
  items.reserve(size);
  std::size_t i = 0;
  for (const YAML::Node& item : node_) {
    const int line = lineOf(item, line_);
    std::string key = key_ + "[" + std::to_string(i++) + "]";
    if (item.IsScalar()) doc_->charge(0, item.Scalar().size(), line, key);
    items.emplace_back(*doc_, item, std::move(key), line);
  }
  return items;
}

// ---- Map ---------------------------------------------------------------------------------------

Map::Map(const Value& self, std::initializer_list<std::string_view> allowed) : self_(self) {
  const YAML::Node& node = self_.node();
  if (!node.IsMap()) self_.fail("expected a mapping of keys, got " + describe(node));
  const Document& doc = self_.document();
  for (const auto& pair : node) {  // not it->first: yaml-cpp returns a temporary proxy
    const YAML::Node key = pair.first;
    const int line = lineOf(key, self_.line());
    if (!key.IsScalar()) {
      doc.fail(line, self_.key(), "keys must be plain names, got " + describe(key) + " as a key");
    }
    const std::string& name = key.Scalar();
    const YAML::Node value = pair.second;
    doc.charge(1, name.size() + (value.IsScalar() ? value.Scalar().size() : 0), line, self_.key());
    const bool known = std::find(allowed.begin(), allowed.end(), name) != allowed.end();
    // An unknown name is shown quoted when it could garble the message.
    const std::string shown = known || isPlainKey(name) ? keyOf(name) : keyOf(quote(name));
    if (const Entry* first = find(name)) {
      doc.fail(line, shown,
               "duplicate key (first given at line " + std::to_string(first->line) + ")");
    }
    if (!known) doc.fail(line, shown, unknownKeyMessage(name, allowed));
    entries_.push_back(Entry{name, pair.second, line});
  }
}

const Map::Entry* Map::find(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

Value Map::required(std::string_view name) const {
  if (auto v = optional(name)) return *std::move(v);
  self_.document().fail(self_.line(), keyOf(name), "missing required key");
}

std::optional<Value> Map::optional(std::string_view name) const {
  const Entry* e = find(name);
  if (e == nullptr) return std::nullopt;
  return Value(self_.document(), e->node, keyOf(name), e->line);
}

std::string Map::keyOf(std::string_view name) const {
  return self_.key().empty() ? std::string(name) : self_.key() + "." + std::string(name);
}

// ---- Document ----------------------------------------------------------------------------------

Document::Document(std::string path, const std::string& text) : path_(std::move(path)) {
  try {
    // Count the documents first, without YAML::LoadAll: yaml-cpp 0.7 loops forever, allocating,
    // on a stray token at document level such as a leading ',' (jbeder/yaml-cpp#1040). Three
    // documents at most are looked at; one that starts where the previous one did is that token.
    std::istringstream in(text);
    YAML::Parser parser(in);
    std::vector<YAML::Mark> starts;
    for (int k = 0; k < 3; ++k) {
      DocumentStart handler;
      if (!parser.HandleNextDocument(handler)) break;
      starts.push_back(handler.start);
      if (k > 0 && starts[k].pos == starts[k - 1].pos) {
        const auto pos = static_cast<std::size_t>(std::max(0, starts[k].pos));
        fail(starts[k].line + 1, "",
             "invalid YAML: unexpected " + quote(text.substr(pos, 1)) + " (column " +
                 std::to_string(starts[k].column + 1) + ")");
      }
    }
    if (starts.size() > 1) {
      fail(starts[1].line + 1, "", "expected a single YAML document, but a second one starts here");
    }
    if (!starts.empty()) root_ = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    fail(e.mark.is_null() ? 0 : e.mark.line + 1, "",
         "invalid YAML: nested more than " + std::to_string(e.depth() - 1) + " levels deep");
  } catch (const YAML::ParserException& e) {
    // yaml-cpp does not say so, but a tab in the indentation is the usual cause.
    std::string what = "invalid YAML: " + escapeControl(e.msg);
    if (!e.mark.is_null()) what += " (column " + std::to_string(e.mark.column + 1) + ")";
    if (!e.mark.is_null() && indentedWithTab(text, e.mark.line)) {
      what += "; tabs are not allowed in indentation";
    }
    fail(e.mark.is_null() ? 0 : e.mark.line + 1, "", what);
  } catch (...) {
    rethrowAsConfigError(path_);
  }
  if (!root_ || root_.IsNull()) fail(0, "", "the file is empty; expected a mapping of keys");
  if (!root_.IsMap()) {
    fail(lineOf(root_, 0), "",
         "expected a mapping of keys at the top level, got " + describe(root_));
  }
}

Map Document::root(std::initializer_list<std::string_view> allowed) const {
  return Map(Value(*this, root_, "", 0), allowed);
}

std::string Document::resolve(const std::string& p) const {
  namespace fs = std::filesystem;
  fs::path out(p);
  if (out.is_relative()) out = fs::path(path_).parent_path() / out;
  std::error_code ec;
  fs::path absolute = fs::absolute(out, ec);
  if (!ec) out = std::move(absolute);
  std::string s = out.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

void Document::fail(int line, std::string_view key, const std::string& what) const {
  throw ConfigError(formatError(path_, line, key, what));
}

void Document::charge(std::uint64_t nodes, std::uint64_t scalarBytes, int line,
                      std::string_view key) const {
  nodes_ += nodes;
  scalarBytes_ += scalarBytes;
  const char* alias = "; an alias (*name) counts its anchor's whole content each time it is used";
  if (nodes_ > kMaxConfigNodes) {
    fail(line, key,
         "more than " + std::to_string(kMaxConfigNodes) +
             " YAML nodes to convert, the limit on a configuration's size" + alias);
  }
  if (scalarBytes_ > kMaxConfigScalarBytes) {
    fail(line, key,
         "more than " + std::to_string(kMaxConfigScalarBytes) +
             " bytes of values to convert, the limit on a configuration's size" + alias);
  }
}

// ---- free functions ----------------------------------------------------------------------------

std::string formatError(std::string_view path, int line, std::string_view key,
                        std::string_view what) {
  std::string out(path);
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!key.empty()) {
    out += key;
    out += ": ";
  }
  out += what;
  return out;
}

std::string quote(std::string_view s, std::size_t max) {
  bool cut = false;
  if (s.size() > max) {
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // whole UTF-8 chars
    s = s.substr(0, n);
    cut = true;
  }
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += escapeControl(std::string_view(&c, 1));
  }
  out += '"';
  if (cut) out += "...";
  return out;
}

std::string escapeControl(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> hostPortError(std::string_view s) {
  constexpr std::string_view kExpected = "expected host:port (IPv6 as [::1]:7101)";
  if (s.empty()) return std::string(kExpected);
  std::string_view port;
  if (s.front() == '[') {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos) return "missing ']' after the IPv6 address";
    const std::string host(s.substr(1, close - 1));
    if (close + 1 >= s.size() || s[close + 1] != ':') return std::string(kExpected);
    in6_addr addr{};
    if (host.empty() || inet_pton(AF_INET6, host.c_str(), &addr) != 1) {
      return "invalid IPv6 address";
    }
    port = s.substr(close + 2);
  } else {
    const std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return std::string(kExpected);
    const std::string host(s.substr(0, colon));
    if (host.empty()) return "missing host before ':'";
    if (host.find(':') != std::string::npos) {
      return "IPv6 addresses must be in brackets, as in [::1]:7101";
    }
    const bool numeric = std::all_of(host.begin(), host.end(),
                                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    if (numeric) {
      in_addr addr{};
      if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return "invalid IPv4 address";
    } else if (!isHostName(host)) {
      return "invalid host name";
    }
    port = s.substr(colon + 1);
  }
  return portError(port);
}

std::optional<std::string> readFile(const std::string& path, std::size_t maxBytes,
                                    std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::generic_category().message(errno);
    return std::nullopt;
  }
  // A regular file too large is refused unread; a pipe or device is cut off below instead.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<std::uint64_t>(st.st_size) > maxBytes) {
    error = "larger than " + std::to_string(maxBytes) + " bytes (" + std::to_string(st.st_size) +
            " bytes)";
    ::close(fd);
    return std::nullopt;
  }
  std::string out;
  char buf[8192];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::generic_category().message(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > maxBytes) {
      error = "larger than " + std::to_string(maxBytes) + " bytes";
      ::close(fd);
      return std::nullopt;
    }
  }
  ::close(fd);
  return out;
}

std::string readConfigFile(const std::string& path) {
  std::string error;
  auto text = readFile(path, kMaxConfigBytes, error);
  if (!text) throw ConfigError(formatError(path, 0, "", "cannot read: " + error));
  return *std::move(text);
}

namespace {

// "0644" for the permission bits of `mode`.
std::string octalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// One key file: owner-only, and at least kMinSecretBytes once trimmed. `at` is blamed.
std::string readKeyFile(const Value& at, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
    at.fail(quote(path, 200) + " has mode " + octalMode(st.st_mode) +
            ": a key must be readable by its owner only (chmod 600 it)");
  }
  std::string error;
  const auto content = readFile(path, kMaxSecretBytes, error);
  if (!content) at.fail("cannot read " + quote(path, 200) + ": " + error);
  std::string key = trim(*content);
  if (key.empty()) at.fail(quote(path, 200) + " is empty");
  if (key.size() < kMinSecretBytes) {
    at.fail(quote(path, 200) + " holds " + std::to_string(key.size()) +
            " bytes; a key needs at least " + std::to_string(kMinSecretBytes) +
            " (make one with: head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE)");
  }
  return key;
}

}  // namespace

std::vector<std::string> readSecrets(const Map& m) {
  const std::optional<Value> inlined = m.optional("secret");
  const std::optional<Value> file = m.optional("secret_file");
  if (inlined && file) {
    file->fail("give either secret or secret_file, not both (secret is at line " +
               std::to_string(inlined->line()) + ")");
  }
  if (!inlined && !file) {
    m.value().document().fail(m.value().line(), m.keyOf("secret_file"),
                              "missing required key (or give the secret inline as secret)");
  }
  if (inlined) {
    std::string key = inlined->asString();
    if (key.size() < kMinSecretBytes) {
      inlined->fail("holds " + std::to_string(key.size()) + " bytes; a key needs at least " +
                    std::to_string(kMinSecretBytes));
    }
    // The key is as private as the file that holds it. A document parsed from text with no file
    // behind it (a test, a check of text in memory) has no mode to check.
    const std::string& configPath = m.value().document().path();
    struct stat st {};
    if (::stat(configPath.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      inlined->fail("an inline key needs a config file readable by its owner only, and " +
                    quote(configPath, 200) + " has mode " + octalMode(st.st_mode) +
                    " (chmod 600 it, or move the key to secret_file)");
    }
    return {std::move(key)};
  }
  std::vector<std::string> keys;
  if (!file->node().IsSequence()) {
    keys.push_back(readKeyFile(*file, file->asPath()));
    return keys;
  }
  // A rotation: the new key first (it signs), the old one second (still accepted).
  const std::vector<Value> items = file->asList();
  if (items.empty() || items.size() > kMaxSecretFiles) {
    file->fail("expected one key file, or a list of " + std::to_string(kMaxSecretFiles) +
               " (the signing key first), got " + std::to_string(items.size()));
  }
  for (const Value& item : items) {
    std::string key = readKeyFile(item, item.asPath());
    for (const auto& k : keys) {
      if (k == key) item.fail("the same key as the file before it");
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

std::string readLogLevel(const Map& m) {
  const std::optional<Value> v = m.optional("log_level");
  if (!v) return std::string(kDefaultLogLevel);
  return v->asOneOf({"trace", "debug", "info", "warn", "error"});
}

void rethrowAsConfigError(const std::string& path) {
  try {
    throw;
  } catch (const ConfigError&) {
    throw;
  } catch (const YAML::ParserException& e) {
    std::string what = "invalid YAML: " + escapeControl(e.msg);
    if (!e.mark.is_null()) what += " (column " + std::to_string(e.mark.column + 1) + ")";
    throw ConfigError(formatError(path, e.mark.is_null() ? 0 : e.mark.line + 1, "", what));
  } catch (const YAML::Exception& e) {
    throw ConfigError(
        formatError(path, e.mark.is_null() ? 0 : e.mark.line + 1, "", escapeControl(e.msg)));
  } catch (const std::exception& e) {
    throw ConfigError(formatError(path, 0, "", escapeControl(e.what())));
  } catch (...) {
    throw ConfigError(formatError(path, 0, "", "unexpected error"));
  }
}

}  // namespace quorate::config
