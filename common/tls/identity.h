// Who a node is on the wire: the one URI SAN of its certificate, parsed from PEM and verified
// against a CA bundle with OpenSSL. Errors are values that name the problem.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace quorate::tls {

// quorate://<cluster>/<node> for a director, quorate-arbiter://<name> for an arbiter (cluster
// empty, node = the arbiter's name).
struct Identity {
  enum class Role { kDirector, kArbiter };
  Role role = Role::kDirector;
  std::string cluster;
  std::string node;

  static Identity director(std::string cluster, std::string node) {
    return {Role::kDirector, std::move(cluster), std::move(node)};
  }
  static Identity arbiter(std::string name) { return {Role::kArbiter, "", std::move(name)}; }
  std::string uri() const;
  bool operator==(const Identity&) const = default;
};

// The identity a URI names; an error for any other URI (names are 1 to 64 of [A-Za-z0-9._-]).
Result<Identity> parseIdentityUri(std::string_view uri);

// One X.509 certificate.
class Certificate {
 public:
  // The first certificate of `pem`; an error when there is none or it does not parse.
  static Result<Certificate> fromPem(std::string_view pem);
  // The first certificate of the file at `path` (at most 64 KiB).
  static Result<Certificate> load(const std::string& path);

  // Its identity: exactly one URI SAN, in a form parseIdentityUri accepts.
  Result<Identity> identity() const;
  // SHA-256 of its DER encoding, in hex: what "the same certificate" means.
  std::string fingerprint() const;
  X509* get() const { return x509_.get(); }

 private:
  std::shared_ptr<X509> x509_;
};

// The certificates a node trusts for one purpose (a cluster's CAs; during a rotation the old and
// the new CA in one file). Immutable once loaded; cheap to copy.
class CaBundle {
 public:
  // Every certificate of `pem`; `origin` names it in messages. An error when there is none or
  // one does not parse.
  static Result<CaBundle> fromPem(std::string_view pem, std::string origin);
  static Result<CaBundle> load(const std::string& path);

  // OK when `cert` chains to a certificate of the bundle and is valid now (not expired, not
  // yet valid, usable for TLS clients and servers); else the reason, as OpenSSL gives it.
  Status verify(const Certificate& cert) const;
  // verify(), then the certificate's identity.
  Result<Identity> verifiedIdentity(std::string_view pem) const;
  // One per certificate, in file order (Certificate::fingerprint).
  const std::vector<std::string>& fingerprints() const { return fingerprints_; }
  const std::string& origin() const { return origin_; }

 private:
  std::shared_ptr<X509_STORE> store_;
  std::vector<std::string> fingerprints_;
  std::string origin_;
};

// OK when the private key in `keyPath` belongs to the certificate in `certPath`.
Status checkKeyMatches(const std::string& certPath, const std::string& keyPath);

}  // namespace quorate::tls
