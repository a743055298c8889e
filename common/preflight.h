// What `--check` verifies on the host beyond parsing, shared by both daemons: findings as values
// (OK, FAIL or SKIPPED with a reason), the checks of files, directories and listen addresses, the
// report, and the telling apart of a director's file from an arbiter's.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "common/tls/identity.h"
#include "common/yaml_config.h"

namespace quorate::preflight {

enum class Verdict {
  kOk,
  kFail,     // the daemon would fail, or run without what the file asks for
  kSkipped,  // this host, or this user, cannot tell (not root, a port the daemon holds)
};

// One line of the report: "<VERDICT> <subject>: <detail>".
struct Finding {
  Verdict verdict = Verdict::kOk;
  std::string subject;  // what was checked: "interface eth0", "state_dir /var/lib/quorate"
  std::string detail;   // what was found, or why it failed or was skipped
};

Finding ok(std::string subject, std::string detail);
Finding fail(std::string subject, std::string detail);
Finding skipped(std::string subject, std::string detail);

// "OK", "FAIL", "SKIPPED".
const char* verdictName(Verdict v);

// A directory the daemon writes: it exists and takes a new file (written, fsync'd, removed); or,
// with `mayCreate`, it does not exist yet and its nearest existing parent takes a new
// directory (made and removed again), since the daemon creates it. Notes a tmpfs.
Finding checkWritableDirectory(const std::string& what, const std::string& dir, bool mayCreate);

// A TCP `hostPort` the daemon listens on can be bound now (the socket is closed at once). A port
// in use is SKIPPED (a running daemon holds its own port; stop it to test); an address no
// interface of this host has FAILs.
Finding checkListen(const std::string& what, const std::string& hostPort);

// Two of the daemon's own listeners (what, "host:port") on one port where their addresses
// overlap (the same address, or either a wildcard of the same family): the second could never
// bind. One FAIL per clash, naming both; nothing when they are apart.
std::vector<Finding> checkListenClashes(
    const std::vector<std::pair<std::string, std::string>>& listeners);

// The cluster key or keys of `mapping` (its `secret` / `secret_file` keys; others are ignored),
// read again by the daemons' own loader: present, readable, owner-only, long enough. `doc` is the
// file's document, for relative paths and messages.
Finding checkSecrets(const std::string& what, const config::Document& doc,
                     const YAML::Node& mapping, const std::string& key);

// A CA bundle: it loads (every certificate in it parses).
Finding checkCaBundle(const std::string& what, const std::string& path);

// A node's certificate: it loads, chains to `caPath` and is valid now (when `caPath` is set), and
// names `expected` (when set). Names its identity when it has one, and when it expires.
Finding checkCertificate(const std::string& what, const std::string& certPath,
                         const std::optional<std::string>& caPath,
                         const std::optional<tls::Identity>& expected);

// A private key: readable by its owner only, and the key of `certPath`.
Finding checkPrivateKey(const std::string& what, const std::string& keyPath,
                        const std::string& certPath);

// Prints one line per finding, then a summary naming `path` ("FILE: OK (what) ..." when nothing
// failed, "FILE: FAILED ..." otherwise). Returns the exit code: 0 when nothing failed, else 1.
int printReport(std::ostream& out, const std::string& path, const std::string& what,
                const std::vector<Finding>& findings);

enum class Daemon { kDirector, kArbiter };

// When `text` is a mapping whose top-level keys belong to the other daemon's file and not to
// `self`'s, the message that says so ("this looks like a director configuration (it has
// `directors`, `node`); quorate-arbiter needs ..."); else nullopt (the parser reports the rest).
std::optional<std::string> otherDaemonsFile(const std::string& text, Daemon self);

}  // namespace quorate::preflight
