// Canonical membership texts and the little parsing a receiver needs.
#include "common/membership.h"

#include <sstream>
#include <vector>

namespace quorate {

std::string membershipText(const std::string& cluster,
                           const std::array<Member, lease::kNodeCount>& members) {
  std::string t = "cluster " + cluster + "\n";
  for (lease::NodeId n = 0; n < lease::kNodeCount; ++n) {
    t += std::to_string(n) + " " + members[n].name + " " + members[n].address + "\n";
  }
  return t;
}

std::optional<std::string> memberName(const std::string& text, lease::NodeId id) {
  if (text.size() > kMaxMembershipText || id >= lease::kNodeCount) return std::nullopt;
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line.rfind("cluster ", 0) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (lease::NodeId n = 0; n < lease::kNodeCount; ++n) {
    if (!std::getline(in, line)) return std::nullopt;
    std::istringstream fields(line);
    std::string number, name, address, extra;
    if (!(fields >> number >> name >> address) || (fields >> extra)) return std::nullopt;
    if (number != std::to_string(n)) return std::nullopt;
    if (n == id) found = name;
  }
  if (std::getline(in, line)) return std::nullopt;  // nothing after the arbiter's line
  return found;
}

namespace {
// The "cluster ..." line and the arbiter's line of a valid text.
std::optional<std::pair<std::string, std::string>> clusterAndArbiter(const std::string& text) {
  if (!memberName(text, lease::kArbiter)) return std::nullopt;
  const auto firstEnd = text.find('\n');
  const auto arbiterLine = text.rfind('\n', text.size() - 2);
  return std::make_pair(text.substr(0, firstEnd), text.substr(arbiterLine + 1));
}
}  // namespace

bool sameArbiter(const std::string& a, const std::string& b) {
  const auto x = clusterAndArbiter(a), y = clusterAndArbiter(b);
  return x && y && *x == *y;
}

std::string oneLine(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, kMaxMembershipText)) {
    if (c == '\n') {
      if (!out.empty()) out += "; ";
    } else if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) {
      out += c;
    } else {
      out += '?';
    }
  }
  while (out.size() >= 2 && out.ends_with("; ")) out.resize(out.size() - 2);
  return out;
}

}  // namespace quorate
