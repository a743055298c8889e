// Helpers for the tests: scratch directories (with scripts), files and processes, polling for a
// condition, and for the config tests line edits and mutated (fuzz-ish) inputs.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include "common/config_error.h"
#include "tests/support/temp_dir.h"

namespace quorate::testutil {

// A file's contents without trailing newlines and spaces; nullopt if it cannot be read.
inline std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Gone: no such process, or a zombie about to be reaped by its new parent.
inline bool processGone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  const auto stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  const auto close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] == 'Z';
}

// Waits (polling every 5 ms) until `pid` is gone; false if it is still there after `within`.
inline bool waitGone(pid_t pid, std::chrono::milliseconds within = std::chrono::seconds(5)) {
  const auto end = std::chrono::steady_clock::now() + within;
  while (!processGone(pid)) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Polls `p` every 10 ms until it holds or `timeout` passes; returns its last value.
template <typename Pred>
bool waitFor(Pred p, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (p()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return p();
}

inline std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Replaces `count` lines starting at 1-based `first` by the lines of `replacement` (none when it
// is empty); count 0 inserts before `first`.
inline std::string editLines(const std::string& text, int first, int count,
                             const std::string& replacement) {
  std::vector<std::string> lines = splitLines(text);
  const auto at = lines.begin() + (first - 1);
  lines.erase(at, at + count);
  const std::vector<std::string> added = splitLines(replacement);
  lines.insert(lines.begin() + (first - 1), added.begin(), added.end());
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

// Broken variants of a valid file: every truncation, every line duplicated, `randomCount` random
// multi-byte damages and, when `exhaustive`, every byte deleted or replaced by a YAML-significant
// character.
inline std::vector<std::string> mutationsOf(const std::string& valid, unsigned seed = 1,
                                            bool exhaustive = true, int randomCount = 2000) {
  static const std::string kBytes =
      std::string(" :-[]{}\"'\n\t#&*!|>%@`09x\\,?.~") + '\0' + "\xff\xc3\x01";
  std::vector<std::string> out;
  for (std::size_t n = 0; n < valid.size(); ++n) out.push_back(valid.substr(0, n));
  for (std::size_t i = 0; exhaustive && i < valid.size(); ++i) {
    out.push_back(valid.substr(0, i) + valid.substr(i + 1));
    for (char c : kBytes) {
      if (valid[i] == c) continue;
      std::string s = valid;
      s[i] = c;
      out.push_back(std::move(s));
    }
  }
  const std::vector<std::string> lines = splitLines(valid);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out.push_back(editLines(valid, static_cast<int>(i + 1), 0, lines[i]));
  }
  std::mt19937 rng(seed);
  for (int k = 0; k < randomCount; ++k) {
    std::string s = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const std::size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[pos] = static_cast<char>(rng() % 256);
          break;
        case 1:
          s.erase(pos, 1 + rng() % 8);
          break;
        default:
          s.insert(pos, 1, kBytes[rng() % kBytes.size()]);
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

// Every input must parse or throw a one-line ConfigError that starts with `path`; nothing else
// may escape.
// Returns how many parsed.
inline int expectOnlyConfigErrors(const std::vector<std::string>& inputs, const std::string& path,
                                  const std::function<void(const std::string&)>& parse) {
  int parsed = 0;
  for (const std::string& input : inputs) {
    try {
      parse(input);
      ++parsed;
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(path + ":", 0), 0u)
          << "message does not start with the file: " << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected exception " << typeid(e).name() << ": " << e.what()
                    << "\ninput:\n"
                    << input;
    } catch (...) {
      ADD_FAILURE() << "unexpected non-standard exception\ninput:\n" << input;
    }
  }
  return parsed;
}

// The message of the ConfigError that `f` throws ("" and a test failure if it throws none).
template <typename F>
std::string configErrorOf(F&& f) {
  try {
    f();
  } catch (const quorate::ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return "";
}

}  // namespace quorate::testutil
