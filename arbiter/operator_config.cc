// The arbiter's `operator:` key: where its read-only status API listens (a Unix socket only).
#include "arbiter/operator_config.h"

#include <sys/un.h>


#include "server/grpc/operator_auth.h"

namespace quorate::arbiter {

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
    c.group = server::gidOf(c.groupName);
    if (!c.group) g->fail("no such group " + config::quote(c.groupName));
  }
  return c;
}

}  // namespace quorate::arbiter
