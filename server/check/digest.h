// Digests of HTTP bodies, as HTTP_GET's `digest` and `quoratectl genhash` compare them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace quorate::server::check {

// MD5 of `data` as 32 lowercase hex digits (keepalived's genhash output); nullopt where this
// OpenSSL offers no MD5 (FIPS mode: kMd5Unavailable says so).
std::optional<std::string> md5Hex(std::string_view data);
inline constexpr const char* kMd5Unavailable = "MD5 is not available from OpenSSL (FIPS mode?)";

}  // namespace quorate::server::check
