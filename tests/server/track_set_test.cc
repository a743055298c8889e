// Per-lease tracking verdicts (server/track_set.h): which failing items are fatal for a lease,
// which only reported, and how a track file's text reads.
#include "server/track_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace quorate::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

LeaseTrack track(std::vector<TrackItem> interfaces, std::vector<TrackItem> scripts,
                 std::vector<TrackItem> files) {
  return LeaseTrack{std::move(interfaces), std::move(scripts), std::move(files)};
}

TEST(TrackSet, OnlyTheItemsALeaseNamesCount) {
  TrackStates s;
  s.problems[interfaceKey("eth1")] = "interface eth1 has no carrier";
  s.problems[scriptKey("gw")] = "track script gw failing: exit 1";
  // The lease of eth2 and "dns" is untouched by eth1 and gw failing.
  const auto other = judgeLease(track({{"eth2", 0}}, {{"dns", 0}}, {}), s);
  EXPECT_TRUE(other.eligible());
  EXPECT_THAT(other.notes, IsEmpty());
  const auto web = judgeLease(track({{"eth1", 0}}, {{"gw", 0}}, {}), s);
  EXPECT_FALSE(web.eligible());
  EXPECT_THAT(web.faults,
              ElementsAre("interface eth1 has no carrier", "track script gw failing: exit 1"));
}

TEST(TrackSet, ANonZeroWeightReportsWithoutFault) {
  TrackStates s;
  s.problems[interfaceKey("eth1")] = "interface eth1 has no carrier";
  s.problems[scriptKey("gw")] = "track script gw failing: exit 1";
  const auto v = judgeLease(track({{"eth1", -20}}, {{"gw", 10}}, {}), s);
  EXPECT_TRUE(v.eligible());
  ASSERT_EQ(v.notes.size(), 2u);
  EXPECT_THAT(v.notes[0], HasSubstr("weight -20: not fatal"));
  EXPECT_THAT(v.notes[1], HasSubstr("weight 10: not fatal"));
}

TEST(TrackSet, TrackFileWeightZeroFailsOnAnyNonZeroValue) {
  TrackStates s;
  const auto t = track({}, {}, {{"/run/x", 0}});
  EXPECT_TRUE(judgeLease(t, s).eligible());  // not read yet
  s.files["/run/x"] = {0, ""};
  EXPECT_TRUE(judgeLease(t, s).eligible());
  s.files["/run/x"] = {1, ""};
  EXPECT_THAT(judgeLease(t, s).faults, ElementsAre("track file /run/x holds 1, not 0"));
  s.files["/run/x"] = {-3, ""};
  EXPECT_FALSE(judgeLease(t, s).eligible());
}

TEST(TrackSet, TrackFileWithWeightFailsAtMinus254) {
  TrackStates s;
  const auto t = track({}, {}, {{"/run/x", -2}});
  s.files["/run/x"] = {-5, ""};  // +10: fine
  EXPECT_TRUE(judgeLease(t, s).eligible());
  EXPECT_THAT(judgeLease(t, s).notes, IsEmpty());
  s.files["/run/x"] = {126, ""};  // -252: reported only
  auto v = judgeLease(t, s);
  EXPECT_TRUE(v.eligible());
  ASSERT_EQ(v.notes.size(), 1u);
  EXPECT_THAT(v.notes[0], HasSubstr("= -252"));
  s.files["/run/x"] = {127, ""};  // -254: fatal
  v = judgeLease(t, s);
  EXPECT_FALSE(v.eligible());
  EXPECT_THAT(v.faults[0], HasSubstr("= -254"));
}

TEST(TrackSet, AnUnreadableTrackFileIsFatalWhateverItsWeight) {
  TrackStates s;
  s.files["/run/x"] = {std::nullopt, "No such file or directory"};
  for (int w : {0, 5, -5}) {
    const auto v = judgeLease(track({}, {}, {{"/run/x", w}}), s);
    EXPECT_THAT(v.faults, ElementsAre("track file /run/x: No such file or directory")) << w;
  }
}

TEST(TrackSet, TrackFileText) {
  EXPECT_EQ(parseTrackFile("0\n"), (TrackFileReading{0, ""}));
  EXPECT_EQ(parseTrackFile("  -42 \n"), (TrackFileReading{-42, ""}));
  EXPECT_EQ(parseTrackFile("+7"), (TrackFileReading{7, ""}));
  EXPECT_EQ(parseTrackFile("1000000000"), (TrackFileReading{1000000000, ""}));
  for (const char* bad : {"", " \n", "1x", "x", "1 2", "1.5", "99999999999", "--1"}) {
    const auto r = parseTrackFile(bad);
    EXPECT_FALSE(r.value) << bad;
    EXPECT_THAT(r.error, HasSubstr("whole number")) << bad;
  }
}

TEST(TrackSet, ScriptsNamedByALeaseAreNotGlobal) {
  DirectorConfig c;
  c.trackScripts = {TrackScript{"gw", {"/bin/true"}}, TrackScript{"disk", {"/bin/true"}}};
  c.leases.resize(2);
  EXPECT_EQ(globalScripts(c), (std::set<std::string>{"disk", "gw"}));
  c.leases[1].track.scripts = {{"gw", 0}};
  EXPECT_EQ(globalScripts(c), (std::set<std::string>{"disk"}));
}

}  // namespace
}  // namespace quorate::server
