// Shared YAML config parsing: typed getters whose errors name the file, the line and the key.
//
// Every problem is reported as a quorate::ConfigError whose text reads
//   <file>:<line>: <key.path>: <what is wrong>
// (the line is left out when there is none, e.g. for a missing top-level key). Parsers wrap
// their work in guarded() so that no yaml-cpp or other exception escapes.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config_error.h"

namespace quorate::config {

// Limits shared by the configs (docs/configuration.md, "Limits", says why each is what it is).
inline constexpr std::int64_t kMaxMillis = 86'400'000;  // one day
// A config file: a larger one is refused before it is read, let alone parsed.
inline constexpr std::size_t kMaxConfigBytes = 4 << 20;
// Items of one list: a list is made whole before its items are looked at.
inline constexpr std::size_t kMaxListItems = 100'000;
// The work of turning a document into a config, counted as it happens: nodes visited (a key of a
// mapping, an item of a list) and the bytes of the scalars among them. An alias counts again
// each time it is used, since each use is converted again: a few hundred KiB of nested aliases
// ("billion laughs") would otherwise stand for billions of nodes.
inline constexpr std::uint64_t kMaxConfigNodes = 1'000'000;
inline constexpr std::uint64_t kMaxConfigScalarBytes = 16 << 20;
inline constexpr std::size_t kMaxSecretBytes = 64 << 10;  // a secret file, 64 KiB
inline constexpr std::size_t kMaxIdLength = 64;           // [A-Za-z0-9._-]{1,64}
inline constexpr std::string_view kDefaultLogLevel = "info";

class Document;
class Map;

// One node of a document, with the key path that leads to it ("directors[1].address") and the
// line to blame for it (1-based; 0 when unknown). Valid while its Document lives.
class Value {
 public:
  Value(const Document& doc, YAML::Node node, std::string key, int line);

  const std::string& key() const { return key_; }
  int line() const { return line_; }
  const YAML::Node& node() const { return node_; }
  const Document& document() const { return *doc_; }

  // Throws ConfigError "<file>:<line>: <key>: <what>".
  [[noreturn]] void fail(const std::string& what) const;

  // A non-empty scalar without control characters.
  std::string asString() const;
  // A name made of [A-Za-z0-9._-], 1 to kMaxIdLength characters.
  std::string asId() const;
  // A decimal integer in [min, max]; `unit` names what it counts, for messages.
  std::int64_t asInt(std::int64_t min, std::int64_t max, std::string_view unit) const;
  // An integer number of milliseconds in [min, max].
  std::chrono::milliseconds asMillis(std::int64_t min = 1, std::int64_t max = kMaxMillis) const;
  // "host:port" or "[ipv6]:port"; see hostPortError().
  std::string asHostPort() const;
  // A path; a relative one is resolved against the config file's directory. Made absolute.
  std::string asPath() const;
  // A program and its arguments, run without a shell: a non-empty list of strings whose first
  // item is an absolute path.
  std::vector<std::string> asCommand() const;
  // true or false.
  bool asBool() const;
  // One of `choices`, exactly.
  std::string asOneOf(std::initializer_list<std::string_view> choices) const;
  // A mapping whose keys must all be in `allowed`; unknown and duplicate keys are errors.
  Map asMap(std::initializer_list<std::string_view> allowed) const;
  // A sequence; its items are named "<key>[i]".
  std::vector<Value> asList() const;

 private:
  const Document* doc_;
  YAML::Node node_;
  std::string key_;
  int line_;
};

// A checked mapping: only allowed keys, none twice.
class Map {
 public:
  Map(const Value& self, std::initializer_list<std::string_view> allowed);

  bool has(std::string_view name) const { return find(name) != nullptr; }
  // Throws "<key>: missing required key" (at the mapping's line) when absent.
  Value required(std::string_view name) const;
  std::optional<Value> optional(std::string_view name) const;
  // The full key path of `name` in this mapping, e.g. "timers.quarantine_ms".
  std::string keyOf(std::string_view name) const;
  // The mapping itself.
  const Value& value() const { return self_; }

 private:
  struct Entry {
    std::string name;
    YAML::Node node;
    int line;
  };
  const Entry* find(std::string_view name) const;

  Value self_;
  std::vector<Entry> entries_;
};

// One parsed config file: its name for messages, its directory for relative paths.
class Document {
 public:
  // Parses `text` as exactly one YAML document whose root is a mapping. `path` is where the text
  // came from; it is only used in messages and to resolve relative paths.
  Document(std::string path, const std::string& text);
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  const std::string& path() const { return path_; }
  // The root mapping, checked against `allowed`.
  Map root(std::initializer_list<std::string_view> allowed) const;
  // `p` if absolute, else `p` relative to the directory of path(); absolute and normalised.
  std::string resolve(const std::string& p) const;
  // Throws ConfigError "<path>[:<line>]: [<key>: ]<what>".
  [[noreturn]] void fail(int line, std::string_view key, const std::string& what) const;

  // Counts `nodes` visited and `scalarBytes` read at (line, key) towards kMaxConfigNodes and
  // kMaxConfigScalarBytes; throws the ConfigError naming the limit when either is passed. Map
  // and Value::asList() call it for every entry and item they hand out.
  void charge(std::uint64_t nodes, std::uint64_t scalarBytes, int line, std::string_view key) const;
  std::uint64_t nodesVisited() const { return nodes_; }

 private:
  std::string path_;
  YAML::Node root_;
  mutable std::uint64_t nodes_ = 0;
  mutable std::uint64_t scalarBytes_ = 0;
};

// "<path>[:<line>]: [<key>: ]<what>" — the one format of every config error.
std::string formatError(std::string_view path, int line, std::string_view key,
                        std::string_view what);

// `s` in double quotes with control characters escaped, cut after `max` bytes. For messages.
std::string quote(std::string_view s, std::size_t max = 60);

// True for a name asId() accepts: 1 to kMaxIdLength characters from [A-Za-z0-9._-].
bool isId(std::string_view s);

// `s` with newlines, tabs and other control characters written as \n, \t, \xHH: one line.
std::string escapeControl(std::string_view s);

// Why `s` is not a valid "host:port" (or "[ipv6]:port") with a port in 1..65535, or nullopt.
// Hosts are IPv4 addresses, bracketed IPv6 addresses or DNS names.
std::optional<std::string> hostPortError(std::string_view s);

// Reads a whole file of at most `maxBytes`. On failure returns nullopt and sets `error` to a
// reason such as "No such file or directory".
std::optional<std::string> readFile(const std::string& path, std::size_t maxBytes,
                                    std::string& error);

// Reads a config file of at most kMaxConfigBytes (a larger one is refused before it is read);
// throws ConfigError "<path>: cannot read: <reason>" ("larger than 4194304 bytes (<size>)").
std::string readConfigFile(const std::string& path);

// The keys of `m`: exactly one of `secret` (inline) or `secret_file` (a path resolved like
// asPath(), or a list of two during a rotation, the signing key first). File contents are trimmed
// of surrounding whitespace. Each key has at least kMinSecretBytes; a key file and a config file
// with an inline key must not be readable by group or others (docs/security.md).
inline constexpr std::size_t kMaxSecretFiles = 2;
std::vector<std::string> readSecrets(const Map& m);

// `log_level` of `m`, one of trace|debug|info|warn|error; kDefaultLogLevel when absent.
std::string readLogLevel(const Map& m);

// Rethrows the exception being handled as a ConfigError naming `path` (a ConfigError as is, a
// yaml-cpp error with its line). Call only from a catch block.
[[noreturn]] void rethrowAsConfigError(const std::string& path);

// Runs `parse` and turns any exception it throws into a ConfigError naming `path`.
template <typename F>
decltype(auto) guarded(const std::string& path, F&& parse) {
  try {
    return parse();
  } catch (...) {
    rethrowAsConfigError(path);
  }
}

}  // namespace quorate::config
