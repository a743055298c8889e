// MD5 through OpenSSL's EVP interface (the MD5_* functions are deprecated in OpenSSL 3).
#include "server/check/digest.h"

#include <openssl/evp.h>

namespace quorate::server::check {

void Md5::Free::operator()(evp_md_ctx_st* context) const { EVP_MD_CTX_free(context); }

Md5::Md5() : context_(EVP_MD_CTX_new()) {
  // Fails where the providers loaded offer no MD5 (OpenSSL 3 in FIPS mode).
  if (context_ && EVP_DigestInit_ex(context_.get(), EVP_md5(), nullptr) != 1) context_.reset();
}

Md5::~Md5() = default;
Md5::Md5(Md5&&) noexcept = default;
Md5& Md5::operator=(Md5&&) noexcept = default;

void Md5::update(std::string_view data) {
  if (!context_ || data.empty()) return;
  if (EVP_DigestUpdate(context_.get(), data.data(), data.size()) != 1) context_.reset();
}

std::optional<std::string> Md5::hex() {
  if (!context_) return std::nullopt;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const bool done = EVP_DigestFinal_ex(context_.get(), md, &length) == 1;
  if (EVP_DigestInit_ex(context_.get(), EVP_md5(), nullptr) != 1) context_.reset();
  if (!done) return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text(2 * length, '0');
  for (unsigned int i = 0; i < length; ++i) {
    text[2 * i] = kHex[md[i] >> 4];
    text[2 * i + 1] = kHex[md[i] & 0xf];
  }
  return text;
}

std::optional<std::string> md5Hex(std::string_view data) {
  Md5 md5;
  md5.update(data);
  return md5.hex();
}

}  // namespace quorate::server::check
