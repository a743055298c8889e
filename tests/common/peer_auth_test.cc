// Unit tests of the shared-secret peer authentication: request and reply MACs, keys, counters.
#include "common/peer_auth.h"

#include <gtest/gtest.h>

#include <thread>

namespace quorate {
namespace {

const std::string kKey1 = "first-cluster-key-0123456789";
const std::string kKey2 = "second-cluster-key-abcdefghij";
constexpr std::uint64_t kNow = 1'800'000'000'000'000;  // µs since the epoch, a fixed "now"
constexpr std::uint64_t kSecond = 1'000'000;

v1::ExchangeRequest body(const std::string& cluster = "c1") {
  v1::ExchangeRequest b;
  b.set_cluster(cluster);
  b.set_from_name("alpha");
  b.set_membership("c1\n0 alpha 198.18.0.1:7101\n");
  b.mutable_message()->set_from(0);
  b.mutable_message()->set_to(2);
  b.mutable_message()->mutable_accept()->set_epoch(7);
  b.mutable_message()->mutable_accept()->set_lease_us(1'000'000);
  return b;
}

grpc::StatusCode openCode(const v1::ExchangeRequest& wire, const KeyRing& keys,
                          std::uint64_t now = kNow, OpenedRequest* out = nullptr) {
  OpenedRequest ignored;
  return openRequest(wire, keys, now, out ? *out : ignored).error_code();
}

TEST(PeerAuth, ASealedRequestOpensToWhatWasSigned) {
  const KeyRing keys({kKey1});
  const auto wire = sealRequest(body(), kKey1, kNow);
  // The key never travels, in any field.
  EXPECT_EQ(wire.SerializeAsString().find(kKey1), std::string::npos);
  EXPECT_TRUE(wire.from_name().empty());
  EXPECT_FALSE(wire.has_message());
  OpenedRequest opened;
  ASSERT_EQ(openCode(wire, keys, kNow, &opened), grpc::StatusCode::OK);
  EXPECT_EQ(opened.body.SerializeAsString(), body().SerializeAsString());
  EXPECT_EQ(opened.counter, kNow);
  EXPECT_EQ(*opened.key, kKey1);
  EXPECT_EQ(opened.mac, wire.auth().mac());
}

TEST(PeerAuth, AnyChangeToTheSignedBytesIsRefused) {
  const KeyRing keys({kKey1});
  const auto good = sealRequest(body(), kKey1, kNow);
  // Every single byte of the body, flipped in turn.
  for (std::size_t i = 0; i < good.body().size(); ++i) {
    auto bad = good;
    (*bad.mutable_body())[i] = static_cast<char>(bad.body()[i] ^ 0x01);
    EXPECT_EQ(openCode(bad, keys), grpc::StatusCode::UNAUTHENTICATED) << "byte " << i;
  }
  auto counter = good;
  counter.mutable_auth()->set_counter(kNow + 1);
  EXPECT_EQ(openCode(counter, keys), grpc::StatusCode::UNAUTHENTICATED);
  auto mac = good;
  (*mac.mutable_auth()->mutable_mac())[5] ^= 0x40;
  EXPECT_EQ(openCode(mac, keys), grpc::StatusCode::UNAUTHENTICATED);
  auto unsigned_ = good;
  unsigned_.clear_auth();
  EXPECT_EQ(openCode(unsigned_, keys), grpc::StatusCode::UNAUTHENTICATED);
  auto shortMac = good;
  shortMac.mutable_auth()->set_mac(good.auth().mac().substr(0, 16));
  EXPECT_EQ(openCode(shortMac, keys), grpc::StatusCode::UNAUTHENTICATED);
  // Unsigned fields beside the body are not read, so they cannot smuggle anything in: the
  // opened request is the signed body.
  auto extra = good;
  extra.set_from_name("mallory");
  OpenedRequest opened;
  ASSERT_EQ(openCode(extra, keys, kNow, &opened), grpc::StatusCode::OK);
  EXPECT_EQ(opened.body.from_name(), "alpha");
}

TEST(PeerAuth, ARequestSignedForOneClusterCannotBeRoutedToAnother) {
  const KeyRing keys({kKey1});
  auto wire = sealRequest(body("c1"), kKey1, kNow);
  wire.set_cluster("c2");
  EXPECT_EQ(openCode(wire, keys), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(PeerAuth, WrongKeyIsRefusedAndTheErrorNamesNoKey) {
  const auto wire = sealRequest(body(), kKey2, kNow);
  OpenedRequest opened;
  const auto s = openRequest(wire, KeyRing({kKey1}), kNow, opened);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The answer a stranger gets for an unknown cluster, word for word: it tells nothing apart.
  EXPECT_EQ(s.error_message(), unknownCluster("c1").error_message());
  EXPECT_EQ(s.error_message().find(kKey1), std::string::npos);
  // A key id that matches, but a MAC made with another key (an id is no proof).
  auto forged = sealRequest(body(), kKey2, kNow);
  forged.mutable_auth()->set_key_id(keyIdOf(kKey1));
  EXPECT_EQ(openCode(forged, KeyRing({kKey1})), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(PeerAuth, RotationAcceptsBothKeysAndSignsRepliesWithTheRequestsKey) {
  const KeyRing receiver({kKey2, kKey1});  // the new key signs, the old one is still accepted
  EXPECT_EQ(receiver.signingKey(), kKey2);
  for (const auto& key : {kKey1, kKey2}) {
    SCOPED_TRACE(key);
    const auto wire = sealRequest(body(), key, kNow);
    OpenedRequest opened;
    ASSERT_EQ(openCode(wire, receiver, kNow, &opened), grpc::StatusCode::OK);
    EXPECT_EQ(*opened.key, key);
    // The sender knows only the key it signed with: the reply must open with that one.
    v1::ExchangeReply reply;
    reply.add_messages()->set_from(2);
    sealReply(reply, *opened.key, opened.mac);
    v1::ExchangeReply out;
    EXPECT_TRUE(openReply(reply, key, wire.auth().mac(), out).ok());
    ASSERT_EQ(out.messages_size(), 1);
    EXPECT_EQ(out.messages(0).from(), 2u);
  }
  // After the rotation the old key is gone, and refused.
  EXPECT_EQ(openCode(sealRequest(body(), kKey1, kNow), KeyRing({kKey2})),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(PeerAuth, TamperedOrMisboundRepliesAreRefused) {
  const auto request = sealRequest(body(), kKey1, kNow);
  const auto other = sealRequest(body(), kKey1, kNow + 1);
  v1::ExchangeReply sealed;
  auto* m = sealed.add_messages();
  m->set_from(2);
  m->set_to(0);
  m->mutable_accepted()->set_epoch(7);
  sealReply(sealed, kKey1, request.auth().mac());
  EXPECT_EQ(sealed.messages_size(), 0);  // only the body carries them
  v1::ExchangeReply out;
  ASSERT_TRUE(openReply(sealed, kKey1, request.auth().mac(), out).ok());
  ASSERT_EQ(out.messages_size(), 1);
  EXPECT_EQ(out.messages(0).accepted().epoch(), 7u);

  for (std::size_t i = 0; i < sealed.body().size(); ++i) {
    auto bad = sealed;
    (*bad.mutable_body())[i] = static_cast<char>(bad.body()[i] ^ 0x04);
    EXPECT_EQ(openReply(bad, kKey1, request.auth().mac(), out).error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << "byte " << i;
  }
  // The right bytes, but the answer to another request (a replayed "accepted").
  EXPECT_EQ(openReply(sealed, kKey1, other.auth().mac(), out).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(openReply(sealed, kKey2, request.auth().mac(), out).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // A reply that is not sealed at all (a peer that does not sign, or a forger without the key).
  v1::ExchangeReply plain;
  plain.add_messages()->mutable_accepted()->set_epoch(7);
  EXPECT_EQ(openReply(plain, kKey1, request.auth().mac(), out).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // A request MAC is never a reply MAC: the domain tags differ.
  v1::ExchangeReply asReply;
  asReply.set_body(request.body());
  asReply.set_mac(request.auth().mac());
  EXPECT_EQ(openReply(asReply, kKey1, request.auth().mac(), out).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(PeerAuth, CountersOutsideTheClockWindowAreRefusedWithTheSkew) {
  const KeyRing keys({kKey1});
  const std::uint64_t limit = 300 * kSecond;
  EXPECT_EQ(openCode(sealRequest(body(), kKey1, kNow + limit), keys), grpc::StatusCode::OK);
  EXPECT_EQ(openCode(sealRequest(body(), kKey1, kNow - limit), keys), grpc::StatusCode::OK);
  OpenedRequest opened;
  const auto ahead = openRequest(sealRequest(body(), kKey1, kNow + limit + 1), keys, kNow, opened);
  EXPECT_EQ(ahead.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(ahead.error_message().find("300.0 s ahead of"), std::string::npos)
      << ahead.error_message();
  const auto behind =
      openRequest(sealRequest(body(), kKey1, kNow - 3600 * kSecond), keys, kNow, opened);
  EXPECT_EQ(behind.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(behind.error_message().find("3600.0 s behind"), std::string::npos)
      << behind.error_message();
}

TEST(ReplayGuard, ACounterIsAcceptedOnceAndOldOnesNever) {
  ReplayGuard g;
  EXPECT_TRUE(g.admit("c1", "alpha", kNow).ok());
  const auto again = g.admit("c1", "alpha", kNow);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(again.error_message().find("replayed"), std::string::npos);
  EXPECT_TRUE(g.admit("c1", "alpha", kNow + 1).ok());
  // Senders are apart: beta's counters are its own.
  EXPECT_TRUE(g.admit("c1", "beta", kNow).ok());
  // Overtaken inside the reorder window: accepted once, then never again.
  EXPECT_TRUE(g.admit("c1", "alpha", kNow - 500'000).ok());
  EXPECT_FALSE(g.admit("c1", "alpha", kNow - 500'000).ok());
  // Older than the window below the highest: refused although never seen.
  EXPECT_FALSE(g.admit("c1", "alpha", kNow - 1'000'002).ok());
  // Time moves on: what was inside the window is outside now, and still refused.
  EXPECT_TRUE(g.admit("c1", "alpha", kNow + 5 * kSecond).ok());
  EXPECT_FALSE(g.admit("c1", "alpha", kNow + 1).ok());
  EXPECT_FALSE(g.admit("c1", "alpha", kNow + 5 * kSecond).ok());
}

TEST(ReplayGuard, AFullWindowShrinksAndNeverAcceptsACounterTwice) {
  ReplayGuard g;
  // More counters inside one window than it remembers, all below the highest: once it is full,
  // what is older than everything it remembers is refused (it could have been seen).
  ASSERT_TRUE(g.admit("c1", "alpha", kNow).ok());
  const std::size_t n = ReplayGuard::kMaxRemembered + 100;
  std::size_t accepted = 0;
  for (std::size_t i = 1; i <= n; ++i) accepted += g.admit("c1", "alpha", kNow - i).ok();
  EXPECT_EQ(accepted, ReplayGuard::kMaxRemembered - 1);
  for (std::size_t i = 0; i <= n; ++i) EXPECT_FALSE(g.admit("c1", "alpha", kNow - i).ok()) << i;
  // A new highest is still accepted, and the window follows it.
  EXPECT_TRUE(g.admit("c1", "alpha", kNow + 1).ok());
}

// Invented names (from a key holder) cannot lock out a sender that keeps talking: the quietest
// name makes room, and the map stays bounded.
TEST(ReplayGuard, InventedSenderNamesNeverLockOutTheRealOnes) {
  ReplayGuard g;
  std::uint64_t t = kNow;
  ASSERT_TRUE(g.admit("c1", "alpha", t).ok());
  for (std::size_t i = 0; i < 10 * ReplayGuard::kMaxSenders; ++i) {
    ASSERT_TRUE(g.admit("c1", "n" + std::to_string(i), t + 1).ok()) << i;
    ASSERT_TRUE(g.admit("c1", "alpha", t + 2).ok()) << i;  // alpha renews meanwhile
    t += 2;
  }
  EXPECT_TRUE(g.admit("c1", "alpha", t + 1).ok());
  // alpha's history was kept throughout: its old counters are still refused.
  EXPECT_FALSE(g.admit("c1", "alpha", t + 1).ok());
  EXPECT_FALSE(g.admit("c1", "alpha", kNow).ok());
}

TEST(PeerAuth, CountersOfOneProcessStrictlyIncrease) {
  std::vector<std::vector<std::uint64_t>> seen(4);
  std::vector<std::thread> threads;
  for (auto& s : seen) {
    threads.emplace_back([&s] {
      for (int i = 0; i < 10'000; ++i) s.push_back(nextCounter());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::uint64_t> all;
  for (const auto& s : seen) {
    for (std::size_t i = 1; i < s.size(); ++i) ASSERT_LT(s[i - 1], s[i]);
    all.insert(s.begin(), s.end());
  }
  EXPECT_EQ(all.size(), 40'000u);  // no counter handed out twice, across threads
  // Near the wall clock (the receiver's window is ±300 s).
  const std::uint64_t now = wallClockMicros();
  EXPECT_LE(*all.rbegin(), now + 60 * kSecond);
  EXPECT_GE(*all.begin() + 60 * kSecond, now);
}

TEST(PeerAuth, KeyIdIsTheStartOfTheKeysSha256) {
  // SHA-256("abc") = ba7816bf 8f01cfea ...
  EXPECT_EQ(keyIdOf("abc"), std::string("\xba\x78\x16\xbf\x8f\x01\xcf\xea", 8));
  const KeyRing ring({kKey1, kKey2});
  ASSERT_NE(ring.find(keyIdOf(kKey2)), nullptr);
  EXPECT_EQ(*ring.find(keyIdOf(kKey2)), kKey2);
  EXPECT_EQ(ring.find(keyIdOf("a-third-key-nobody-has")), nullptr);
}

}  // namespace
}  // namespace quorate
