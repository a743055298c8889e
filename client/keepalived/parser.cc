// keepalived.conf as a tree (parser.h): statements and blocks from the lexer's words.
#include "client/keepalived/parser.h"

#include <utility>

namespace quorate::keepalived {
namespace {

using Kind = Token::Kind;

Status failAt(const Location& at, const std::string& what) {
  return Status::fail(0, at.str() + ": " + what);
}

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const Limits& limits)
      : tokens_(tokens), limits_(limits) {}

  // Fills `block` with statements until its "}" (depth > 0) or the end of input (depth 0).
  Status parseBlock(Node& block, int depth) {
    bool lastEndedLine = false;  // the last statement ended at an end of line, not a brace
    while (next_ < tokens_.size()) {
      const Token& t = tokens_[next_];
      if (t.kind == Kind::kEndOfLine) {
        ++next_;
        continue;
      }
      if (t.kind == Kind::kClose) {
        if (depth == 0) return failAt(t.where, "'}' without a block to close");
        ++next_;
        return Status::ok();
      }
      if (t.kind == Kind::kOpen) {
        // "keyword\n{": the brace opens the statement on the line before.
        if (block.children.empty() || block.children.back().block || !lastEndedLine) {
          return failAt(t.where, "'{' without a keyword before it");
        }
        ++next_;
        if (Status s = openBlock(block.children.back(), depth); !s) return s;
        lastEndedLine = false;
        continue;
      }
      Node node;
      node.keyword = t.text;
      node.where = t.where;
      ++next_;
      while (next_ < tokens_.size() && tokens_[next_].kind == Kind::kWord) {
        node.args.push_back(tokens_[next_].text);
        node.quoted.push_back(tokens_[next_].quoted);
        ++next_;
      }
      block.children.push_back(std::move(node));
      lastEndedLine = true;
      if (next_ < tokens_.size() && tokens_[next_].kind == Kind::kOpen) {
        ++next_;
        if (Status s = openBlock(block.children.back(), depth); !s) return s;
        lastEndedLine = false;
      }
    }
    if (depth > 0) return failAt(block.where, "'{' of " + block.keyword + " is never closed");
    return Status::ok();
  }

 private:
  Status openBlock(Node& node, int depth) {
    if (depth + 1 > limits_.maxBlockDepth) {
      return failAt(node.where,
                    "blocks nested more than " + std::to_string(limits_.maxBlockDepth) + " deep");
    }
    node.block = true;
    return parseBlock(node, depth + 1);
  }

  const std::vector<Token>& tokens_;
  const Limits& limits_;
  std::size_t next_ = 0;
};

}  // namespace

const std::string& Node::arg(std::size_t i) const {
  static const std::string kNone;
  return i < args.size() ? args[i] : kNone;
}

std::vector<std::string> Node::words() const {
  std::vector<std::string> out{keyword};
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

Result<Config> parseTokens(Lexed lexed, const Limits& limits) {
  Config config;
  config.root.block = true;
  if (!lexed.files.empty()) config.root.where = {lexed.files.front(), 1};
  Parser parser(lexed.tokens, limits);
  if (Status s = parser.parseBlock(config.root, 0); !s) return s;
  config.notes = std::move(lexed.notes);
  config.files = std::move(lexed.files);
  return config;
}

Result<Config> parseFile(const std::string& path, const Limits& limits) {
  Result<Lexed> lexed = lexFile(path, limits);
  if (!lexed) return lexed.status();
  return parseTokens(std::move(lexed).value(), limits);
}

Result<Config> parseText(const std::string& text, const std::string& path, const Limits& limits) {
  Result<Lexed> lexed = lexText(text, path, limits);
  if (!lexed) return lexed.status();
  return parseTokens(std::move(lexed).value(), limits);
}

}  // namespace quorate::keepalived
