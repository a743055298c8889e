// keepalived's script lines as argv (script_words.h).
#include "client/keepalived/script_words.h"

namespace quorate::keepalived {

std::vector<std::string> splitScriptLine(const std::string& line) {
  std::vector<std::string> out;
  std::string word;
  bool inWord = false;
  char quote = 0;
  for (const char c : line) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      inWord = true;
    } else if (c == ' ' || c == '\t') {
      if (inWord) out.push_back(word);
      word.clear();
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) out.push_back(word);
  return out;
}

bool isShellLine(const std::string& line) {
  bool single = false;
  for (const char c : line) {
    if (c == '\'') single = !single;
    if (single) continue;
    if (c == '|' || c == '&' || c == ';' || c == '<' || c == '>' || c == '`' || c == '$') {
      return true;
    }
  }
  return false;
}

}  // namespace quorate::keepalived
