// keepalived.conf as a tree: each statement a keyword with its arguments, a block its children,
// every node with the file and line it came from. Unknown keywords are kept, not judged here.
#pragma once

#include <string>
#include <vector>

#include "client/keepalived/lexer.h"
#include "common/status.h"

namespace quorate::keepalived {

struct Node {
  std::string keyword;            // "vrrp_instance", "real_server", "198.18.0.10/24", ...
  std::vector<std::string> args;  // the words after it on its line
  std::vector<bool> quoted;       // for each of args: it was a quoted string
  Location where;
  bool block = false;  // it had braces (possibly empty)
  std::vector<Node> children;

  // The argument `i`, or "" when there is none.
  const std::string& arg(std::size_t i) const;
  // The keyword and its arguments: what a list block ("group { a b }") holds.
  std::vector<std::string> words() const;
};

struct Config {
  Node root;  // keyword "", block: the top-level statements
  std::vector<LexNote> notes;
  std::vector<std::string> files;
};

// Builds the tree from the lexer's words. A brace may follow its keyword on the same line or on
// the next; "}" may share a line with statements. Errors are "FILE:LINE: what".
Result<Config> parseTokens(Lexed lexed, const Limits& limits = {});

// lexFile and parseTokens.
Result<Config> parseFile(const std::string& path, const Limits& limits = {});
Result<Config> parseText(const std::string& text, const std::string& path,
                         const Limits& limits = {});

}  // namespace quorate::keepalived
