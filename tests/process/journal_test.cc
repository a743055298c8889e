// Logs of the real director: a role change reaches the journal (native protocol, on a socket the
// test binds in a mount namespace of its own) with PRIORITY and the QUORATE_* fields, through
// log_target: journal and through auto with $JOURNAL_STREAM; and at log_level: error each role
// change still gives exactly one line; log_target: syslog reaches /dev/log with facility daemon.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <regex>

#include "process/cluster.h"
#include "support/notify_socket.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;
using Fields = std::multimap<std::string, std::string>;

// One datagram of journald's native protocol: "KEY=VALUE\n", or "KEY\n" then the value's length
// as 64-bit little-endian, the value and "\n" (values with newlines). nullopt when malformed.
std::optional<Fields> parseJournalDatagram(const std::string& d) {
  Fields out;
  std::size_t i = 0;
  while (i < d.size()) {
    const std::size_t nl = d.find('\n', i);
    if (nl == std::string::npos) return std::nullopt;
    const std::string line = d.substr(i, nl - i);
    const std::size_t eq = line.find('=');
    if (eq != std::string::npos) {
      out.emplace(line.substr(0, eq), line.substr(eq + 1));
      i = nl + 1;
      continue;
    }
    if (nl + 1 + 8 > d.size()) return std::nullopt;
    std::uint64_t len = 0;
    for (int b = 7; b >= 0; --b) len = (len << 8) | static_cast<unsigned char>(d[nl + 1 + b]);
    const std::size_t start = nl + 1 + 8;
    if (len > d.size() - start || start + len >= d.size() || d[start + len] != '\n') {
      return std::nullopt;
    }
    out.emplace(line, d.substr(start, len));
    i = start + len + 1;
  }
  return out;
}

std::string field(const Fields& f, const std::string& key) {
  const auto it = f.find(key);
  return it == f.end() ? std::string("<missing>") : it->second;
}

TEST(JournalProtocol, ParsesBothForms) {
  std::string d = "PRIORITY=6\nMESSAGE\n";
  const std::string value = "two\nlines";
  for (int b = 0; b < 8; ++b) d += static_cast<char>(b == 0 ? value.size() : 0);
  d += value + "\nQUORATE_EPOCH=3\n";
  const auto f = parseJournalDatagram(d);
  ASSERT_TRUE(f);
  EXPECT_EQ(field(*f, "PRIORITY"), "6");
  EXPECT_EQ(field(*f, "MESSAGE"), value);
  EXPECT_EQ(field(*f, "QUORATE_EPOCH"), "3");
  EXPECT_FALSE(parseJournalDatagram("MESSAGE\n\x05"));  // a length cut short
  EXPECT_FALSE(parseJournalDatagram("PRIORITY=6"));     // no newline
}

// Mounts a tmpfs over the journal's directory (or the nearest existing parent) in a mount
// namespace of this process's own, so the test binds /run/systemd/journal/socket without
// touching the host's. Returns why it cannot (then the test is skipped).
std::optional<std::string> privateJournalDirectory() {
  if (::geteuid() != 0) return "needs root (a mount namespace)";
  if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare: ") + std::strerror(errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("make / private: ") + std::strerror(errno);
  }
  std::string over = "/run/systemd/journal";
  struct stat st {};
  while (::stat(over.c_str(), &st) != 0) over = over.substr(0, over.rfind('/'));
  if (::mount("tmpfs", over.c_str(), "tmpfs", 0, "mode=0755") != 0) {
    return "mount tmpfs on " + over + ": " + std::strerror(errno);
  }
  for (const char* d : {"/run/systemd", "/run/systemd/journal"}) ::mkdir(d, 0755);
  return std::nullopt;
}

// A role change's lines in a director's log: "lease L: role FROM -> TO epoch E: REASON".
struct RoleLine {
  std::string lease, from, to;
  std::uint64_t epoch = 0;
};

std::vector<RoleLine> roleLines(const std::string& log) {
  static const std::regex re(R"(lease (\S+): role (\w+) -> (\w+) epoch (\d+): )");
  std::vector<RoleLine> out;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back({(*it)[1], (*it)[2], (*it)[3], std::stoull((*it)[4])});
  }
  return out;
}

// Exactly one line per change: the lines chain from `initial` to `final`, each starting where
// the previous one ended, none from a role to itself. The problems found; empty: none.
std::vector<std::string> checkRoleChain(const std::vector<RoleLine>& lines,
                                        const std::string& initial, const std::string& final) {
  std::vector<std::string> out;
  std::string at = initial;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    if (l.from != at) {
      out.push_back("line " + std::to_string(i) + " starts at " + l.from + ", the role was " + at);
    }
    if (l.from == l.to) out.push_back("line " + std::to_string(i) + " is no change: " + l.from);
    at = l.to;
  }
  if (at != final) out.push_back("the lines end at " + at + ", the role is " + final);
  return out;
}

TEST(RoleChain, TheCheckCatchesADuplicateAndAMissingLine) {
  const std::vector<RoleLine> good = {{"default", "quarantine", "standby", 0},
                                      {"default", "standby", "candidate", 0},
                                      {"default", "candidate", "holder", 1}};
  EXPECT_TRUE(checkRoleChain(good, "quarantine", "holder").empty());
  const std::vector<RoleLine> twice = {good[0], good[1], good[1], good[2]};
  EXPECT_FALSE(checkRoleChain(twice, "quarantine", "holder").empty());
  const std::vector<RoleLine> missing = {good[0], good[2]};
  EXPECT_FALSE(checkRoleChain(missing, "quarantine", "holder").empty());
  EXPECT_FALSE(checkRoleChain({}, "quarantine", "holder").empty());
}

std::string replaceLogLevel(const std::string& config, const std::string& with) {
  const std::string from = "log_level: debug\n";
  std::string out = config;
  const auto at = out.find(from);
  if (at == std::string::npos) throw std::runtime_error("no log_level in the config");
  return out.replace(at, from.size(), with);
}

TEST(Journal, RoleChangesCarryPriorityAndLeaseFields) {
  if (const auto why = privateJournalDirectory()) GTEST_SKIP() << *why;
  testutil::NotifyRecorder journal("/run/systemd/journal/socket");
  ClusterOptions o;
  o.prefer(kAlpha);
  o.editing(kAlpha, [](const std::string& y) {
    return replaceLogLevel(y, "log_level: info\nlog_target: journal\n");
  });
  o.editing(kBeta, [](const std::string& y) { return replaceLogLevel(y, "log_level: info\n"); });
  Cluster c("journal", o);
  c.start(kArbiter);
  c.start(kAlpha);
  // beta runs with log_target: auto (the default) and a $JOURNAL_STREAM naming its stderr, which
  // the harness opens on its log file.
  writeFile(c.logPath(kBeta), "");
  struct stat st {};
  ASSERT_EQ(::stat(c.logPath(kBeta).c_str(), &st), 0);
  ::setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(),
           1);
  c.start(kBeta);
  ::unsetenv("JOURNAL_STREAM");

  const auto h = c.waitForSettled(c.timers().startupBound() + 5s);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->holder, kAlpha);
  ASSERT_TRUE(c.stepDown(kAlpha).ok());
  ASSERT_TRUE(c.waitForSelfHolder(kBeta, c.timers().failoverBound()));

  auto entry = [&](const std::string& node, const std::string& from, const std::string& to) {
    return journal.waitFor(
        [&](const testutil::NotifyMessage& m) {
          const auto f = parseJournalDatagram(m.text);
          return f && field(*f, "QUORATE_NODE") == node &&
                 field(*f, "MESSAGE").find("role " + from + " -> " + to) != std::string::npos;
        },
        5s);
  };
  for (const auto& node : {kAlpha, kBeta}) {
    SCOPED_TRACE(node);
    const auto won = entry(node, "candidate", "holder");
    ASSERT_TRUE(won) << node << ": no role change to holder in the journal";
    const auto f = *parseJournalDatagram(won->text);
    EXPECT_EQ(field(f, "PRIORITY"), "6");
    EXPECT_EQ(field(f, "SYSLOG_IDENTIFIER"), "quorate-director");
    EXPECT_EQ(field(f, "QUORATE_CLUSTER"), c.clusterId());
    EXPECT_EQ(field(f, "QUORATE_LEASE"), "default");
    EXPECT_EQ(field(f, "QUORATE_ROLE"), "holder");
    EXPECT_NE(field(f, "QUORATE_REASON").find("majority"), std::string::npos);
    EXPECT_GT(std::stoull(field(f, "QUORATE_EPOCH")), 0u);
    // The journal got it instead of stderr.
    EXPECT_EQ(c.log(node).find("-> holder"), std::string::npos);
  }
  // Losing the lease (here by a step-down) is a warning.
  const auto lost = entry(kAlpha, "holder", "standby");
  ASSERT_TRUE(lost);
  const auto f = *parseJournalDatagram(lost->text);
  EXPECT_EQ(field(f, "PRIORITY"), "4");
  EXPECT_EQ(field(f, "QUORATE_ROLE"), "standby");
}

// In the private mount namespace of privateJournalDirectory(): a tmpfs over /dev with the few
// devices a daemon opens bound back from the real one, so the test can bind /dev/log itself.
std::optional<std::string> privateDevLog() {
  const std::string saved = "/run/systemd/journal/dev";
  ::mkdir(saved.c_str(), 0755);
  if (::mount("/dev", saved.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return std::string("bind /dev: ") + std::strerror(errno);
  }
  if (::mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") != 0) {
    return std::string("mount tmpfs on /dev: ") + std::strerror(errno);
  }
  for (const std::string dev : {"null", "zero", "full", "random", "urandom"}) {
    writeFile("/dev/" + dev, "");
    if (::mount((saved + "/" + dev).c_str(), ("/dev/" + dev).c_str(), nullptr, MS_BIND, nullptr) !=
        0) {
      return "bind /dev/" + dev + ": " + std::strerror(errno);
    }
  }
  return std::nullopt;
}

TEST(Syslog, RoleChangesGoToDevLogWithFacilityDaemon) {
  if (const auto why = privateJournalDirectory()) GTEST_SKIP() << *why;
  if (const auto why = privateDevLog()) GTEST_SKIP() << *why;
  testutil::NotifyRecorder syslog("/dev/log");
  ClusterOptions o;
  o.prefer(kAlpha);
  o.editing(kAlpha, [](const std::string& y) {
    return replaceLogLevel(y, "log_level: info\nlog_target: syslog\n");
  });
  Cluster c("syslog", o);
  c.startAll();
  const auto h = c.waitForSettled(c.timers().startupBound() + 5s);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->holder, kAlpha);
  ASSERT_TRUE(c.stepDown(kAlpha).ok());
  auto line = [&](const std::string& text) {
    return syslog.waitFor(
        [&](const testutil::NotifyMessage& m) { return m.text.find(text) != std::string::npos; },
        5s);
  };
  // <facility * 8 + severity>: daemon (3) and info (6) or warning (4); glibc's ident[pid].
  const auto won = line("role candidate -> holder");
  ASSERT_TRUE(won) << "no role change in syslog";
  EXPECT_EQ(won->text.rfind("<30>", 0), 0u) << won->text;
  EXPECT_NE(won->text.find("quorate-director[" + std::to_string(won->pid) + "]: "),
            std::string::npos)
      << won->text;
  const auto lost = line("role holder -> standby");
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->text.rfind("<28>", 0), 0u) << lost->text;
  EXPECT_EQ(c.log(kAlpha).find("-> holder"), std::string::npos) << "also on stderr";
}

TEST(Logs, EachRoleChangeIsOneLineEvenAtLogLevelError) {
  ClusterOptions o;
  o.prefer(kAlpha);
  for (const auto& d : {kAlpha, kBeta}) {
    o.editing(d, [](const std::string& y) {
      return replaceLogLevel(y, "log_level: error\nlog_target: stderr\n");
    });
  }
  Cluster c("log-error", o);
  c.startAll();
  const auto h = c.waitForSettled(c.timers().startupBound() + 5s);
  ASSERT_TRUE(h);
  ASSERT_TRUE(c.stepDown(h->holder).ok());
  ASSERT_TRUE(c.waitForSelfHolder(otherDirector(h->holder), c.timers().failoverBound()));
  for (const auto& d : {kAlpha, kBeta}) {
    SCOPED_TRACE(d);
    const auto s = c.status(d, Ms(2000));
    ASSERT_TRUE(s);
    const std::string log = c.log(d);
    const auto lines = roleLines(log);
    const auto problems = checkRoleChain(lines, "quarantine", s->role());
    EXPECT_TRUE(problems.empty()) << summary(problems) << log;
    const bool held =
        std::any_of(lines.begin(), lines.end(), [](const RoleLine& l) { return l.to == "holder"; });
    EXPECT_TRUE(held) << "both directors held the lease once";
    // Nothing else below error came through: the level holds for every other line.
    std::size_t infoLines = 0;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
      if (line.find(" info: ") != std::string::npos && line.find(": role ") == std::string::npos) {
        ++infoLines;
      }
    }
    EXPECT_EQ(infoLines, 0u) << log;
  }
}

}  // namespace
}  // namespace quorate::proctest
