// The arbiter's `operator:` key: where its read-only status API listens (a Unix socket only).
#include "arbiter/operator_config.h"

#include <grp.h>
#include <sys/un.h>

#include <cerrno>
#include <vector>

namespace quorate::arbiter {
namespace {

// getgrnam_r with a buffer that grows: a group with many members needs more than 4 KiB.
std::optional<gid_t> gidOf(const std::string& name) {
  std::vector<char> buf(4096);
  for (int i = 0; i < 6; ++i) {
    group gr{};
    group* out = nullptr;
    const int rc = ::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &out);
    if (rc == ERANGE) {
      buf.resize(buf.size() * 4);
      continue;
    }
    if (rc != 0 || out == nullptr) return std::nullopt;
    return out->gr_gid;
  }
  return std::nullopt;
}

}  // namespace

ArbiterOperatorConfig parseArbiterOperator(const config::Value& v) {
  // No TCP listener and no roles: the API only reads, and the socket's mode is its access rule.
  const config::Map m = v.asMap({"socket", "group"});
  const config::Value socket = m.required("socket");
  ArbiterOperatorConfig c;
  c.socket = socket.asPath();
  if (c.socket.size() >= sizeof(sockaddr_un{}.sun_path)) {
    socket.fail("path too long for a Unix socket (at most " +
                std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes)");
  }
  if (const auto g = m.optional("group")) {
    c.groupName = g->asString();
    c.group = gidOf(c.groupName);
    if (!c.group) g->fail("no such group " + config::quote(c.groupName));
  }
  return c;
}

}  // namespace quorate::arbiter
