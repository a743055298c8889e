// `quorate-director --check`: the parsed configuration checked against this host, one finding per
// check (interfaces, programs, state directory, key and certificate files, kernel features, listen
// addresses, watchdog device), and the command that prints them.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "common/preflight.h"
#include "common/status.h"
#include "server/config.h"

namespace quorate::server::preflight {

using quorate::preflight::Finding;

// Every interface the file names exists in this network namespace: VIP devices (announcements
// leave through them; with use_vmac the parent of the macvlan the director makes),
// track_interfaces and the IPVS sync daemon's interface. One finding per interface.
std::vector<Finding> checkInterfaces(const DirectorConfig& c);

// Every program the file runs (hooks, track scripts, fence_before_claim, script checks,
// notify_up/notify_down) exists, is a regular file its user may execute, and passes the
// script security check. One finding per program and user.
std::vector<Finding> checkPrograms(const DirectorConfig& c);

// state_dir exists or can be made, and takes a file; the event log's directory, when it is
// elsewhere, exists and takes a file; the operator socket's directory (checkSocketDirectory).
std::vector<Finding> checkDirectories(const DirectorConfig& c);

// The operator socket's directory as the listener wants it: a directory no group or other may
// write, owned by root or the director's user; or missing with a parent that exists (the
// listener makes the last component only).
Finding checkSocketDirectory(const std::string& dir);

// The cluster key files (read again by the loader), the TLS CA, certificate and key of the peer
// protocol, the arbiter's CA, and the operator TCP listener's files. `text` is the file's text.
std::vector<Finding> checkFiles(const DirectorConfig& c, const std::string& text);

// What `probe` (kernel::probeIpvs's answer) means for a director with virtual servers.
Finding ipvsFinding(const Status& probe);
// What `probe` (kernel::probeNftables's answer) means for a director with the fence.
Finding nftablesFinding(const Status& probe);
// IPVS when virtual servers are configured; nf_tables when the fence is used. Asks this kernel.
std::vector<Finding> checkKernel(const DirectorConfig& c);

// `listen` and operator.tcp.listen can be bound.
std::vector<Finding> checkListeners(const DirectorConfig& c);

// The watchdog device exists (not opened: opening a real one arms it); nullopt without one.
std::optional<Finding> checkWatchdog(const DirectorConfig& c);

// All of the above, in that order.
std::vector<Finding> checkAll(const DirectorConfig& c, const std::string& text);

// `quorate-director --check --config path`: the file read and parsed (its errors, and an arbiter's
// file, go to `err` with exit code 2), then every check printed to `out`; 0 when none failed,
// 1 otherwise.
int runCheck(const std::string& path, std::ostream& out, std::ostream& err);

}  // namespace quorate::server::preflight
