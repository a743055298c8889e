// keepalived.conf as words (lexer.h): lines, quotes, comments, braces and includes.
#include "client/keepalived/lexer.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

namespace quorate::keepalived {
namespace {

Status failAt(const Location& at, const std::string& what) {
  return Status::fail(0, at.str() + ": " + what);
}

std::string errnoText(int err) { return std::strerror(err); }

bool isControl(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

struct Lexer {
  const Limits& limits;
  Lexed out;
  std::vector<std::string> stack;  // canonical paths of the files being read, for cycles
  std::size_t totalBytes = 0;

  Status lexOne(const std::string& text, const std::string& path, int depth);
  Status include(const std::vector<Token>& line, const std::string& path, int depth);
  Status readFile(const std::string& path, const Location* from, std::string* text);
};

// The whole of a regular file, refused past the size bound before it is read.
Status Lexer::readFile(const std::string& path, const Location* from, std::string* text) {
  const std::string who = from ? from->str() + ": include " + path : path;
  // Looked at before it is opened: opening a device can act ("include /dev/*" would start a
  // watchdog's countdown or rewind a tape). The fstat below still guards a swap in between.
  struct stat before {};
  if (::stat(path.c_str(), &before) == 0 && !S_ISREG(before.st_mode)) {
    return Status::fail(0, who + ": cannot read: not a regular file");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return Status::fail(0, who + ": cannot read: " + errnoText(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::fail(0, who + ": cannot read: not a regular file");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size > limits.maxFileBytes) {
    ::close(fd);
    return Status::fail(0, who + ": larger than " + std::to_string(limits.maxFileBytes) +
                               " bytes (" + std::to_string(size) + " bytes)");
  }
  if (totalBytes + size > limits.maxTotalBytes) {
    ::close(fd);
    return Status::fail(0, who + ": the files read add up to more than " +
                               std::to_string(limits.maxTotalBytes) + " bytes");
  }
  text->assign(size, '\0');
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, text->data() + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status::fail(0, who + ": cannot read: " + errnoText(err));
    }
    if (n == 0) break;  // shrank while read: take what is there
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text->resize(got);
  totalBytes += got;
  return Status::ok();
}

bool hasGlob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

Status Lexer::include(const std::vector<Token>& line, const std::string& path, int depth) {
  const Location& at = line.front().where;
  if (!limits.includes) return failAt(at, "include is not allowed here");
  if (line.size() < 2) return failAt(at, "include needs a file name or a glob");
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i].kind != Token::Kind::kWord) return failAt(at, "include: a brace after include");
    std::string pattern = line[i].text;
    if (pattern.empty()) return failAt(at, "include: an empty file name");
    if (pattern[0] != '/' && !dir.empty()) pattern = (dir / pattern).string();
    std::vector<std::string> matches;
    if (hasGlob(pattern)) {
      glob_t g{};
      const int rc = ::glob(pattern.c_str(), GLOB_MARK, nullptr, &g);
      if (rc == 0) {
        for (std::size_t k = 0; k < g.gl_pathc; ++k) {
          std::string m = g.gl_pathv[k];
          if (!m.empty() && m.back() != '/') matches.push_back(std::move(m));  // not directories
        }
      }
      ::globfree(&g);
      if (rc != 0 && rc != GLOB_NOMATCH) return failAt(at, "include " + pattern + ": glob failed");
      if (matches.empty()) {
        out.notes.push_back({at, "include", line[i].text + ": no file matches"});
        continue;
      }
    } else {
      matches.push_back(pattern);
    }
    for (const std::string& file : matches) {
      if (std::any_of(file.begin(), file.end(), isControl)) {
        return failAt(at, "include: a file name with a control character");
      }
      if (depth + 1 > limits.maxIncludeDepth) {
        return failAt(at, "include " + file + ": includes nested more than " +
                              std::to_string(limits.maxIncludeDepth) + " deep");
      }
      if (static_cast<int>(out.files.size()) + 1 > limits.maxFiles) {
        return failAt(at, "include " + file + ": more than " + std::to_string(limits.maxFiles) +
                              " files in all");
      }
      char real[PATH_MAX];
      if (::realpath(file.c_str(), real) == nullptr) {
        return failAt(at, "include " + file + ": " + errnoText(errno));
      }
      if (std::find(stack.begin(), stack.end(), real) != stack.end()) {
        std::string cycle;
        for (const auto& s : stack) cycle += s + " -> ";
        return failAt(at, "include cycle: " + cycle + real);
      }
      std::string text;
      if (Status s = readFile(file, &at, &text); !s) return s;
      out.files.push_back(file);
      stack.push_back(real);
      if (Status s = lexOne(text, file, depth + 1); !s) return s;
      stack.pop_back();
    }
  }
  return Status::ok();
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

Status controlAt(const Location& at, char c) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
  return failAt(at, std::string("a control character (byte ") + hex + ")");
}

Status Lexer::lexOne(const std::string& text, const std::string& path, int depth) {
  std::size_t pos = 0;
  int lineNo = 0;
  while (pos < text.size()) {
    // One logical line: a backslash at the end joins the next one (its number is the first's).
    ++lineNo;
    const int first = lineNo;
    std::string line;
    for (;;) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string part = text.substr(pos, end - pos);
      pos = end < text.size() ? end + 1 : end;
      while (!part.empty() && part.back() == '\r') part.pop_back();
      if (!part.empty() && part.back() == '\\' && pos < text.size()) {
        part.pop_back();
        line += part;
        line += ' ';
        ++lineNo;
        continue;
      }
      line += part;
      break;
    }
    const Location at{path, first};
    std::vector<Token> words;
    for (std::size_t i = 0; i < line.size();) {
      const char c = line[i];
      if (isSpace(c)) {
        ++i;
      } else if (c == '#' || c == '!') {
        break;  // a comment to the end of the line
      } else if (c == '{' || c == '}') {
        words.push_back(
            {c == '{' ? Token::Kind::kOpen : Token::Kind::kClose, std::string(1, c), at});
        ++i;
      } else if (c == '"') {
        const std::size_t close = line.find('"', i + 1);
        if (close == std::string::npos) return failAt(at, "a quoted string is not closed");
        // Not in quotes either: the report shows words on the operator's terminal.
        const auto bad = std::find_if(line.begin() + static_cast<long>(i) + 1,
                                      line.begin() + static_cast<long>(close),
                                      [](char q) { return q != '\t' && isControl(q); });
        if (bad != line.begin() + static_cast<long>(close)) return controlAt(at, *bad);
        words.push_back({Token::Kind::kWord, line.substr(i + 1, close - i - 1), at, true});
        i = close + 1;
      } else if (isControl(c)) {
        return controlAt(at, c);
      } else {
        std::size_t j = i;
        while (j < line.size() && !isSpace(line[j]) && line[j] != '{' && line[j] != '}' &&
               !(static_cast<unsigned char>(line[j]) < 0x20) && line[j] != 0x7f) {
          ++j;
        }
        words.push_back({Token::Kind::kWord, line.substr(i, j - i), at});
        i = j;
      }
    }
    if (!words.empty() && words.front().kind == Token::Kind::kWord &&
        words.front().text.size() > 1 && words.front().text[0] == '@') {
      const std::string& tag = words.front().text;
      const bool negated = tag[1] == '^';
      const std::string id = tag.substr(negated ? 2 : 1);
      const bool keep = negated ? id != limits.configId : id == limits.configId;
      if (!keep) {
        out.notes.push_back({at, tag,
                             "conditional line left out (config id \"" + limits.configId +
                                 "\"; --config-id picks one)"});
        continue;
      }
      words.erase(words.begin());
    }
    if (words.empty()) continue;
    if (words.front().kind == Token::Kind::kWord && words.front().text == "include") {
      if (Status s = include(words, path, depth); !s) return s;
      continue;
    }
    if (out.tokens.size() + words.size() + 1 > limits.maxTokens) {
      return failAt(at, "more than " + std::to_string(limits.maxTokens) + " words in all");
    }
    for (auto& w : words) out.tokens.push_back(std::move(w));
    out.tokens.push_back({Token::Kind::kEndOfLine, "", at});
  }
  return Status::ok();
}

Result<Lexed> lexRoot(const std::string& text, const std::string& path, const Limits& limits,
                      Lexer& lexer) {
  lexer.out.files.push_back(path);
  char real[PATH_MAX];
  lexer.stack.push_back(::realpath(path.c_str(), real) ? std::string(real) : path);
  if (Status s = lexer.lexOne(text, path, 0); !s) return s;
  (void)limits;
  return std::move(lexer.out);
}

}  // namespace

Result<Lexed> lexText(const std::string& text, const std::string& path, const Limits& limits) {
  if (text.size() > limits.maxFileBytes) {
    return Status::fail(0, path + ": larger than " + std::to_string(limits.maxFileBytes) +
                               " bytes (" + std::to_string(text.size()) + " bytes)");
  }
  Lexer lexer{limits, {}, {}, text.size()};
  return lexRoot(text, path, limits, lexer);
}

Result<Lexed> lexFile(const std::string& path, const Limits& limits) {
  Lexer lexer{limits, {}, {}, 0};
  std::string text;
  if (Status s = lexer.readFile(path, nullptr, &text); !s) return s;
  return lexRoot(text, path, limits, lexer);
}

}  // namespace quorate::keepalived
