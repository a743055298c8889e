// The converter's parts shared by convert.cc (globals, VRRP, the files) and convert_services.cc
// (virtual servers, real servers, checks): the state of one conversion and its helpers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "client/keepalived/convert.h"
#include "client/keepalived/yaml_writer.h"
#include "common/net_types.h"

namespace quorate::keepalived::detail {

using Kind = Finding::Kind;

inline constexpr const char* kNotYet = "not yet supported by quorate: dropped";

// Words and values.
std::string lower(std::string s);
std::string upper(std::string s);
// A whole number from min to max, or nullopt.
std::optional<std::int64_t> toInt(const std::string& s, std::int64_t min, std::int64_t max);
// keepalived's times are seconds, with a fraction where it allows one ("0.5").
std::optional<std::int64_t> secondsToMs(const std::string& s, std::int64_t minMs = 1,
                                        std::int64_t maxMs = 86'400'000);
std::size_t editDistance(const std::string& a, const std::string& b);
// quorate names: 1 to 64 of A-Z a-z 0-9 . _ -
std::string sanitizeName(const std::string& s);
// As the director takes them: at most 15 characters, no slash, colon or blank.
bool validInterface(const std::string& s);
std::optional<net::IpAddress> address(const std::string& s);
std::string hostPort(const std::string& ip, int port);
// The keys every checker takes (commonCheckKey), for "did you mean" in each checker's block.
std::set<std::string> withCheckKeys(std::set<std::string> keys);

// A block's statements: keywords the block knows but quorate does not, with the reason.
using Reasons = std::map<std::string, std::string>;

struct Announce {
  std::optional<std::int64_t> repeat, intervalMs, refreshMs;
  Location where;
  bool any() const { return repeat || intervalMs || refreshMs; }
  bool operator==(const Announce& o) const {
    return repeat == o.repeat && intervalMs == o.intervalMs && refreshMs == o.refreshMs;
  }
};

// What an instance or sync group tracks: the director's per-lease track_interfaces,
// track_scripts and track_files (entries "name" or {name|path, weight}).
struct Tracking {
  YamlNode interfaces = YamlNode::list();
  YamlNode scripts = YamlNode::list();
  YamlNode files = YamlNode::list();
  std::set<std::string> seen;  // "kind name", each item once
};

struct Instance {
  const Node* node = nullptr;
  std::string name;
  std::string state;
  std::string interface;
  std::optional<std::int64_t> vrid, priority, advertMs, preemptDelayMs;
  bool nopreempt = false;
  Location nopreemptWhere;
  bool useVmac = false;
  std::vector<const Node*> vipNodes;
  YamlNode vips = YamlNode::list();
  std::vector<net::IpAddress> vipAddresses;
  std::set<std::string> vipDevices;
  bool vipLabels = false;
  YamlNode hooks = YamlNode::map();
  std::map<std::string, Location> hookWhere;
  Announce announce;
  Tracking track;
  std::string group;  // its sync group, if any
  bool converted = false;
};

struct Group {
  const Node* node = nullptr;
  std::string name;
  std::vector<std::string> members;  // converted instances' names
  YamlNode hooks = YamlNode::map();
  Tracking track;
};

struct Program {
  std::vector<std::string> argv;
  std::string user;
};

class Converter {
 public:
  Converter(const Config& config, const ImportOptions& options)
      : config_(config), options_(options) {}

  Imported run();

 private:
  void report(Kind kind, const Node& n, const std::string& why) {
    out_.report.push_back({kind, n.where, n.keyword, why});
  }
  void unknownOrUnsupported(const Node& n, const std::string& context, const Reasons& reasons,
                            const std::set<std::string>& mapped);
  std::optional<std::int64_t> intArg(const Node& n, std::int64_t min, std::int64_t max);
  std::optional<std::int64_t> msArg(const Node& n, std::int64_t minMs = 1,
                                    std::int64_t maxMs = 86'400'000);
  std::optional<Program> program(const Node& n, const std::vector<std::string>& words,
                                 bool userAfter);
  YamlNode hookValue(const Program& p);
  // Reports a user this host does not know (the director refuses such a file).
  void checkUser(const Node& n, const std::string& user);

  void globalDefs(const Node& n);
  void instance(const Node& n);
  void vip(Instance& inst, const Node& v);
  void trackInterfaces(const Node& n, Tracking& into);
  void trackScripts(const Node& n, Tracking& into);
  void trackFiles(const Node& n, Tracking& into);
  // A keepalived weight ("weight N [reverse]" from word `at` on) as quorate's, within +-limit.
  std::int64_t weightOf(const Node& n, const std::vector<std::string>& w, std::size_t at,
                        std::int64_t fallback, std::int64_t limit);
  void addTrack(const Node& at, Tracking& into, YamlNode& list, const std::string& kind,
                const std::string& key, const std::string& name, std::int64_t weight);
  void emitTrack(Tracking& t, YamlNode& y);
  void syncGroup(const Node& n);
  void finishLeases(YamlNode& root);
  void virtualServer(const Node& n, YamlNode& list);
  void virtualServerBody(const Node& n, YamlNode vs, const std::string& matchAddress,
                         YamlNode& list);
  void groupVirtualServer(const Node& n,
                          const std::vector<std::pair<std::string, std::int64_t>>& services,
                          const std::vector<std::int64_t>& marks, YamlNode& list);
  YamlNode realServer(const Node& n, const YamlNode& vs, const std::string& forwarding,
                      std::int64_t servicePort, bool fwmark, const Node& vsNode);
  void checks(const Node& n, YamlNode& list, const std::string& vsVirtualhost);
  bool commonCheckKey(const Node& c, YamlNode& check);
  YamlNode scriptYaml(const Node& n);
  std::string instanceFor(const std::string& address, const Node& vsNode);
  std::vector<std::pair<std::string, std::int64_t>> expandGroup(const Node& vsNode,
                                                                const std::string& name,
                                                                std::vector<std::int64_t>* marks);

  const Config& config_;
  const ImportOptions& options_;
  Imported out_;

  std::vector<Instance> instances_;
  std::vector<Group> groups_;
  std::map<std::string, const Node*> scripts_;
  std::vector<std::string> usedScripts_;
  std::map<std::string, const Node*> vsGroups_;
  std::map<std::string, const Node*> trackFiles_;  // vrrp_track_file blocks by name
  std::vector<const Node*> virtualServers_;
  Announce globalAnnounce_;
  YamlNode syncDaemon_ = YamlNode::map();
  std::string scriptUser_;
  std::string notifyFifo_;
  std::string selfAddress_, peerAddress_;
  std::set<std::string> vipsSeen_;
  std::string vsVirtualhost_;  // the virtual server being converted: its checks' default
  // virtual_server_groups (convert_services.cc): the groups, the names of every virtual server,
  // and of the group being converted its address members' port and whether it has marks only.
  YamlNode serviceGroups_ = YamlNode::map();
  std::vector<std::string> groupVsNames_;
  std::optional<std::int64_t> groupPort_;
  bool groupMarksOnly_ = false;
};

}  // namespace quorate::keepalived::detail
