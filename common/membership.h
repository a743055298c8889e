// A cluster's membership as one node sees it: every node id with its name and address. Sent
// with every lease message, so that nodes whose configurations disagree on who is who refuse
// each other instead of voting for two "node 0"s.
#pragma once

#include <array>
#include <optional>
#include <string>

#include "lease/types.h"

namespace quorate {

struct Member {
  std::string name;
  std::string address;  // host:port as the configuration writes it
};

// The canonical text: "cluster <id>" then one line "<node id> <name> <address>" per node
// (directors 0 and 1, the arbiter 2). Equal texts mean equal views.
std::string membershipText(const std::string& cluster,
                           const std::array<Member, lease::kNodeCount>& members);

// The name of node `id` in a membership text, or nullopt when the text is not one (a check for
// texts from the network: at most kMaxMembershipText bytes, the canonical shape).
std::optional<std::string> memberName(const std::string& text, lease::NodeId id);

// Above the longest text a valid configuration can give: "cluster " and a 64-character id,
// then three lines of a digit, a 64-character name and a 253-character host name with a port
// (1054 bytes in all).
inline constexpr std::size_t kMaxMembershipText = 2048;

// Whether two texts name the same cluster and the same arbiter (name and address). Two
// directors whose views differ only in the directors' lines still share one arbiter, whose pin
// admits one view: they cannot both win. Views that differ in the arbiter may be talking to two
// arbiters, two majorities that never meet: only stopping is safe then. False for a text that is
// not a membership.
bool sameArbiter(const std::string& a, const std::string& b);

// One line for logs and errors: the text with its newlines as "; ".
std::string oneLine(const std::string& text);

}  // namespace quorate
