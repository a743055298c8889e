// Per-lease tracking verdicts: which failing items are fatal for which lease.
#include "server/track_set.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace quorate::server {

std::string interfaceKey(const std::string& name) { return "interface " + name; }
std::string scriptKey(const std::string& name) { return "track script " + name; }

namespace {

std::string weighted(const std::string& what, int weight) {
  return what + " (weight " + std::to_string(weight) + ": not fatal)";
}

// Failing interfaces or scripts of `items` into `v`.
void judgeItems(const std::vector<TrackItem>& items, const TrackStates& states,
                std::string (*key)(const std::string&), LeaseVerdict& v) {
  for (const auto& item : items) {
    const auto it = states.problems.find(key(item.name));
    if (it == states.problems.end()) continue;
    if (item.weight == 0) {
      v.faults.push_back(it->second);
    } else {
      v.notes.push_back(weighted(it->second, item.weight));
    }
  }
}

}  // namespace

LeaseVerdict judgeLease(const LeaseTrack& track, const TrackStates& states) {
  LeaseVerdict v;
  judgeItems(track.interfaces, states, interfaceKey, v);
  judgeItems(track.scripts, states, scriptKey, v);
  for (const auto& f : track.files) {
    const auto it = states.files.find(f.name);
    if (it == states.files.end()) continue;
    const TrackFileReading& r = it->second;
    const std::string what = "track file " + f.name;
    if (!r.value) {
      v.faults.push_back(what + ": " + r.error);
      continue;
    }
    const std::int64_t value = *r.value;
    if (f.weight == 0) {
      if (value != 0) v.faults.push_back(what + " holds " + std::to_string(value) + ", not 0");
      continue;
    }
    // |value| is bounded by parseTrackFile and |weight| by the parser: no overflow.
    const std::int64_t product = value * f.weight;
    const std::string detail = what + " holds " + std::to_string(value) + ", times weight " +
                               std::to_string(f.weight) + " = " + std::to_string(product);
    if (product <= kTrackFileFault) {
      v.faults.push_back(detail + " (" + std::to_string(kTrackFileFault) + " or less is fatal)");
    } else if (product < 0) {
      v.notes.push_back(detail + " (not fatal above " + std::to_string(kTrackFileFault) + ")");
    }
  }
  return v;
}

std::set<std::string> globalScripts(const DirectorConfig& config) {
  std::set<std::string> named;
  for (const auto& l : config.leases) {
    for (const auto& s : l.track.scripts) named.insert(s.name);
  }
  std::set<std::string> out;
  for (const auto& t : config.trackScripts) {
    if (!named.count(t.name)) out.insert(t.name);
  }
  return out;
}

TrackFileReading parseTrackFile(const std::string& text) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  const auto first = std::find_if_not(text.begin(), text.end(), space);
  const auto last = std::find_if_not(text.rbegin(), text.rend(), space).base();
  if (first >= last) return {std::nullopt, "empty, expected a whole number"};
  const std::string word(first, last);
  std::int64_t value = 0;
  const char* end = word.data() + word.size();
  const char* begin = word.data() + (word[0] == '+' ? 1 : 0);
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  // Beyond a billion the product with a weight means nothing more than "very negative".
  constexpr std::int64_t kBound = 1'000'000'000;
  if (ec != std::errc() || ptr != end || value > kBound || value < -kBound) {
    return {std::nullopt,
            "expected a whole number of at most 10 digits, got \"" + word.substr(0, 32) + "\""};
  }
  return {value, ""};
}

}  // namespace quorate::server
