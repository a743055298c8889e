// MD5 through OpenSSL's EVP interface (the MD5_* functions are deprecated in OpenSSL 3).
#include "server/check/digest.h"

#include <openssl/evp.h>

namespace quorate::server::check {

std::optional<std::string> md5Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // Fails where the providers loaded offer no MD5 (OpenSSL 3 in FIPS mode).
  if (EVP_Digest(data.data(), data.size(), md, &length, EVP_md5(), nullptr) != 1) {
    return std::nullopt;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * length, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[md[i] >> 4];
    hex[2 * i + 1] = kHex[md[i] & 0xf];
  }
  return hex;
}

}  // namespace quorate::server::check
