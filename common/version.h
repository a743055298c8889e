// What this build is: release version, source commit and the peer protocol's wire version.
#pragma once

#include <string>
#include <string_view>

namespace quorate {

// The CMake project version, e.g. "0.16.0".
extern const std::string_view kVersion;
// `git describe --always --dirty` when CMake configured the tree; "unknown" outside git.
extern const std::string_view kGitCommit;
// The N of the protocol's package quorate.vN (proto/quorate/v1/quorate.proto): what every RPC
// path ("/quorate.v1.Peer/Exchange") and every signed peer message already carry.
extern const int kProtocolVersion;

// "quorate-director 0.16.0 (commit abc1234, protocol 1)": what --version prints.
std::string versionLine(std::string_view program);

}  // namespace quorate
