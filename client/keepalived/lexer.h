// keepalived.conf as words: comments dropped, quoted strings joined, includes spliced in, every
// word with the file and line it came from, within bounds on size, files and include depth.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/status.h"

namespace quorate::keepalived {

// Where a word, a block or a problem is: "FILE:LINE".
struct Location {
  std::string file;
  int line = 0;
  std::string str() const { return file + ":" + std::to_string(line); }
};

struct Token {
  enum class Kind { kWord, kOpen, kClose, kEndOfLine };
  Kind kind = Kind::kWord;
  std::string text;  // the word (quotes removed); "{" / "}" for braces
  Location where;
  bool quoted = false;  // it was "..." (keepalived's "script args" user: the user follows)
};

// What a file, and the includes it pulls in, may be. Real configurations are far below each
// bound (a large one: a few hundred kilobytes in a few dozen files); the bounds keep a mistaken
// glob or a hostile file from exhausting the importer.
struct Limits {
  std::size_t maxFileBytes = 4u << 20;
  std::size_t maxTotalBytes = 16u << 20;
  int maxFiles = 256;       // the main file and every file included
  int maxIncludeDepth = 8;  // include inside include inside ...
  std::size_t maxTokens = 2'000'000;
  int maxBlockDepth = 32;  // braces inside braces (the parser's bound)
  bool includes = true;    // false: `include` is an error (the fuzz target reads no files)
  // keepalived -i ID: a line "@ID ..." is kept without its "@ID", "@^ID ..." is left out, and
  // the reverse for any other ID. Empty: every "@..." line is left out, every "@^..." kept.
  std::string configId;
};

// A note the lexer has for the report (an include glob that matched nothing, a conditional line
// left out).
struct LexNote {
  Location where;
  std::string keyword;  // "include", "@ID"
  std::string text;
};

struct Lexed {
  std::vector<Token> tokens;
  std::vector<LexNote> notes;
  std::vector<std::string> files;  // every file read, the main one first
};

// Reads `path` and everything it includes. A problem is a Status whose what() is
// "FILE:LINE: what" (or "FILE: what" for a file that cannot be read).
Result<Lexed> lexFile(const std::string& path, const Limits& limits = {});

// The same for text already in memory, as if read from `path` (includes are resolved against
// its directory).
Result<Lexed> lexText(const std::string& text, const std::string& path, const Limits& limits = {});

}  // namespace quorate::keepalived
