// Certificates and CA bundles with OpenSSL: the URI SAN that names a node, and chain checks.
#include "common/tls/identity.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace quorate::tls {
namespace {

constexpr std::size_t kMaxPemBytes = 64 << 10;
constexpr std::string_view kDirectorScheme = "quorate://";
constexpr std::string_view kArbiterScheme = "quorate-arbiter://";

Status fail(std::string what) { return Status::fail(0, std::move(what)); }

// The last OpenSSL error, for messages; clears the queue so it does not leak into the next.
std::string opensslError() {
  unsigned long e = 0;
  unsigned long last = 0;
  while ((e = ERR_get_error()) != 0) last = e;
  if (last == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

std::shared_ptr<BIO> memoryBio(std::string_view data) {
  return std::shared_ptr<BIO>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())),
                              BIO_free);
}

Result<std::string> readPemFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxPemBytes) return fail(path + ": larger than 64 KiB");
  }
  if (in.bad()) return fail(path + ": cannot read: " + std::strerror(errno));
  return text;
}

// The names in a quorate URI: 1 to 64 of [A-Za-z0-9._-] (the configs' ids).
bool isName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// `s` quoted for a message: cut, control bytes as \xHH (it came from a peer's certificate).
std::string shown(std::string_view s) {
  std::string out = "\"";
  for (const char c : s.substr(0, 140)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      char b[5];
      std::snprintf(b, sizeof b, "\\x%02x", u);
      out += b;
    } else {
      out += c;
    }
  }
  if (s.size() > 140) out += "...";
  return out + "\"";
}

// SHA-256 of the DER encoding, in hex.
std::string sha256Hex(X509* x) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(x, EVP_sha256(), md, &len);
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", md[i]);
    hex += b;
  }
  return hex;
}

}  // namespace

std::string Identity::uri() const {
  if (role == Role::kArbiter) return std::string(kArbiterScheme) + node;
  return std::string(kDirectorScheme) + cluster + "/" + node;
}

Result<Identity> parseIdentityUri(std::string_view uri) {
  if (uri.starts_with(kArbiterScheme)) {
    const std::string_view name = uri.substr(kArbiterScheme.size());
    if (isName(name)) return Identity::arbiter(std::string(name));
    return fail("URI " + shown(uri) + " is not quorate-arbiter://<name>");
  }
  if (uri.starts_with(kDirectorScheme)) {
    const std::string_view rest = uri.substr(kDirectorScheme.size());
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos && isName(rest.substr(0, slash)) &&
        isName(rest.substr(slash + 1))) {
      return Identity::director(std::string(rest.substr(0, slash)),
                                std::string(rest.substr(slash + 1)));
    }
    return fail("URI " + shown(uri) + " is not quorate://<cluster>/<node>");
  }
  return fail("URI " + shown(uri) +
              " is neither quorate://<cluster>/<node> nor quorate-arbiter://<name>");
}

Result<Certificate> Certificate::fromPem(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) return fail("certificate: PEM larger than 64 KiB");
  auto bio = memoryBio(pem);
  X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (x == nullptr) return fail("certificate: not a PEM certificate (" + opensslError() + ")");
  Certificate c;
  c.x509_ = std::shared_ptr<X509>(x, X509_free);
  return c;
}

Result<Certificate> Certificate::load(const std::string& path) {
  auto text = readPemFile(path);
  if (!text) return text.status();
  auto c = fromPem(*text);
  if (!c) return c.status().withWhat(path + ": " + c.status().what());
  return c;
}

Result<Identity> Certificate::identity() const {
  using Names = STACK_OF(GENERAL_NAME);
  std::unique_ptr<Names, void (*)(Names*)> names(
      static_cast<Names*>(X509_get_ext_d2i(x509_.get(), NID_subject_alt_name, nullptr, nullptr)),
      [](Names* n) { GENERAL_NAMES_free(n); });
  std::vector<std::string> uris;
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
      if (n->type != GEN_URI) continue;
      const ASN1_IA5STRING* s = n->d.uniformResourceIdentifier;
      uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<std::size_t>(ASN1_STRING_length(s)));
    }
  }
  if (uris.empty()) return fail("certificate has no URI SAN (quorate names nodes by one)");
  if (uris.size() > 1) {
    return fail("certificate has " + std::to_string(uris.size()) +
                " URI SANs; a node certificate carries exactly one");
  }
  auto id = parseIdentityUri(uris.front());
  if (!id) return id.status().withWhat("certificate: " + id.status().what());
  return id;
}

std::string Certificate::fingerprint() const { return sha256Hex(x509_.get()); }

Result<CaBundle> CaBundle::fromPem(std::string_view pem, std::string origin) {
  if (pem.size() > kMaxPemBytes) return fail(origin + ": larger than 64 KiB");
  CaBundle b;
  b.origin_ = std::move(origin);
  b.store_ = std::shared_ptr<X509_STORE>(X509_STORE_new(), X509_STORE_free);
  auto bio = memoryBio(pem);
  while (true) {
    X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (x == nullptr) break;
    std::shared_ptr<X509> owned(x, X509_free);  // the store takes its own reference
    if (X509_STORE_add_cert(b.store_.get(), x) != 1) {
      return fail(b.origin_ + ": cannot use a certificate: " + opensslError());
    }
    b.fingerprints_.push_back(sha256Hex(x));
  }
  // The loop ends on "no start line" after the last certificate; anything else is a bad one.
  const unsigned long err = ERR_peek_last_error();
  const bool cleanEnd = ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  if (!cleanEnd && err != 0) return fail(b.origin_ + ": bad certificate: " + opensslError());
  ERR_clear_error();
  if (b.fingerprints_.empty()) return fail(b.origin_ + ": no certificate in it");
  return b;
}

Result<CaBundle> CaBundle::load(const std::string& path) {
  auto text = readPemFile(path);
  if (!text) return text.status();
  return fromPem(*text, path);
}

Status CaBundle::verify(const Certificate& cert) const {
  std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> ctx(X509_STORE_CTX_new(),
                                                                 X509_STORE_CTX_free);
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store_.get(), cert.get(), nullptr) != 1) {
    return fail("cannot set up a certificate check: " + opensslError());
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
  if (X509_verify_cert(ctx.get()) == 1) return Status::ok();
  const int code = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return fail(std::string("certificate not accepted by ") + origin_ + ": " +
              X509_verify_cert_error_string(code));
}

Result<Identity> CaBundle::verifiedIdentity(std::string_view pem) const {
  auto cert = Certificate::fromPem(pem);
  if (!cert) return cert.status();
  if (Status st = verify(*cert); !st) return st;
  return cert->identity();
}

Status checkKeyMatches(const std::string& certPath, const std::string& keyPath) {
  auto cert = Certificate::load(certPath);
  if (!cert) return cert.status();
  auto text = readPemFile(keyPath);
  if (!text) return text.status();
  auto bio = memoryBio(*text);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key) return fail(keyPath + ": not a PEM private key (" + opensslError() + ")");
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return fail(keyPath + ": this key does not belong to the certificate " + certPath);
  }
  return Status::ok();
}

}  // namespace quorate::tls
