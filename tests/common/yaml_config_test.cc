// Unit tests of the shared YAML config helpers: getters, key checks, host:port, secrets, errors.
#include "common/yaml_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <stdexcept>
#include <string>

#include "tests/common/config_test_util.h"

namespace quorate::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testutil::configErrorOf;
using testutil::TempDir;

constexpr char kPath[] = "/etc/quorate/test.yaml";

TEST(FormatError, FileLineKeyWhat) {
  EXPECT_EQ(formatError("a.yaml", 3, "timers.x", "bad"), "a.yaml:3: timers.x: bad");
  EXPECT_EQ(formatError("a.yaml", 0, "node", "bad"), "a.yaml: node: bad");
  EXPECT_EQ(formatError("a.yaml", 7, "", "bad"), "a.yaml:7: bad");
}

TEST(Quote, EscapesAndCuts) {
  EXPECT_EQ(quote("fast"), "\"fast\"");
  EXPECT_EQ(quote("a\"b\\c\n\t"), "\"a\\\"b\\\\c\\n\\t\"");
  EXPECT_EQ(quote(std::string("a\0b", 3)), "\"a\\x00b\"");
  EXPECT_EQ(quote("abcdef", 3), "\"abc\"...");
  EXPECT_EQ(quote("\xc3\xa9\xc3\xa9", 3), "\"\xc3\xa9\"...");  // never half a character
}

TEST(EscapeControl, OneLine) {
  EXPECT_EQ(escapeControl("a\nb\tc\x01 \"d\" \xc3\xa9"), "a\\nb\\tc\\x01 \"d\" \xc3\xa9");
}

TEST(HostPort, Valid) {
  for (const char* s : {"127.0.0.1:7101", "0.0.0.0:1", "[::1]:7101", "[::]:65535", "[fe80::1:2]:80",
                        "localhost:7100", "arbiter.example.com:443", "a-b.c1:9"}) {
    EXPECT_EQ(hostPortError(s), std::nullopt) << s;
  }
}

TEST(HostPort, Invalid) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "expected host:port"},
      {"127.0.0.1", "expected host:port"},
      {":7101", "missing host"},
      {"127.0.0.1:", "missing port"},
      {"127.0.0.1:0", "between 1 and 65535"},
      {"127.0.0.1:65536", "between 1 and 65535"},
      {"127.0.0.1:123456", "between 1 and 65535"},
      {"127.0.0.1:+80", "between 1 and 65535"},
      {"127.0.0.1:http", "between 1 and 65535"},
      {"::1:7101", "in brackets"},
      {"[::1]", "expected host:port"},
      {"[::1]7101", "expected host:port"},
      {"[::1:7101", "missing ']'"},
      {"[]:7101", "invalid IPv6"},
      {"[zz::1]:7101", "invalid IPv6"},
      {"[127.0.0.1]:7101", "invalid IPv6"},
      {"300.1.1.1:7101", "invalid IPv4"},
      {"1.2.3:7101", "invalid IPv4"},
      {"-bad:7101", "invalid host name"},
      {"a..b:7101", "invalid host name"},
      {"host name:7101", "invalid host name"},
      {"host_1:7101", "invalid host name"},
  };
  for (const auto& [input, why] : cases) {
    const auto error = hostPortError(input);
    ASSERT_TRUE(error.has_value()) << input;
    EXPECT_THAT(*error, HasSubstr(why)) << input;
  }
}

TEST(Document, EmptyFilesAreErrors) {
  for (const char* text : {"", "   \n\n", "# only a comment\n", "---\n", "~\n"}) {
    EXPECT_EQ(configErrorOf([&] { Document d(kPath, text); }),
              std::string(kPath) + ": the file is empty; expected a mapping of keys")
        << text;
  }
}

TEST(Document, RootMustBeOneMapping) {
  EXPECT_EQ(configErrorOf([] { Document d(kPath, "- a\n- b\n"); }),
            std::string(kPath) + ":1: expected a mapping of keys at the top level, got a list");
  EXPECT_EQ(
      configErrorOf([] { Document d(kPath, "just text\n"); }),
      std::string(kPath) + ":1: expected a mapping of keys at the top level, got \"just text\"");
  EXPECT_EQ(
      configErrorOf([] { Document d(kPath, "a: 1\n---\nb: 2\n"); }),
      std::string(kPath) + ":2: expected a single YAML document, but a second one starts here");
  EXPECT_THAT(configErrorOf([] { Document d(kPath, "- a\nb: 1\n"); }),
              HasSubstr(":2: expected a single YAML document"));
}

TEST(Document, SyntaxErrorsNameTheLine) {
  EXPECT_THAT(configErrorOf([] { Document d(kPath, "a: 1\nb: [1, 2\nc: 3\n"); }),
              HasSubstr(std::string(kPath) + ":"));
  const std::string e = configErrorOf([] { Document d(kPath, "a: 1\nb:\n  c: 1\n d: 2\n"); });
  EXPECT_THAT(e, HasSubstr(std::string(kPath) + ":4: invalid YAML: ")) << e;
  EXPECT_THAT(configErrorOf([] { Document d(kPath, "a: *nowhere\n"); }), HasSubstr("invalid YAML"));
}

// yaml-cpp 0.7's LoadAll loops forever, allocating, on these (jbeder/yaml-cpp#1040).
TEST(Document, StrayTokensAreErrorsNotHangs) {
  EXPECT_EQ(configErrorOf([] { Document d(kPath, ",\n"); }),
            std::string(kPath) + ":1: invalid YAML: unexpected \",\" (column 1)");
  EXPECT_EQ(configErrorOf([] { Document d(kPath, ",listen: x\n"); }),
            std::string(kPath) + ":1: invalid YAML: unexpected \",\" (column 1)");
  EXPECT_EQ(configErrorOf([] { Document d(kPath, "a: 1\n...\n  ,\n"); }),
            std::string(kPath) + ":3: invalid YAML: unexpected \",\" (column 3)");
  EXPECT_THAT(configErrorOf([] { Document d(kPath, "a: 1\n,\n"); }), HasSubstr(":2: invalid YAML"));
  EXPECT_THAT(configErrorOf([] { Document d(kPath, "]\n"); }), HasSubstr(":1: invalid YAML"));
  EXPECT_THAT(configErrorOf([] { Document d(kPath, "{:\n"); }), HasSubstr("invalid YAML"));
}

TEST(Document, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = "a: " + std::string(100000, '[');
  EXPECT_THAT(configErrorOf([&] { Document d(kPath, deep); }),
              StartsWith(std::string(kPath) + ":1: invalid YAML: nested more than"));
  const std::string deepMap = "a: " + std::string(100000, '{');
  EXPECT_THAT(configErrorOf([&] { Document d(kPath, deepMap); }), HasSubstr("nested more than"));
  std::string dashes;
  for (int i = 0; i < 20000; ++i) dashes += "- ";
  EXPECT_THAT(configErrorOf([&] { Document d(kPath, dashes + "x\n"); }),
              HasSubstr("nested more than"));
  std::string indented;
  for (int i = 0; i < 5000; ++i) indented += std::string(i, ' ') + "a:\n";
  EXPECT_THAT(configErrorOf([&] { Document d(kPath, indented); }), HasSubstr("nested more than"));
}

TEST(Document, AliasesAreSharedNotExpanded) {
  std::string laughs = "a: &a0 [x, x]\n";
  for (int i = 1; i < 64; ++i) {
    const std::string prev = "a" + std::to_string(i - 1);
    laughs +=
        "b" + std::to_string(i) + ": &a" + std::to_string(i) + " [*" + prev + ", *" + prev + "]\n";
  }
  const Document d(kPath, laughs);  // 2^64 leaves if expanded
  EXPECT_THAT(configErrorOf([&] { d.root({"a"}); }), HasSubstr(":2: b1: unknown key"));
}

TEST(Document, ResolvesRelativePathsAgainstItsDirectory) {
  const Document d(kPath, "a: 1\n");
  EXPECT_EQ(d.resolve("demo.secret"), "/etc/quorate/demo.secret");
  EXPECT_EQ(d.resolve("../lib/x/"), "/etc/lib/x");
  EXPECT_EQ(d.resolve("/var/lib/q"), "/var/lib/q");
  EXPECT_EQ(d.resolve("/var//lib/./q/"), "/var/lib/q");
  const Document bare("bare.yaml", "a: 1\n");  // no directory: the current one
  EXPECT_EQ(bare.resolve("x"), (std::filesystem::current_path() / "x").string());
}

TEST(Map, UnknownKeysSuggestTheNearestOne) {
  const Document d(kPath, "listen: x\nholder_lease: 1\n");
  EXPECT_EQ(configErrorOf([&] {
              d.root({"listen", "holder_lease_ms"});
            }),
            std::string(kPath) + ":2: holder_lease: unknown key (did you mean holder_lease_ms?)");
  const Document far(kPath, "listen: x\nzzz: 1\n");
  EXPECT_EQ(configErrorOf([&] {
              far.root({"listen", "state_dir"});
            }),
            std::string(kPath) + ":2: zzz: unknown key; expected one of: listen, state_dir");
  const Document caseTypo(kPath, "Listen: x\n");
  EXPECT_THAT(configErrorOf([&] { caseTypo.root({"listen"}); }), HasSubstr("did you mean listen?"));
}

TEST(Map, NestedKeysAreNamedWithTheirPath) {
  const Document d(kPath, "timers:\n  a: 1\n  typo: 2\n");
  const Map root = d.root({"timers"});
  EXPECT_EQ(configErrorOf([&] {
              root.required("timers").asMap({"a", "b"});
            }),
            std::string(kPath) + ":3: timers.typo: unknown key; expected one of: a, b");
}

TEST(Map, OddUnknownKeysAreQuoted) {
  const Document d(kPath, "a: 1\n? |\n  two\n  lines\n: 2\n");
  EXPECT_EQ(configErrorOf([&] { d.root({"a"}); }),
            std::string(kPath) + ":2: \"two\\nlines\\n\": unknown key; expected one of: a");
  const Document spaced(kPath, "t:\n  \"x y\": 1\n");
  EXPECT_THAT(configErrorOf([&] { spaced.root({"t"}).required("t").asMap({"a"}); }),
              HasSubstr(":2: t.\"x y\": unknown key"));
}

TEST(Map, DuplicateKeys) {
  const Document d(kPath, "a: 1\nb: 2\na: 3\n");
  EXPECT_EQ(configErrorOf([&] {
              d.root({"a", "b"});
            }),
            std::string(kPath) + ":3: a: duplicate key (first given at line 1)");
}

TEST(Map, NonScalarKeys) {
  const Document d(kPath, "a: 1\n[x, y]: 2\n");
  EXPECT_EQ(configErrorOf([&] { d.root({"a"}); }),
            std::string(kPath) + ":2: keys must be plain names, got a list as a key");
  const Document nested(kPath, "t:\n  ? {k: v}\n  : 1\n");
  EXPECT_THAT(configErrorOf([&] { nested.root({"t"}).required("t").asMap({"a"}); }),
              HasSubstr(":2: t: keys must be plain names, got a mapping as a key"));
}

TEST(Map, MissingRequiredKeys) {
  const Document d(kPath, "a: 1\nsub:\n  x: 1\n");
  const Map root = d.root({"a", "b", "sub"});
  EXPECT_EQ(configErrorOf([&] { root.required("b"); }),
            std::string(kPath) + ": b: missing required key");
  const Map sub = root.required("sub").asMap({"x", "y"});
  EXPECT_EQ(configErrorOf([&] { sub.required("y"); }),
            std::string(kPath) + ":2: sub.y: missing required key");
  EXPECT_FALSE(sub.optional("y").has_value());
  EXPECT_TRUE(sub.has("x"));
  EXPECT_EQ(sub.keyOf("y"), "sub.y");
}

TEST(Value, Strings) {
  const Document d(kPath, "a: hello\nb:\nc: [1]\nd: \"\"\ne: \"x\\ty\"\nf: 123\n");
  const Map m = d.root({"a", "b", "c", "d", "e", "f"});
  EXPECT_EQ(m.required("a").asString(), "hello");
  EXPECT_EQ(m.required("f").asString(), "123");
  EXPECT_EQ(configErrorOf([&] { m.required("b").asString(); }),
            std::string(kPath) + ":2: b: expected a string, got nothing");
  EXPECT_EQ(configErrorOf([&] { m.required("c").asString(); }),
            std::string(kPath) + ":3: c: expected a string, got a list");
  EXPECT_EQ(configErrorOf([&] { m.required("d").asString(); }),
            std::string(kPath) + ":4: d: must not be empty");
  EXPECT_THAT(configErrorOf([&] { m.required("e").asString(); }),
              HasSubstr(":5: e: must not contain control characters, got \"x\\ty\""));
}

TEST(Value, Ids) {
  const Document d(kPath, "a: demo-1.x_y\nb: has space\nc: " + std::string(65, 'x') + "\n");
  const Map m = d.root({"a", "b", "c"});
  EXPECT_EQ(m.required("a").asId(), "demo-1.x_y");
  EXPECT_THAT(configErrorOf([&] { m.required("b").asId(); }),
              HasSubstr(":2: b: expected a name of 1 to 64 characters"));
  EXPECT_THAT(configErrorOf([&] { m.required("c").asId(); }), HasSubstr(":3: c: expected a name"));
}

TEST(Value, Integers) {
  const Document d(kPath,
                   "ok: 1500\nfast: fast\nzero: 0\nneg: -5\nfloat: 1.5\nhex: 0x10\n"
                   "huge: 99999999999999999999999\nhugeneg: -99999999999999999999999\n"
                   "empty:\nlist: [1]\nspace: \" 12\"\nunit: 1500ms\n");
  const Map m = d.root({"ok", "fast", "zero", "neg", "float", "hex", "huge", "hugeneg", "empty",
                        "list", "space", "unit"});
  EXPECT_EQ(m.required("ok").asMillis(), std::chrono::milliseconds(1500));
  EXPECT_EQ(m.required("zero").asInt(0, 10, "things"), 0);
  EXPECT_EQ(m.required("neg").asInt(-10, 10, "things"), -5);
  EXPECT_EQ(
      configErrorOf([&] { m.required("fast").asMillis(); }),
      std::string(kPath) + ":2: fast: expected a positive integer (milliseconds), got \"fast\"");
  EXPECT_EQ(configErrorOf([&] { m.required("zero").asMillis(); }),
            std::string(kPath) + ":3: zero: must be between 1 and 86400000 (milliseconds), got 0");
  EXPECT_EQ(configErrorOf([&] { m.required("neg").asInt(0, 5, "ppm"); }),
            std::string(kPath) + ":4: neg: must be between 0 and 5 (ppm), got -5");
  EXPECT_THAT(configErrorOf([&] { m.required("float").asMillis(); }),
              HasSubstr(":5: float: expected a positive integer (milliseconds), got \"1.5\""));
  EXPECT_THAT(configErrorOf([&] { m.required("hex").asMillis(); }), HasSubstr(":6: hex: expected"));
  EXPECT_THAT(configErrorOf([&] { m.required("huge").asMillis(); }),
              HasSubstr(":7: huge: must be between 1 and 86400000 (milliseconds), got 9999"));
  EXPECT_THAT(configErrorOf([&] { m.required("hugeneg").asMillis(); }),
              HasSubstr(":8: hugeneg: must be between 1 and 86400000"));
  EXPECT_THAT(configErrorOf([&] { m.required("empty").asMillis(); }),
              HasSubstr(":9: empty: expected a positive integer (milliseconds), got nothing"));
  EXPECT_THAT(configErrorOf([&] { m.required("list").asMillis(); }), HasSubstr("got a list"));
  EXPECT_THAT(configErrorOf([&] { m.required("space").asMillis(); }),
              HasSubstr(":11: space: expected"));
  EXPECT_THAT(configErrorOf([&] { m.required("unit").asMillis(); }),
              HasSubstr(":12: unit: expected"));
}

TEST(Value, HostPortPathOneOf) {
  const Document d(kPath, "a: \"[::1]:7101\"\nb: nope\nc: rel/dir\nd: info\ne: loud\nf: {x: 1}\n");
  const Map m = d.root({"a", "b", "c", "d", "e", "f"});
  EXPECT_EQ(m.required("a").asHostPort(), "[::1]:7101");
  EXPECT_EQ(configErrorOf([&] { m.required("b").asHostPort(); }),
            std::string(kPath) + ":2: b: expected host:port (IPv6 as [::1]:7101), got \"nope\"");
  EXPECT_THAT(configErrorOf([&] { m.required("f").asHostPort(); }),
              HasSubstr(":6: f: expected host:port, got a mapping"));
  EXPECT_EQ(m.required("c").asPath(), "/etc/quorate/rel/dir");
  EXPECT_EQ(m.required("d").asOneOf({"info", "warn"}), "info");
  EXPECT_EQ(configErrorOf([&] {
              m.required("e").asOneOf({"info", "warn"});
            }),
            std::string(kPath) + ":5: e: expected one of info, warn, got \"loud\"");
}

TEST(Value, ListsNameTheirItems) {
  const Document d(kPath, "l:\n  - a: 1\n  - a: 2\n    b: 3\ns: x\n");
  const Map root = d.root({"l", "s"});
  const std::vector<Value> items = root.required("l").asList();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].key(), "l[1]");
  EXPECT_EQ(items[1].line(), 3);
  EXPECT_EQ(configErrorOf([&] { items[1].asMap({"a"}); }),
            std::string(kPath) + ":4: l[1].b: unknown key; expected one of: a");
  EXPECT_EQ(configErrorOf([&] { root.required("s").asList(); }),
            std::string(kPath) + ":5: s: expected a list, got \"x\"");
}

// Writes a key file readable by its owner only, as the loader demands.
std::string writeKey(const TempDir& dir, const std::string& name, const std::string& content,
                     mode_t mode = 0600) {
  const std::string p = dir.write(name, content);
  ::chmod(p.c_str(), mode);
  return p;
}

TEST(Secret, InlineOrFile) {
  TempDir dir;
  writeKey(dir, "good.secret", "  \n s3cret value of 24 bytes \n\n");
  writeKey(dir, "empty.secret", " \n\t\n");
  const std::string path = dir.file("c.yaml");  // no such file: an inline key has no mode to check
  auto secretsOf = [&](const std::string& text) {
    const Document d(path, text);
    return readSecrets(d.root({"secret", "secret_file", "x"}));
  };
  using Keys = std::vector<std::string>;
  EXPECT_EQ(secretsOf("secret: abcdefghijklmnop\n"), Keys{"abcdefghijklmnop"});
  EXPECT_EQ(secretsOf("secret_file: good.secret\n"), Keys{"s3cret value of 24 bytes"});
  EXPECT_EQ(secretsOf("secret_file: " + dir.file("good.secret") + "\n"),
            Keys{"s3cret value of 24 bytes"});
  EXPECT_EQ(configErrorOf([&] { secretsOf("x: 1\nsecret_file: /nope\n"); }),
            path + ":2: secret_file: cannot read \"/nope\": No such file or directory");
  EXPECT_EQ(configErrorOf([&] { secretsOf("x: 1\nsecret_file: empty.secret\n"); }),
            path + ":2: secret_file: \"" + dir.file("empty.secret") + "\" is empty");
  EXPECT_EQ(configErrorOf([&] { secretsOf("secret_file: .\n"); }),
            path + ":1: secret_file: cannot read \"" + dir.path() + "\": Is a directory");
  EXPECT_EQ(configErrorOf([&] { secretsOf("secret: a\nsecret_file: good.secret\n"); }),
            path +
                ":2: secret_file: give either secret or secret_file, not both (secret is at "
                "line 1)");
  EXPECT_EQ(configErrorOf([&] { secretsOf("x: 1\n"); }),
            path + ": secret_file: missing required key (or give the secret inline as secret)");
  EXPECT_EQ(configErrorOf([&] { secretsOf("secret: \"\"\n"); }),
            path + ":1: secret: must not be empty");
  EXPECT_THAT(configErrorOf([&] { secretsOf("secret:\n"); }),
              HasSubstr(":1: secret: expected a string"));
}

TEST(Secret, ShortKeysAreRefused) {
  TempDir dir;
  writeKey(dir, "short.secret", "  fifteen-bytes!!  \n");
  writeKey(dir, "sixteen.secret", "sixteen-bytes-ok\n");
  const std::string path = dir.file("c.yaml");
  auto secretsOf = [&](const std::string& text) {
    const Document d(path, text);
    return readSecrets(d.root({"secret", "secret_file"}));
  };
  EXPECT_EQ(secretsOf("secret_file: sixteen.secret\n"),
            std::vector<std::string>{"sixteen-bytes-ok"});
  EXPECT_EQ(configErrorOf([&] { secretsOf("secret_file: short.secret\n"); }),
            path + ":1: secret_file: \"" + dir.file("short.secret") +
                "\" holds 15 bytes; a key needs at least 16 (make one with: head -c 32 "
                "/dev/urandom | base64 > FILE; chmod 600 FILE)");
  EXPECT_EQ(configErrorOf([&] { secretsOf("secret: s3cret\n"); }),
            path + ":1: secret: holds 6 bytes; a key needs at least 16");
}

TEST(Secret, KeysReadableByOthersAreRefusedNamingFileAndMode) {
  TempDir dir;
  for (const mode_t mode : {0640, 0604, 0660, 0644}) {
    SCOPED_TRACE(mode);
    writeKey(dir, "open.secret", "a-key-long-enough-for-anyone\n", mode);
    const Document d(dir.file("c.yaml"), "secret_file: open.secret\n");
    char m[8];
    std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(mode));
    EXPECT_EQ(configErrorOf([&] { readSecrets(d.root({"secret_file"})); }),
              dir.file("c.yaml") + ":1: secret_file: \"" + dir.file("open.secret") +
                  "\" has mode " + m + ": a key must be readable by its owner only (chmod 600 it)");
  }
  writeKey(dir, "owner.secret", "a-key-long-enough-for-anyone\n", 0400);
  const Document ok(dir.file("c.yaml"), "secret_file: owner.secret\n");
  EXPECT_EQ(readSecrets(ok.root({"secret_file"})).size(), 1u);
}

TEST(Secret, AnInlineKeyNeedsAnOwnerOnlyConfigFile) {
  TempDir dir;
  const std::string text = "secret: an-inline-key-of-28-bytes\n";
  const std::string open = writeKey(dir, "open.yaml", text, 0644);
  const Document d(open, text);
  EXPECT_EQ(configErrorOf([&] { readSecrets(d.root({"secret"})); }),
            open +
                ":1: secret: an inline key needs a config file readable by its owner only, "
                "and \"" +
                open + "\" has mode 0644 (chmod 600 it, or move the key to secret_file)");
  const std::string closed = writeKey(dir, "closed.yaml", text, 0600);
  const Document c(closed, text);
  EXPECT_EQ(readSecrets(c.root({"secret"})), std::vector<std::string>{"an-inline-key-of-28-bytes"});
}

TEST(Secret, TwoFilesForARotationTheFirstSigns) {
  TempDir dir;
  writeKey(dir, "new.secret", "the-new-key-0123456789\n");
  writeKey(dir, "old.secret", "the-old-key-0123456789\n");
  writeKey(dir, "copy.secret", "the-old-key-0123456789\n");
  writeKey(dir, "third.secret", "the-third-key-012345678\n");
  const std::string path = dir.file("c.yaml");
  auto secretsOf = [&](const std::string& text) {
    const Document d(path, text);
    return readSecrets(d.root({"secret_file"}));
  };
  EXPECT_EQ(secretsOf("secret_file: [new.secret, old.secret]\n"),
            (std::vector<std::string>{"the-new-key-0123456789", "the-old-key-0123456789"}));
  EXPECT_EQ(secretsOf("secret_file:\n  - old.secret\n"),
            std::vector<std::string>{"the-old-key-0123456789"});
  EXPECT_EQ(
      configErrorOf([&] { secretsOf("secret_file: [new.secret, old.secret, third.secret]\n"); }),
      path +
          ":1: secret_file: expected one key file, or a list of 2 (the signing key "
          "first), got 3");
  EXPECT_EQ(configErrorOf([&] { secretsOf("secret_file: []\n"); }),
            path +
                ":1: secret_file: expected one key file, or a list of 2 (the signing key "
                "first), got 0");
  EXPECT_EQ(configErrorOf([&] { secretsOf("secret_file: [old.secret, copy.secret]\n"); }),
            path + ":1: secret_file[1]: the same key as the file before it");
  EXPECT_THAT(configErrorOf([&] { secretsOf("secret_file: [new.secret, /nope]\n"); }),
              HasSubstr(":1: secret_file[1]: cannot read \"/nope\""));
}

TEST(Secret, HugeFileIsRejected) {
  TempDir dir;
  writeKey(dir, "big.secret", std::string(kMaxSecretBytes + 1, 'x'));
  const Document d(dir.file("c.yaml"), "secret_file: big.secret\n");
  EXPECT_THAT(configErrorOf([&] { readSecrets(d.root({"secret_file"})); }),
              HasSubstr(":1: secret_file: cannot read \"" + dir.file("big.secret") +
                        "\": larger than 65536 bytes"));
}

TEST(LogLevel, DefaultAndChoices) {
  const Document none(kPath, "a: 1\n");
  EXPECT_EQ(readLogLevel(none.root({"a", "log_level"})), "info");
  const Document set(kPath, "log_level: trace\n");
  EXPECT_EQ(readLogLevel(set.root({"log_level"})), "trace");
  const Document bad(kPath, "log_level: INFO\n");
  EXPECT_EQ(configErrorOf([&] { readLogLevel(bad.root({"log_level"})); }),
            std::string(kPath) +
                ":1: log_level: expected one of trace, debug, info, warn, error, got \"INFO\"");
}

TEST(ReadConfigFile, MissingFileNamesIt) {
  EXPECT_EQ(configErrorOf([] { readConfigFile("/nonexistent/q.yaml"); }),
            "/nonexistent/q.yaml: cannot read: No such file or directory");
  TempDir dir;
  EXPECT_EQ(readConfigFile(dir.write("x.yaml", "a: 1\n")), "a: 1\n");
}

TEST(Guarded, TurnsEveryExceptionIntoConfigError) {
  EXPECT_EQ(
      configErrorOf([] { guarded("f.yaml", []() -> int { throw std::runtime_error("boom"); }); }),
      "f.yaml: boom");
  EXPECT_EQ(configErrorOf([] { guarded("f.yaml", []() -> int { throw 42; }); }),
            "f.yaml: unexpected error");
  EXPECT_EQ(configErrorOf([] {
              guarded("f.yaml", []() -> int { throw YAML::ParserException(YAML::Mark(), "x"); });
            }),
            "f.yaml:1: invalid YAML: x (column 1)");
  EXPECT_EQ(configErrorOf([] { guarded("f.yaml", []() -> int { throw ConfigError("as is"); }); }),
            "as is");
  EXPECT_EQ(guarded("f.yaml", [] { return 7; }), 7);
}

}  // namespace
}  // namespace quorate::config
