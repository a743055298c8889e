// Cluster keys: the keys of one cluster (the first signs, all are accepted), their ids and length.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace quorate {

// Shorter keys are refused at load: HMAC is only as strong as a key the attacker cannot guess.
inline constexpr std::size_t kMinSecretBytes = 16;
// A key id is the first kKeyIdBytes of SHA-256 of the key: enough to pick one of two keys, and
// it says nothing useful about the key.
inline constexpr std::size_t kKeyIdBytes = 8;

// The first kKeyIdBytes of SHA-256(key).
std::string keyIdOf(const std::string& key);

// The keys of one cluster. During a rotation there are two: the first signs what this node sends,
// every one is accepted, and a reply is signed with the key its request used.
class KeyRing {
 public:
  KeyRing() = default;
  // `keys` must not be empty (the config loader guarantees it).
  explicit KeyRing(std::vector<std::string> keys);

  const std::string& signingKey() const { return keys_.front(); }
  const std::string& signingKeyId() const { return ids_.front(); }
  // The key whose id is `keyId`, or nullptr.
  const std::string* find(const std::string& keyId) const;
  bool empty() const { return keys_.empty(); }
  std::size_t size() const { return keys_.size(); }

 private:
  std::vector<std::string> keys_;
  std::vector<std::string> ids_;
};

}  // namespace quorate
