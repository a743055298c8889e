// TempDir: a fresh directory under $TMPDIR for one test, removed with its contents at the end.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace quorate::testutil {

class TempDir {
 public:
  // Creates <parent>/<tag>-XXXXXX (mkdtemp: unique, mode 0700), parent $TMPDIR or /tmp by
  // default. Throws std::runtime_error when it cannot, so a test never runs in a directory it
  // does not own.
  explicit TempDir(std::string_view tag = "quorate-test", std::filesystem::path parent = {}) {
    if (parent.empty()) parent = std::filesystem::temp_directory_path();
    std::string pattern = (parent / (std::string(tag) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    path_ = std::move(pattern);
  }
  ~TempDir() {
    if (path_.empty() || keep_) return;
    std::error_code ec;  // Best effort: a test's result does not depend on its clean-up.
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept
      : path_(std::exchange(other.path_, {})), keep_(std::exchange(other.keep_, false)) {}
  TempDir& operator=(TempDir&&) = delete;

  // Leaves the directory in place at destruction (a failed test's logs and configs).
  void keep() { keep_ = true; }

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to `name` in this directory and returns the file's path.
  std::string write(const std::string& name, const std::string& content) const {
    const std::string p = file(name);
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  // Writes a /bin/sh script of `body` to `name` with `mode` and returns its path.
  std::string script(const std::string& name, const std::string& body, mode_t mode = 0755) const {
    const std::string p = write(name, "#!/bin/sh\n" + body + "\n");
    ::chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::string path_;
  bool keep_ = false;
};

}  // namespace quorate::testutil
