// Proto <-> domain conversion: every body round-trips; bad input is named, not trusted.
#include "common/convert.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>

namespace quorate {
namespace {

using namespace lease;
using std::chrono::microseconds;

TEST(Convert, EveryBodyRoundTrips) {
  const LeaseView lv{1, 9, microseconds(1234)};
  const Body bodies[] = {
      Prepare{Ballot{7, 1, 3, 0xfedcba9876543210}},  // the instance uses all 64 bits
      Promise{Ballot{7, 1}, lv, 9},
      Promise{Ballot{7, 1}, std::nullopt, 0},
      Accept{Ballot{8, 0}, 10, microseconds(1'700'000)},
      Accepted{Ballot{8, 0, 2, 42}, 10},
      Reject{Ballot{8, 0, 1, 5}, Ballot{9, 1, 4, 6}, 11, lv, RejectReason::kLiveLease},
      Reject{Ballot{8, 0}, Ballot{9, 1}, 11, std::nullopt, RejectReason::kBallot},
      Reject{Ballot{8, 0}, Ballot{9, 1}, 11, std::nullopt, RejectReason::kOutOfRange},
      // The limit itself passes the wire (the acceptor judges it against what it knows).
      Accept{Ballot{kMaxCounter, 1, kMaxCounter, 3}, kMaxCounter, std::chrono::seconds(1)},
      Release{10},
      Handover{10},
      Preempt{},
      Ping{},
      Pong{},
  };
  static_assert(std::variant_size_v<Body> == 10, "add the new message type here");
  for (const auto& b : bodies) {
    const Message m{0, 2, b};
    v1::PeerMessage pm;
    toProto(m, pm);
    const auto back = fromProto(pm);
    ASSERT_TRUE(back) << bodyName(b) << ": " << back.status().message();
    EXPECT_EQ(*back, m) << bodyName(b);
  }
}

TEST(Convert, BadInputIsNamed) {
  v1::PeerMessage pm;
  auto error = [&] { return fromProto(pm).status().what(); };
  pm.set_from(0);
  pm.set_to(2);
  EXPECT_NE(error().find("body"), std::string::npos);
  pm.set_to(7);
  pm.mutable_ping();
  EXPECT_NE(error().find("to"), std::string::npos);
  pm.set_to(2);
  pm.set_from(3);
  EXPECT_NE(error().find("from"), std::string::npos);
  pm.set_from(0);
  pm.mutable_accept()->set_lease_us(0);
  EXPECT_NE(error().find("lease_us"), std::string::npos);
  pm.mutable_accept()->set_lease_us(1ULL << 60);
  EXPECT_NE(error().find("lease_us"), std::string::npos);
  pm.mutable_reject()->set_reason(static_cast<v1::RejectReason>(77));
  EXPECT_NE(error().find("reason"), std::string::npos);
  pm.mutable_reject()->set_reason(v1::REJECT_BALLOT);
  pm.mutable_reject()->mutable_lease()->set_owner(2);
  EXPECT_NE(error().find("owner"), std::string::npos);
}

// No round, epoch or incarnation above kMaxCounter gets past the wire, in any message, and the
// error names the field.
TEST(Convert, CountersAboveTheLimitAreRefusedByName) {
  constexpr std::uint64_t kTop = std::numeric_limits<std::uint64_t>::max();
  struct Case {
    const char* field;
    std::function<void(v1::PeerMessage&, std::uint64_t)> set;
  };
  const Case cases[] = {
      {"prepare.ballot.round",
       [](auto& pm, auto v) { pm.mutable_prepare()->mutable_ballot()->set_round(v); }},
      {"prepare.ballot.incarnation",
       [](auto& pm, auto v) { pm.mutable_prepare()->mutable_ballot()->set_incarnation(v); }},
      {"promise.ballot.round",
       [](auto& pm, auto v) { pm.mutable_promise()->mutable_ballot()->set_round(v); }},
      {"promise.max_epoch", [](auto& pm, auto v) { pm.mutable_promise()->set_max_epoch(v); }},
      {"promise.lease.epoch",
       [](auto& pm, auto v) { pm.mutable_promise()->mutable_lease()->set_epoch(v); }},
      {"accept.ballot.round",
       [](auto& pm, auto v) {
         pm.mutable_accept()->set_lease_us(1000);
         pm.mutable_accept()->mutable_ballot()->set_round(v);
       }},
      {"accept.epoch",
       [](auto& pm, auto v) {
         pm.mutable_accept()->set_lease_us(1000);
         pm.mutable_accept()->set_epoch(v);
       }},
      {"accepted.ballot.round",
       [](auto& pm, auto v) { pm.mutable_accepted()->mutable_ballot()->set_round(v); }},
      {"accepted.epoch", [](auto& pm, auto v) { pm.mutable_accepted()->set_epoch(v); }},
      {"reject.ballot.round",
       [](auto& pm, auto v) {
         pm.mutable_reject()->set_reason(v1::REJECT_BALLOT);
         pm.mutable_reject()->mutable_ballot()->set_round(v);
       }},
      {"reject.promised.round",
       [](auto& pm, auto v) {
         pm.mutable_reject()->set_reason(v1::REJECT_BALLOT);
         pm.mutable_reject()->mutable_promised()->set_round(v);
       }},
      {"reject.max_epoch",
       [](auto& pm, auto v) {
         pm.mutable_reject()->set_reason(v1::REJECT_BALLOT);
         pm.mutable_reject()->set_max_epoch(v);
       }},
      {"release.epoch", [](auto& pm, auto v) { pm.mutable_release()->set_epoch(v); }},
      {"handover.epoch", [](auto& pm, auto v) { pm.mutable_handover()->set_epoch(v); }},
  };
  for (const auto& c : cases) {
    for (std::uint64_t v : {kTop, std::uint64_t{1} << 63, kMaxCounter + 1}) {
      SCOPED_TRACE(std::string(c.field) + " = " + std::to_string(v));
      v1::PeerMessage pm;
      pm.set_from(0);
      pm.set_to(2);
      c.set(pm, v);
      const auto r = fromProto(pm);
      ASSERT_FALSE(r);
      EXPECT_NE(r.status().what().find(c.field), std::string::npos) << r.status().what();
      // The same message at the limit converts.
      c.set(pm, kMaxCounter);
      EXPECT_TRUE(fromProto(pm)) << fromProto(pm).status().what();
    }
  }
}

}  // namespace
}  // namespace quorate
