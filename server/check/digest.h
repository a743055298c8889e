// Digests of HTTP bodies, as HTTP_GET's `digest` and `quoratectl genhash` compare them.
#pragma once

#include <string>
#include <string_view>

namespace quorate::server::check {

// MD5 of `data` as 32 lowercase hex digits (keepalived's genhash output).
std::string md5Hex(std::string_view data);

}  // namespace quorate::server::check
