// The director config the data-plane and lease-host unit tests share: one director "a" of
// cluster "c" with its peer "b" and an arbiter, on addresses nothing listens on. The tests add
// what they are about (announcements, instances, virtual servers).
#pragma once

#include <string>
#include <string_view>

namespace quorate::server::testing {

inline std::string directorConfig(std::string_view rest) {
  return std::string(R"(
cluster: c
node: a
secret: 0123456789abcdef
listen: 127.0.0.1:1
state_dir: /tmp/unused
directors: [{id: a, address: "127.0.0.1:1"}, {id: b, address: "127.0.0.1:2"}]
arbiter: {address: "127.0.0.1:3"}
)") + std::string(rest);
}

}  // namespace quorate::server::testing
