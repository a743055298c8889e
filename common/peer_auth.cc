// HMAC-SHA256 of peer requests and replies, their counters, and the no-TLS warning.
#include "common/peer_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <stdexcept>

namespace quorate {
namespace {

// Domain tags: a request MAC can never be taken for a reply MAC or the other way round.
constexpr std::string_view kRequestTag{"quorate/v1 peer request\0", 24};
constexpr std::string_view kReplyTag{"quorate/v1 peer reply\0", 22};
constexpr std::size_t kMacBytes = 32;

std::string bigEndian(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

// HMAC-SHA256(key, parts...) over the concatenation of `parts`.
std::string hmac(const std::string& key, std::initializer_list<std::string_view> parts) {
  std::string input;
  for (auto p : parts) input.append(p);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), out,
           &len) == nullptr ||
      len != kMacBytes) {
    // Only a broken OpenSSL gets here; sending unsigned or accepting unchecked is no option.
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool macsEqual(const std::string& a, const std::string& b) {
  return a.size() == kMacBytes && b.size() == kMacBytes &&
         CRYPTO_memcmp(a.data(), b.data(), kMacBytes) == 0;
}

// One answer for every refusal a stranger can provoke (unknown cluster, no signature, unknown
// key, wrong MAC): one who could tell "no such cluster" from "wrong key" could list the clusters
// an arbiter serves by trying names. Only a sender that proved it holds the key learns more.
grpc::Status refused() {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "not authenticated: unknown cluster, key or signature");
}

grpc::Status unauthenticated(const std::string& cluster, const std::string& why) {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "cluster \"" + cluster.substr(0, 64) + "\": " + why);
}

std::string requestMacOf(const std::string& key, const std::string& keyId, std::uint64_t counter,
                         const std::string& body) {
  return hmac(key, {kRequestTag, keyId, bigEndian(counter), body});
}

// "12.3 s" for a difference in microseconds.
std::string seconds(std::uint64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(us) / 1e6);
  return buf;
}

}  // namespace

std::string keyIdOf(const std::string& key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), kKeyIdBytes);
}

KeyRing::KeyRing(std::vector<std::string> keys) : keys_(std::move(keys)) {
  if (keys_.empty()) throw std::invalid_argument("a cluster needs at least one key");
  for (const auto& k : keys_) ids_.push_back(keyIdOf(k));
}

const std::string* KeyRing::find(const std::string& keyId) const {
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (ids_[i] == keyId) return &keys_[i];
  }
  return nullptr;
}

std::uint64_t wallClockMicros() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::uint64_t nextCounter() {
  static std::atomic<std::uint64_t> last{0};
  const std::uint64_t now = wallClockMicros();
  std::uint64_t prev = last.load(std::memory_order_relaxed);
  std::uint64_t next = 0;
  do {
    next = now > prev ? now : prev + 1;
  } while (!last.compare_exchange_weak(prev, next, std::memory_order_relaxed));
  return next;
}

v1::ExchangeRequest sealRequest(const v1::ExchangeRequest& body, const std::string& key,
                                std::uint64_t counter) {
  v1::ExchangeRequest wire;
  wire.set_cluster(body.cluster());
  const std::string keyId = keyIdOf(key);
  std::string bytes;
  body.SerializeToString(&bytes);
  auto* auth = wire.mutable_auth();
  auth->set_key_id(keyId);
  auth->set_counter(counter);
  auth->set_mac(requestMacOf(key, keyId, counter, bytes));
  wire.set_body(std::move(bytes));
  return wire;
}

grpc::Status openRequest(const v1::ExchangeRequest& wire, const KeyRing& keys,
                         std::uint64_t nowMicros, OpenedRequest& out) {
  const std::string& cluster = wire.cluster();
  if (!wire.has_auth() || wire.auth().mac().empty()) {
    return refused();
  }
  const v1::PeerAuth& auth = wire.auth();
  const std::string* key = keys.find(auth.key_id());
  if (key == nullptr) return refused();
  const std::string expected = requestMacOf(*key, auth.key_id(), auth.counter(), wire.body());
  if (!macsEqual(expected, auth.mac())) return refused();
  // Only now is the counter the sender's: a forged one is not worth a skew message.
  const std::uint64_t c = auth.counter();
  const std::uint64_t limit = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(kMaxClockSkew).count());
  if (c > nowMicros + limit || c + limit < nowMicros) {
    const bool ahead = c > nowMicros;
    return unauthenticated(
        cluster, "the sender's clock is " + seconds(ahead ? c - nowMicros : nowMicros - c) + " " +
                     (ahead ? "ahead of" : "behind") + " this node's (more than " +
                     std::to_string(kMaxClockSkew.count()) +
                     " s: synchronise the clocks, or a captured request "
                     "was replayed)");
  }
  v1::ExchangeRequest body;
  if (!body.ParseFromString(wire.body()) || body.has_auth() || !body.body().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "body: not a request body");
  }
  if (body.cluster() != cluster) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "body: signed for another cluster than the request names");
  }
  out.body = std::move(body);
  out.key = key;
  out.mac = auth.mac();
  out.counter = c;
  return grpc::Status::OK;
}

void sealReply(v1::ExchangeReply& reply, const std::string& key, const std::string& requestMac) {
  v1::ExchangeReply body;
  body.mutable_messages()->Swap(reply.mutable_messages());
  std::string bytes;
  body.SerializeToString(&bytes);
  reply.Clear();
  reply.set_mac(hmac(key, {kReplyTag, requestMac, bytes}));
  reply.set_body(std::move(bytes));
}

grpc::Status openReply(const v1::ExchangeReply& wire, const std::string& key,
                       const std::string& requestMac, v1::ExchangeReply& out) {
  if (!macsEqual(hmac(key, {kReplyTag, requestMac, wire.body()}), wire.mac())) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "reply: wrong or missing MAC (not from the peer, or altered on the way)");
  }
  v1::ExchangeReply body;
  if (!body.ParseFromString(wire.body()) || !body.mac().empty() || !body.body().empty()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "reply: body is not a reply body");
  }
  out = std::move(body);
  return grpc::Status::OK;
}

grpc::Status ReplayGuard::admit(const std::string& cluster, const std::string& sender,
                                std::uint64_t counter) {
  const std::uint64_t window = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(kReorderWindow).count());
  std::lock_guard lock(mu_);
  if (senders_.size() >= kMaxSenders && senders_.find(sender) == senders_.end()) {
    // Only a key holder gets here (the MAC verified), and it could sign anything anyway: what
    // matters is that invented names never lock the real senders out. The quietest sender makes
    // room; a real director renews every interval, so it is never the quietest for long.
    auto quietest = senders_.begin();
    for (auto it = senders_.begin(); it != senders_.end(); ++it) {
      if (it->second.highest < quietest->second.highest) quietest = it;
    }
    senders_.erase(quietest);
  }
  Seen& s = senders_[sender];
  if (counter > s.highest) {
    s.highest = counter;
    s.recent.insert(counter);
    // Keep only what the window can still accept.
    const std::uint64_t floor = s.highest > window ? s.highest - window : 0;
    s.recent.erase(s.recent.begin(), s.recent.lower_bound(floor));
    while (s.recent.size() > kMaxRemembered) s.recent.erase(s.recent.begin());
    return grpc::Status::OK;
  }
  // Below the highest: only a counter inside the window that was never seen. The oldest
  // remembered counter bounds the window once entries had to be dropped.
  const std::uint64_t floor = s.highest > window ? s.highest - window : 0;
  const bool trimmed = s.recent.size() >= kMaxRemembered;
  const bool inWindow = counter >= floor && (!trimmed || counter > *s.recent.begin());
  if (inWindow && s.recent.insert(counter).second) {
    while (s.recent.size() > kMaxRemembered) s.recent.erase(s.recent.begin());
    return grpc::Status::OK;
  }
  return unauthenticated(cluster, "replayed request from \"" + sender.substr(0, 64) +
                                      "\" (counter " + std::to_string(counter) +
                                      " was used, or is older than the newest " +
                                      std::to_string(s.highest) + " by more than " +
                                      std::to_string(kReorderWindow.count()) + " ms)");
}

grpc::Status unknownCluster(const std::string& /*asked*/) { return refused(); }

void warnNoTls(std::string_view who) {
  spdlog::warn(
      "{}: the peer protocol runs WITHOUT TLS (shared-secret mode): requests and replies are "
      "signed with the cluster key, but not encrypted, and the key is only as safe as every "
      "node's disk; use it in a lab, configure tls: in production (docs/security.md)",
      who);
}

}  // namespace quorate
