// Who may call what on the operator API: its config, the caller's identity and the pure decision.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/yaml_config.h"

namespace quorate::server {

inline constexpr std::string_view kDefaultOperatorSocket = "/run/quorate/director.sock";

// The optional TCP listener: TLS only, client certificate required.
struct OperatorTcpConfig {
  std::string listen;  // host:port
  std::string ca;      // verifies client certificates
  std::string cert;    // this director's certificate chain
  std::string key;
  std::vector<std::string> admins;  // client certificate common names given the admin role
};

struct OperatorConfig {
  std::string socket{kDefaultOperatorSocket};  // absolute
  std::optional<gid_t> group;                  // set: the socket is 0660 with this group
  std::string groupName;                       // for messages
  std::vector<uid_t> adminUids;                // besides uid 0, which is always admin
  uid_t daemonUid = 0;  // the director's own user is admin too (set by the daemon, not the file)
  std::vector<gid_t> adminGids;
  std::optional<OperatorTcpConfig> tcp;
  // Connections handed to gRPC at once, on the socket and on TCP each; more are closed.
  int maxConnections = 64;
  // Open WatchStatus streams at once; more get RESOURCE_EXHAUSTED.
  int maxWatchers = 64;
};

// Parses the `operator:` mapping (absent: the defaults). User and group names are resolved
// now, so that a typo fails the start. Throws quorate::ConfigError.
OperatorConfig parseOperatorConfig(const std::optional<config::Value>& v);

// A group's id by name (getgrnam_r with a buffer that grows: long member lists need more);
// nullopt when there is no such group.
std::optional<gid_t> gidOf(const std::string& name);

enum class Role { kNone, kReader, kAdmin };
std::string_view roleName(Role r);

// Who called, as the listener saw it.
struct Caller {
  enum class Via { kUnknown, kSocket, kTls };
  Via via = Via::kUnknown;
  // kSocket: the peer's credentials (SO_PEERCRED) and the groups its user belongs to.
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
  std::string userName;  // empty when the uid has no passwd entry
  std::vector<gid_t> groups;
  // kTls: the verified client certificate's common name.
  std::string commonName;

  // "uid 1000 (alice) pid 42" or "cert CN=ops-reader": for logs and refusals.
  std::string describe() const;
};

// The role `c` holds under `policy`. uid 0 is always admin; an unknown caller has no role.
Role roleOf(const Caller& c, const OperatorConfig& policy);

// The role a method needs: kAdmin for what changes the director, kReader for what reads it.
// An unknown method needs kAdmin (new methods are refused until someone classifies them).
Role neededFor(std::string_view method);

// Whether `have` may call what needs `need`; if not, `why` says which role is needed.
bool allowed(Role have, Role need, std::string_view method, const Caller& c, std::string* why);

}  // namespace quorate::server
