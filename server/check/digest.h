// Digests of HTTP bodies, as HTTP_GET's `digest` and `quoratectl genhash` compare them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace quorate::server::check {

// An MD5 fed piece by piece as a body arrives, so that no body is ever kept whole to be hashed.
// Where this OpenSSL offers no MD5 (FIPS mode) available() is false, update() does nothing and
// hex() is nullopt.
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(Md5&&) noexcept;
  Md5& operator=(Md5&&) noexcept;

  bool available() const { return context_ != nullptr; }
  void update(std::string_view data);
  // The digest of everything given so far, as 32 lowercase hex digits (keepalived's genhash
  // output). Ends the digest: a later update() or hex() starts from nothing again.
  std::optional<std::string> hex();

 private:
  struct Free {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, Free> context_;
};

// MD5 of `data` in one go; nullopt where this OpenSSL offers no MD5 (kMd5Unavailable says so).
std::optional<std::string> md5Hex(std::string_view data);
inline constexpr const char* kMd5Unavailable = "MD5 is not available from OpenSSL (FIPS mode?)";

}  // namespace quorate::server::check
