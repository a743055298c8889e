// The operator API's roles: config parsing, name resolution and the decision, without I/O.
#include "server/grpc/operator_auth.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <array>

namespace quorate::server {
namespace {

using config::Map;
using config::Value;

// getpwnam_r with a buffer that grows, like gidOf below.
std::optional<uid_t> uidOf(const std::string& name) {
  std::vector<char> buf(4096);
  for (int i = 0; i < 6; ++i) {
    passwd pw{};
    passwd* out = nullptr;
    const int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &out);
    if (rc == ERANGE) {
      buf.resize(buf.size() * 4);
      continue;
    }
    if (rc != 0 || out == nullptr) return std::nullopt;
    return out->pw_uid;
  }
  return std::nullopt;
}

std::vector<std::string> names(const Value& v) {
  std::vector<std::string> out;
  for (const Value& item : v.asList()) out.push_back(item.asString());
  return out;
}

OperatorTcpConfig parseTcp(const Value& v) {
  const Map m = v.asMap({"listen", "ca", "cert", "key", "admins"});
  OperatorTcpConfig t;
  t.listen = m.required("listen").asHostPort();
  t.ca = m.required("ca").asPath();
  t.cert = m.required("cert").asPath();
  t.key = m.required("key").asPath();
  if (const auto a = m.optional("admins")) t.admins = names(*a);
  return t;
}

template <typename T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

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

OperatorConfig parseOperatorConfig(const std::optional<Value>& v) {
  OperatorConfig c;
  if (!v) return c;
  const Map m = v->asMap(
      {"socket", "group", "admin_users", "admin_groups", "tcp", "max_connections", "max_watchers"});
  if (const auto s = m.optional("socket")) {
    c.socket = s->asPath();
    // sockaddr_un.sun_path is 108 bytes with its terminating NUL.
    if (c.socket.size() > 107) {
      s->fail("a Unix socket path is at most 107 bytes; this one is " +
              std::to_string(c.socket.size()));
    }
  }
  if (const auto g = m.optional("group")) {
    c.groupName = g->asString();
    c.group = gidOf(c.groupName);
    if (!c.group) g->fail("no such group " + config::quote(c.groupName));
  }
  if (const auto u = m.optional("admin_users")) {
    for (const Value& item : u->asList()) {
      const auto uid = uidOf(item.asString());
      if (!uid) item.fail("no such user " + config::quote(item.asString()));
      c.adminUids.push_back(*uid);
    }
  }
  if (const auto g = m.optional("admin_groups")) {
    for (const Value& item : g->asList()) {
      const auto gid = gidOf(item.asString());
      if (!gid) item.fail("no such group " + config::quote(item.asString()));
      c.adminGids.push_back(*gid);
    }
  }
  if (const auto t = m.optional("tcp")) c.tcp = parseTcp(*t);
  if (const auto x = m.optional("max_connections")) {
    c.maxConnections = static_cast<int>(x->asInt(1, 4096, "connections"));
  }
  if (const auto x = m.optional("max_watchers")) {
    c.maxWatchers = static_cast<int>(x->asInt(1, 4096, "streams"));
  }
  return c;
}

std::string_view roleName(Role r) {
  switch (r) {
    case Role::kNone:
      return "none";
    case Role::kReader:
      return "read-only";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

std::string Caller::describe() const {
  switch (via) {
    case Via::kSocket: {
      std::string s = "uid " + std::to_string(uid);
      if (!userName.empty()) s += " (" + userName + ")";
      return s + " pid " + std::to_string(pid);
    }
    case Via::kTls:
      return "cert CN=" + config::escapeControl(commonName);
    case Via::kUnknown:
      break;
  }
  return "an unidentified caller";
}

Role roleOf(const Caller& c, const OperatorConfig& policy) {
  switch (c.via) {
    case Caller::Via::kSocket: {
      if (c.uid == 0 || c.uid == policy.daemonUid || contains(policy.adminUids, c.uid)) {
        return Role::kAdmin;
      }
      if (contains(policy.adminGids, c.gid)) return Role::kAdmin;
      for (const gid_t g : c.groups) {
        if (contains(policy.adminGids, g)) return Role::kAdmin;
      }
      return Role::kReader;
    }
    case Caller::Via::kTls:
      // The listener only lets verified certificates through; an empty CN names no admin.
      if (!c.commonName.empty() && policy.tcp && contains(policy.tcp->admins, c.commonName)) {
        return Role::kAdmin;
      }
      return Role::kReader;
    case Caller::Via::kUnknown:
      break;
  }
  return Role::kNone;
}

Role neededFor(std::string_view method) {
  static constexpr std::array<std::string_view, 3> kReads = {"Status", "WatchStatus", "IpvsTable"};
  for (const auto m : kReads) {
    if (m == method) return Role::kReader;
  }
  return Role::kAdmin;
}

bool allowed(Role have, Role need, std::string_view method, const Caller& c, std::string* why) {
  if (static_cast<int>(have) >= static_cast<int>(need)) return true;
  if (why != nullptr) {
    *why = std::string(method) + " needs the " + std::string(roleName(need)) + " role; " +
           c.describe() + " has " +
           (have == Role::kNone ? std::string("none") : "only " + std::string(roleName(have)));
  }
  return false;
}

}  // namespace quorate::server
