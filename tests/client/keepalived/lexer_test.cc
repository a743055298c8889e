// keepalived.conf lexer and parser: words, comments, quotes, braces, includes, bounds, and the
// "FILE:LINE: what" of every kind of broken file.
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "client/keepalived/parser.h"
#include "client/keepalived/script_words.h"

namespace quorate::keepalived {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "ka-lexer-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = fs::path(path_) / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string errorOf(const Result<Config>& r) { return r ? "" : r.status().what(); }

TEST(KeepalivedParser, CommentsQuotesAndBracesOnTheNextLine) {
  const auto r = parseText(
      "# comment\n"
      "global_defs\n"
      "{\n"
      "\trouter_id   lb1   ! trailing\n"
      "}\n"
      "vrrp_script chk { script \"/bin/a b  c\" }\n"
      "x { y { z 1 } }\n",
      "k.conf");
  ASSERT_TRUE(r) << errorOf(r);
  const Node& root = r->root;
  ASSERT_EQ(root.children.size(), 3u);
  const Node& g = root.children[0];
  EXPECT_EQ(g.keyword, "global_defs");
  EXPECT_TRUE(g.block);
  ASSERT_EQ(g.children.size(), 1u);
  EXPECT_EQ(g.children[0].keyword, "router_id");
  EXPECT_EQ(g.children[0].args, std::vector<std::string>{"lb1"});
  EXPECT_EQ(g.children[0].where.str(), "k.conf:4");
  const Node& s = root.children[1];
  ASSERT_EQ(s.children.size(), 1u);
  EXPECT_EQ(s.children[0].args, std::vector<std::string>{"/bin/a b  c"});
  const Node& x = root.children[2];
  ASSERT_EQ(x.children.size(), 1u);
  ASSERT_EQ(x.children[0].children.size(), 1u);
  EXPECT_EQ(x.children[0].children[0].keyword, "z");
  EXPECT_EQ(x.children[0].children[0].where.line, 7);
}

TEST(KeepalivedParser, ABackslashJoinsLinesAndCrLfIsRead) {
  const auto r = parseText("a b \\\n c\r\nd\r\n", "k.conf");
  ASSERT_TRUE(r) << errorOf(r);
  ASSERT_EQ(r->root.children.size(), 2u);
  EXPECT_EQ(r->root.children[0].args, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(r->root.children[1].keyword, "d");
  EXPECT_EQ(r->root.children[1].where.line, 3);
}

TEST(KeepalivedParser, BrokenFilesGiveTheirLine) {
  EXPECT_EQ(errorOf(parseText("a {\n b\n", "k.conf")), "k.conf:1: '{' of a is never closed");
  EXPECT_EQ(errorOf(parseText("a {\n}\n}\n", "k.conf")), "k.conf:3: '}' without a block to close");
  EXPECT_EQ(errorOf(parseText("a\n\n b \"x\n", "k.conf")),
            "k.conf:3: a quoted string is not closed");
  EXPECT_EQ(errorOf(parseText("{\n", "k.conf")), "k.conf:1: '{' without a keyword before it");
  EXPECT_EQ(errorOf(parseText("a\nb\x01\n", "k.conf")),
            "k.conf:2: a control character (byte 0x01)");
  // In quotes too: the report echoes words to the operator's terminal, and an escape sequence
  // there would rewrite the screen. A tab is fine.
  EXPECT_EQ(errorOf(parseText("interface \"e\x1b[2J x\"\n", "k.conf")),
            "k.conf:1: a control character (byte 0x1b)");
  EXPECT_EQ(errorOf(parseText("a \"b\rc\"\n", "k.conf")),
            "k.conf:1: a control character (byte 0x0d)");
  EXPECT_EQ(errorOf(parseText("a \"b\tc\"\n", "k.conf")), "");
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "a {\n";
  EXPECT_EQ(errorOf(parseText(deep, "k.conf")), "k.conf:33: blocks nested more than 32 deep");
}

TEST(KeepalivedParser, IncludesFollowGlobsRelativeToTheIncludingFile) {
  TempDir dir;
  dir.write("sub/a.conf", "include more/*.conf\nfrom_a 1\n");
  dir.write("sub/more/1.conf", "one\n");
  dir.write("sub/more/2.conf", "two\n");
  const std::string main = dir.write("main.conf", "include sub/a.conf\ninclude none/*.conf\nend\n");
  const auto r = parseFile(main);
  ASSERT_TRUE(r) << errorOf(r);
  std::vector<std::string> words;
  for (const Node& n : r->root.children) words.push_back(n.keyword);
  EXPECT_EQ(words, (std::vector<std::string>{"one", "two", "from_a", "end"}));
  EXPECT_EQ(r->root.children[0].where.str(), dir.path() + "/sub/more/1.conf:1");
  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_EQ(r->notes[0].where.str(), main + ":2");
  EXPECT_EQ(r->files.size(), 4u);
}

TEST(KeepalivedParser, IncludeCyclesDepthFilesAndSizeAreBounded) {
  TempDir dir;
  dir.write("b.conf", "x\ninclude a.conf\n");
  const std::string a = dir.write("a.conf", "include b.conf\n");
  EXPECT_NE(errorOf(parseFile(a)).find(dir.path() + "/b.conf:2: include cycle: "),
            std::string::npos)
      << errorOf(parseFile(a));

  for (int i = 0; i < 12; ++i) {
    dir.write("d" + std::to_string(i) + ".conf", "include d" + std::to_string(i + 1) + ".conf\n");
  }
  dir.write("d12.conf", "x\n");
  EXPECT_NE(errorOf(parseFile(dir.path() + "/d0.conf")).find("includes nested more than 8 deep"),
            std::string::npos);

  for (int i = 0; i < 5; ++i) dir.write("many/" + std::to_string(i) + ".conf", "x\n");
  const std::string many = dir.write("many.conf", "include many/*.conf\n");
  Limits limits;
  limits.maxFiles = 4;
  EXPECT_NE(errorOf(parseFile(many, limits)).find("more than 4 files in all"), std::string::npos);
  limits = {};
  limits.maxFileBytes = 10;
  const std::string big = dir.write("big.conf", std::string(11, 'x'));
  EXPECT_EQ(errorOf(parseFile(big, limits)), big + ": larger than 10 bytes (11 bytes)");
  EXPECT_EQ(errorOf(parseFile(dir.path() + "/nope.conf")),
            dir.path() + "/nope.conf: cannot read: No such file or directory");
  const std::string missing = dir.write("missing.conf", "\ninclude gone.conf\n");
  EXPECT_EQ(errorOf(parseFile(missing)),
            missing + ":2: include " + dir.path() + "/gone.conf: No such file or directory");
  limits = {};
  limits.includes = false;
  EXPECT_EQ(errorOf(parseText("include x\n", "k.conf", limits)),
            "k.conf:1: include is not allowed here");
}

// "include /dev/*" or a glob over a directory with a FIFO: opening a device can have effects
// (a watchdog starts its countdown, a tape rewinds, a FIFO's writer is let go), so a file that
// is not a regular one is refused without being opened. inotify sees every open of the FIFO.
TEST(KeepalivedParser, IncludedFilesThatAreNotRegularAreRefusedUnopened) {
  TempDir dir;
  dir.write("dev/a.conf", "x\n");
  const std::string fifo = dir.path() + "/dev/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string main = dir.write("main.conf", "include dev/*\n");
  const int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(watch, 0);
  ASSERT_GE(::inotify_add_watch(watch, (dir.path() + "/dev").c_str(), IN_OPEN), 0);

  EXPECT_EQ(errorOf(parseFile(main)),
            main + ":1: include " + fifo + ": cannot read: not a regular file");
  EXPECT_EQ(errorOf(parseFile(fifo)), fifo + ": cannot read: not a regular file");

  alignas(inotify_event) char events[4096];
  std::vector<std::string> opened;
  for (ssize_t n; (n = ::read(watch, events, sizeof events)) > 0;) {
    for (ssize_t at = 0; at < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(events + at);
      if (e->len > 0) opened.emplace_back(e->name);
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
  ::close(watch);
  EXPECT_EQ(std::count(opened.begin(), opened.end(), "pipe"), 0) << "the FIFO was opened";
  EXPECT_EQ(std::count(opened.begin(), opened.end(), "a.conf"), 1);  // the watch works

  // A file name is echoed as well: one a glob found with an escape sequence in it is refused.
  dir.write("esc/a\x1b[2Jb.conf", "x\n");
  const std::string esc = dir.write("esc.conf", "include esc/*.conf\n");
  EXPECT_EQ(errorOf(parseFile(esc)), esc + ":1: include: a file name with a control character");
}

TEST(KeepalivedParser, ConditionalLinesFollowTheConfigId) {
  const std::string text = "@lb1 a\n@^lb1 b\nc\n";
  auto keywords = [&](const std::string& id) {
    Limits limits;
    limits.configId = id;
    const auto r = parseText(text, "k.conf", limits);
    std::string out;
    for (const Node& n : r->root.children) out += n.keyword;
    return out + "/" + std::to_string(r->notes.size());
  };
  EXPECT_EQ(keywords("lb1"), "ac/1");
  EXPECT_EQ(keywords("lb2"), "bc/1");
  EXPECT_EQ(keywords(""), "bc/1");
}

TEST(KeepalivedScriptWords, SplitsLikeKeepalivedAndSpotsShellSyntax) {
  EXPECT_EQ(splitScriptLine("  /bin/a 'b c'  \"d e\" f"),
            (std::vector<std::string>{"/bin/a", "b c", "d e", "f"}));
  EXPECT_FALSE(isShellLine("/bin/a b"));
  EXPECT_TRUE(isShellLine("/bin/a | grep x"));
  EXPECT_TRUE(isShellLine("test -f $HOME/x"));
  EXPECT_FALSE(isShellLine("/bin/echo '$x'"));
}

}  // namespace
}  // namespace quorate::keepalived
