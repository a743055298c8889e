// What `--check` verifies on the host beyond parsing, shared by both daemons.
#include "common/preflight.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <memory>
#include <set>

#include "common/config_error.h"
#include "common/state_file.h"

namespace quorate::preflight {
namespace {

std::string errnoText(int err) { return std::strerror(err); }

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string volatileNote(const std::string& dir) {
  return isVolatileDirectory(dir)
             ? " (in memory, tmpfs: a reboot loses the epoch floor; keep state on a disk)"
             : "";
}

// Writes one byte to a new file in `dir`, syncs and removes it.
std::optional<std::string> writeProbeFile(const std::string& dir) {
  std::string name = dir + (dir == "/" ? "" : "/") + ".quorate-check-XXXXXX";
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return "cannot create a file in it: " + errnoText(errno);
  std::optional<std::string> problem;
  if (::write(fd, "q", 1) != 1 || ::fsync(fd) != 0) {
    problem = "a file in it cannot be written and synced: " + errnoText(errno);
  }
  ::close(fd);
  ::unlink(name.c_str());
  return problem;
}

// The parent of absolute `path` ("/" for "/x").
std::string parentOf(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// Days from now to the certificate's notAfter (negative once expired), or nullopt.
std::optional<int> daysLeft(X509* cert) {
  const ASN1_TIME* notAfter = X509_get0_notAfter(cert);
  int days = 0;
  int seconds = 0;
  if (notAfter == nullptr || ASN1_TIME_diff(&days, &seconds, nullptr, notAfter) != 1) {
    return std::nullopt;
  }
  return days;
}

}  // namespace

Finding ok(std::string subject, std::string detail) {
  return {Verdict::kOk, std::move(subject), std::move(detail)};
}
Finding fail(std::string subject, std::string detail) {
  return {Verdict::kFail, std::move(subject), std::move(detail)};
}
Finding skipped(std::string subject, std::string detail) {
  return {Verdict::kSkipped, std::move(subject), std::move(detail)};
}

const char* verdictName(Verdict v) {
  switch (v) {
    case Verdict::kOk:
      return "OK";
    case Verdict::kFail:
      return "FAIL";
    case Verdict::kSkipped:
      return "SKIPPED";
  }
  return "?";
}

Finding checkWritableDirectory(const std::string& what, const std::string& dir, bool mayCreate) {
  const std::string subject = what + " " + dir;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return fail(subject, "exists but is not a directory");
    if (auto problem = writeProbeFile(dir)) return fail(subject, "not writable: " + *problem);
    return ok(subject, "a directory, writable" + volatileNote(dir));
  }
  const int err = errno;
  if (err != ENOENT) return fail(subject, errnoText(err));
  if (!mayCreate) return fail(subject, "does not exist (the daemon does not create it)");
  // The daemon makes it with its parents: what matters is the nearest parent that exists.
  std::string parent = dir;
  do {
    parent = parentOf(parent);
    if (::stat(parent.c_str(), &st) == 0) break;
    if (errno != ENOENT)
      return fail(subject, "cannot be created: " + parent + ": " + errnoText(errno));
  } while (parent != "/");
  if (!S_ISDIR(st.st_mode)) {
    return fail(subject, "cannot be created: " + parent + " is not a directory");
  }
  std::string probe = (parent == "/" ? "" : parent) + "/.quorate-check-XXXXXX";
  if (::mkdtemp(probe.data()) == nullptr) {
    return fail(subject, "does not exist and cannot be created: " + parent +
                             " takes no new directory: " + errnoText(errno));
  }
  ::rmdir(probe.c_str());
  return ok(subject, "does not exist yet; the daemon creates it (" + parent + " is writable)" +
                         volatileNote(parent));
}

std::vector<Finding> checkListenClashes(
    const std::vector<std::pair<std::string, std::string>>& listeners) {
  struct At {
    std::string host, port;
  };
  auto split = [](const std::string& hostPort) -> std::optional<At> {
    const auto colon = hostPort.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string host = hostPort.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    return At{host, hostPort.substr(colon + 1)};
  };
  auto wildcard = [](const std::string& h) { return h.empty() || h == "0.0.0.0" || h == "::"; };
  auto v6 = [](const std::string& h) { return h.find(':') != std::string::npos; };
  std::vector<Finding> out;
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    for (std::size_t j = i + 1; j < listeners.size(); ++j) {
      const auto a = split(listeners[i].second), b = split(listeners[j].second);
      if (!a || !b || a->port != b->port || a->port == "0") continue;
      // "::" also takes IPv4 unless the socket is v6-only, which the daemons do not set.
      const bool overlap = a->host == b->host ||
                           (wildcard(a->host) && (a->host == "::" || !v6(b->host))) ||
                           (wildcard(b->host) && (b->host == "::" || !v6(a->host)));
      if (!overlap) continue;
      out.push_back(fail(listeners[j].first + " " + listeners[j].second,
                         "the same port as " + listeners[i].first + " " + listeners[i].second +
                             ": the daemon could not bind both; give each its own port"));
    }
  }
  return out;
}

Finding checkListen(const std::string& what, const std::string& hostPort) {
  const std::string subject = what + " " + hostPort;
  if (const auto why = config::hostPortError(hostPort)) return fail(subject, *why);
  const auto colon = hostPort.rfind(':');
  std::string host = hostPort.substr(0, colon);
  const std::string port = hostPort.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return fail(subject, "cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> all(found, ::freeaddrinfo);
  int bound = 0;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return fail(subject, "socket: " + errnoText(errno));
    // Like the daemon's listener: a port in TIME_WAIT is free, one with a listener is not.
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const int rc = ::bind(fd, ai->ai_addr, ai->ai_addrlen);
    const int err = errno;
    ::close(fd);
    if (rc == 0) {
      ++bound;
      continue;
    }
    switch (err) {
      case EADDRINUSE:
        return skipped(subject,
                       "the port is in use: by this daemon if it runs (stop it to test the "
                       "address), else by another program (ss -ltnp 'sport = :" +
                           port + "')");
      case EADDRNOTAVAIL:
        return fail(subject, "no interface of this host has the address " + host);
      case EACCES:
        if (::geteuid() != 0) {
          return skipped(subject, "a port below 1024 needs root: run --check as root");
        }
        return fail(subject, errnoText(err));
      default:
        return fail(subject, "bind: " + errnoText(err));
    }
  }
  return ok(subject, "can be bound (" + std::to_string(bound) + " address" +
                         (bound == 1 ? "" : "es") + ", bound and released at once)");
}

Finding checkSecrets(const std::string& what, const config::Document& doc,
                     const YAML::Node& mapping, const std::string& key) {
  try {
    // Only the key's own fields, so the loader's key check passes whatever else is there.
    YAML::Node only(YAML::NodeType::Map);
    std::vector<std::string> paths;
    if (mapping.IsMap()) {
      for (const char* k : {"secret", "secret_file"}) {
        const YAML::Node v = mapping[k];
        if (v.IsDefined()) only[k] = v;
      }
      const YAML::Node file = mapping["secret_file"];
      if (file.IsDefined() && file.IsScalar()) paths.push_back(doc.resolve(file.Scalar()));
      if (file.IsDefined() && file.IsSequence()) {
        for (const auto& item : file) {
          if (item.IsScalar()) paths.push_back(doc.resolve(item.Scalar()));
        }
      }
    }
    const int line = mapping.Mark().is_null() ? 0 : mapping.Mark().line + 1;
    const config::Value v(doc, only, key, line);
    const std::vector<std::string> keys = config::readSecrets(v.asMap({"secret", "secret_file"}));
    if (paths.empty()) return ok(what, "inline key; the config file is readable by its owner only");
    std::string list;
    for (const auto& p : paths) list += (list.empty() ? "" : ", ") + p;
    return ok(what, list + ": readable, owner-only, " + std::to_string(keys.size()) +
                        (keys.size() == 1 ? " key" : " keys") + " long enough");
  } catch (const std::exception& e) {  // ConfigError, or yaml-cpp's on a malformed node
    return fail(what, e.what());
  }
}

Finding checkCaBundle(const std::string& what, const std::string& path) {
  const std::string subject = what + " " + path;
  auto bundle = tls::CaBundle::load(path);
  if (!bundle) return fail(subject, bundle.status().what());
  const std::size_t n = bundle->fingerprints().size();
  return ok(subject, std::to_string(n) + (n == 1 ? " CA certificate" : " CA certificates"));
}

Finding checkCertificate(const std::string& what, const std::string& certPath,
                         const std::optional<std::string>& caPath,
                         const std::optional<tls::Identity>& expected) {
  const std::string subject = what + " " + certPath;
  auto cert = tls::Certificate::load(certPath);
  if (!cert) return fail(subject, cert.status().what());
  std::string detail;
  auto id = cert->identity();
  if (expected) {
    if (!id) return fail(subject, id.status().what());
    if (!(*id == *expected)) {
      return fail(subject, "the certificate is " + id->uri() + ", expected " + expected->uri());
    }
  }
  if (id) detail = id->uri();
  if (caPath) {
    auto bundle = tls::CaBundle::load(*caPath);
    if (!bundle) return fail(subject, "its CA bundle: " + bundle.status().what());
    if (const Status st = bundle->verify(*cert); !st) {
      return fail(subject, "does not verify against " + *caPath + ": " + st.what());
    }
    detail += std::string(detail.empty() ? "" : ", ") + "chains to " + *caPath;
  }
  if (const auto days = daysLeft(cert->get())) {
    if (*days < 0) return fail(subject, "expired " + std::to_string(-*days) + " days ago");
    detail +=
        std::string(detail.empty() ? "" : ", ") + "expires in " + std::to_string(*days) + " days";
  }
  return ok(subject, detail);
}

Finding checkPrivateKey(const std::string& what, const std::string& keyPath,
                        const std::string& certPath) {
  const std::string subject = what + " " + keyPath;
  struct stat st {};
  if (::stat(keyPath.c_str(), &st) != 0) return fail(subject, errnoText(errno));
  if (!S_ISREG(st.st_mode)) return fail(subject, "not a regular file");
  if ((st.st_mode & 077) != 0) {
    return fail(subject, "has mode " + octal(st.st_mode) +
                             ": a private key must be readable by its owner only (chmod 600 it)");
  }
  if (const Status s = tls::checkKeyMatches(certPath, keyPath); !s) return fail(subject, s.what());
  return ok(subject, "owner-only, the key of " + certPath);
}

int printReport(std::ostream& out, const std::string& path, const std::string& what,
                const std::vector<Finding>& findings) {
  std::size_t failed = 0;
  std::size_t skippedCount = 0;
  for (const Finding& f : findings) {
    failed += f.verdict == Verdict::kFail;
    skippedCount += f.verdict == Verdict::kSkipped;
    out << std::left << std::setw(8) << verdictName(f.verdict) << config::escapeControl(f.subject)
        << ": " << config::escapeControl(f.detail) << "\n";
  }
  const std::string skippedNote =
      skippedCount == 0 ? ""
                        : ", " + std::to_string(skippedCount) +
                              " skipped (not verifiable here; SKIPPED is not a failure)";
  if (failed == 0) {
    out << path << ": OK (" << what << "): " << findings.size() - skippedCount << " of "
        << findings.size() << " checks passed" << skippedNote << "\n";
    return 0;
  }
  out << path << ": FAILED (" << what << "): " << failed << " of " << findings.size()
      << " checks failed" << skippedNote << "\n";
  return 1;
}

std::optional<std::string> otherDaemonsFile(const std::string& text, Daemon self) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const std::exception&) {
    return std::nullopt;  // the parser says what is wrong with it
  }
  if (!root.IsMap()) return std::nullopt;
  std::set<std::string> keys;
  for (const auto& entry : root) {
    if (entry.first.IsScalar()) keys.insert(entry.first.Scalar());
  }
  // Keys only one of the two files has (listen, state_dir, log_level and tls both have).
  static const std::array<const char*, 12> kDirectorKeys = {
      "directors",        "node",        "cluster", "arbiter",
      "instances",        "sync_groups", "timers",  "virtual_servers",
      "track_interfaces", "hooks",       "fence",   "secret_file"};
  static const std::array<const char*, 2> kArbiterKeys = {"clusters", "quarantine_ms"};
  auto present = [&](const auto& names) {
    std::string list;
    for (const char* k : names) {
      if (keys.count(k)) list += (list.empty() ? "`" : ", `") + std::string(k) + "`";
    }
    return list;
  };
  const std::string director = present(kDirectorKeys);
  const std::string arbiter = present(kArbiterKeys);
  if (self == Daemon::kArbiter && !director.empty() && arbiter.empty()) {
    return "this looks like a director configuration (it has " + director +
           "); quorate-arbiter needs an arbiter's file: `listen`, `state_dir` and `clusters` "
           "(docs/configuration.md, \"Arbiter file\"); give this one to quorate-director";
  }
  if (self == Daemon::kDirector && !arbiter.empty() && keys.count("directors") == 0 &&
      keys.count("node") == 0) {
    return "this looks like an arbiter configuration (it has " + arbiter +
           "); quorate-director needs a director's file: `cluster`, `node`, `directors`, "
           "`arbiter`, `listen`, `state_dir` and a key (docs/configuration.md, \"Director "
           "file\"); give this one to quorate-arbiter";
  }
  return std::nullopt;
}

}  // namespace quorate::preflight
