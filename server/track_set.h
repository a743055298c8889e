// Per-lease tracking verdicts (keepalived's per-instance track_interface, track_script and
// track_file): pure logic over the tracked items' states, with no kernel and no processes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/config.h"

namespace quorate::server {

// keepalived puts an instance in FAULT when a track file's value times its weight reaches this
// (its priority can then not be positive whatever it started at).
inline constexpr std::int64_t kTrackFileFault = -254;

// What a track file held when last read: a whole number, or why it could not be used.
struct TrackFileReading {
  std::optional<std::int64_t> value;
  std::string error;  // set when value is not
  bool operator==(const TrackFileReading&) const = default;
};

// The state of every tracked item, as OwnHealth observes them.
struct TrackStates {
  // Failing interfaces and scripts, by key (interfaceKey(), scriptKey()) -> what is wrong.
  std::map<std::string, std::string> problems;
  std::map<std::string, TrackFileReading> files;  // by path; a path never read: not yet known
};

std::string interfaceKey(const std::string& name);  // "interface eth1"
std::string scriptKey(const std::string& name);     // "track script gw"

// One lease's verdict: faults make this director ineligible for it; notes are failures whose
// non-zero weight makes them not fatal (reported in status only).
struct LeaseVerdict {
  std::vector<std::string> faults;
  std::vector<std::string> notes;
  bool eligible() const { return faults.empty(); }
  bool operator==(const LeaseVerdict&) const = default;
};

// Judges `track` against `states`. A track file not read yet counts as fine (the first read
// follows at once); unreadable or not a whole number counts as failed whatever its weight; a
// value v with weight 0 fails when v != 0; with weight w it fails when v * w <= kTrackFileFault
// and is a note when v * w < 0.
LeaseVerdict judgeLease(const LeaseTrack& track, const TrackStates& states);

// The top-level track scripts that gate every lease: those no lease names (a script a lease
// names applies to that lease only, like a keepalived vrrp_script tracked by one instance).
std::set<std::string> globalScripts(const DirectorConfig& config);

// The text of a track file read as a whole number (spaces around it allowed), as its reading.
TrackFileReading parseTrackFile(const std::string& text);

}  // namespace quorate::server
