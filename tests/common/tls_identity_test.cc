// Node identities in certificates: the URI SAN, chains to a CA bundle, expiry, key pairs; with
// certificates made by scripts/make-certs.sh in a temporary directory.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "common/tls/identity.h"
#include "support/temp_dir.h"

namespace quorate::tls {
namespace {

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void run(const std::string& command) {
  ASSERT_EQ(std::system((command + " >/dev/null").c_str()), 0) << command;
}

// Two clusters' CAs and directors, an arbiter, an expired director of c1, made once for all tests.
class TlsIdentity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testutil::TempDir("quorate-tls");
    const std::string script = QUORATE_MAKE_CERTS;
    const std::string d = dir_->path();
    run(script + " " + d + " c1 alpha beta");
    run(script + " " + d + " c2 alpha");
    run(script + " --expired " + d + " c1 old");
    run(script + " --arbiter arb " + d);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string path(const std::string& p) { return dir_->path() + "/" + p; }
  static testutil::TempDir* dir_;
};
testutil::TempDir* TlsIdentity::dir_ = nullptr;

TEST(IdentityUri, ParsesBothRolesAndRefusesEverythingElse) {
  auto d = parseIdentityUri("quorate://c1/alpha");
  ASSERT_TRUE(d) << d.status().what();
  EXPECT_EQ(*d, Identity::director("c1", "alpha"));
  EXPECT_EQ(d->uri(), "quorate://c1/alpha");
  auto a = parseIdentityUri("quorate-arbiter://arb-1");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, Identity::arbiter("arb-1"));
  EXPECT_NE(Identity::director("", "arb-1"), *a);  // roles never compare equal
  for (const char* bad : {"quorate://c1", "quorate://c1/", "quorate:///alpha", "quorate://c1/a/b",
                          "quorate://c 1/a", "quorate-arbiter://", "quorate-arbiter://a/b",
                          "https://c1/alpha", "QUORATE://c1/alpha", "quorate://c1/alpha\n"}) {
    auto r = parseIdentityUri(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.status().what().find("URI"), std::string::npos) << r.status().what();
    }
  }
  auto longName = parseIdentityUri("quorate://c1/" + std::string(65, 'a'));
  EXPECT_FALSE(longName);
}

TEST_F(TlsIdentity, TheScriptsCertificatesNameTheirNode) {
  auto alpha = Certificate::load(path("c1/alpha.pem"));
  ASSERT_TRUE(alpha) << alpha.status().what();
  auto id = alpha->identity();
  ASSERT_TRUE(id) << id.status().what();
  EXPECT_EQ(*id, Identity::director("c1", "alpha"));
  auto arb = Certificate::load(path("arbiter-arb/arb.pem"));
  ASSERT_TRUE(arb);
  EXPECT_EQ(*arb->identity(), Identity::arbiter("arb"));
  // Another cluster's alpha is another identity.
  EXPECT_NE(*Certificate::load(path("c2/alpha.pem"))->identity(), *id);
}

TEST_F(TlsIdentity, OnlyTheClustersOwnCaVerifiesItsCertificates) {
  auto c1 = CaBundle::load(path("c1/ca.pem"));
  auto c2 = CaBundle::load(path("c2/ca.pem"));
  ASSERT_TRUE(c1) << c1.status().what();
  ASSERT_TRUE(c2);
  EXPECT_EQ(c1->fingerprints().size(), 1u);
  EXPECT_NE(c1->fingerprints(), c2->fingerprints());
  EXPECT_TRUE(c1->verify(*Certificate::load(path("c1/alpha.pem"))));
  const Status wrongCa = c1->verify(*Certificate::load(path("c2/alpha.pem")));
  ASSERT_FALSE(wrongCa);
  EXPECT_NE(wrongCa.what().find("unable to get local issuer certificate"), std::string::npos)
      << wrongCa.what();
  EXPECT_NE(wrongCa.what().find(path("c1/ca.pem")), std::string::npos) << wrongCa.what();
  // The arbiter's CA mints no director of c1, and c1's CA no arbiter.
  EXPECT_FALSE(c1->verify(*Certificate::load(path("arbiter-arb/arb.pem"))));
}

TEST_F(TlsIdentity, AnExpiredCertificateIsRefusedWithThatReason) {
  auto c1 = CaBundle::load(path("c1/ca.pem"));
  auto old = Certificate::load(path("c1/old.pem"));
  ASSERT_TRUE(old);
  EXPECT_EQ(*old->identity(), Identity::director("c1", "old"));  // it parses, it is just old
  const Status st = c1->verify(*old);
  ASSERT_FALSE(st);
  EXPECT_NE(st.what().find("certificate has expired"), std::string::npos) << st.what();
  auto viaPem = c1->verifiedIdentity(readText(path("c1/old.pem")));
  EXPECT_FALSE(viaPem);
}

TEST_F(TlsIdentity, ABundleOfTwoCasAcceptsBothDuringARotation) {
  const std::string both = readText(path("c1/ca.pem")) + readText(path("c2/ca.pem"));
  auto b = CaBundle::fromPem(both, "rotation.pem");
  ASSERT_TRUE(b) << b.status().what();
  EXPECT_EQ(b->fingerprints().size(), 2u);
  auto a1 = b->verifiedIdentity(readText(path("c1/alpha.pem")));
  auto a2 = b->verifiedIdentity(readText(path("c2/alpha.pem")));
  ASSERT_TRUE(a1) << a1.status().what();
  ASSERT_TRUE(a2) << a2.status().what();
  EXPECT_EQ(a2->cluster, "c2");
}

TEST_F(TlsIdentity, BadBundlesAndCertificatesAreErrorsNotCrashes) {
  EXPECT_FALSE(CaBundle::fromPem("", "empty.pem"));
  EXPECT_FALSE(CaBundle::fromPem("not a certificate", "junk.pem"));
  const std::string ca = readText(path("c1/ca.pem"));
  // Cut in the middle of the base64 body: the DER is truncated, whatever bytes the cut lands on
  // (flipping one byte was not enough: now and then the damaged certificate still parsed).
  const std::string broken = ca.substr(0, ca.size() / 2) + "\n-----END CERTIFICATE-----\n";
  auto b = CaBundle::fromPem(ca + broken, "half.pem");
  EXPECT_FALSE(b) << "a bundle with one damaged certificate must be refused whole";
  EXPECT_FALSE(CaBundle::load(path("missing.pem")));
  EXPECT_FALSE(Certificate::fromPem(""));
  EXPECT_FALSE(Certificate::fromPem(std::string(100 << 10, 'A')));
  auto c1 = CaBundle::load(path("c1/ca.pem"));
  EXPECT_FALSE(
      c1->verifiedIdentity("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
}

TEST_F(TlsIdentity, ACertificateWithoutExactlyOneQuorateUriIsRefused) {
  const std::string d = dir_->path();
  auto make = [&](const std::string& name, const std::string& san) {
    run("cd " + d + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes " +
        "-keyout " + name + ".key -out " + name + ".pem -days 1 -subj /CN=" + name +
        (san.empty() ? "" : " -addext subjectAltName=" + san) + " 2>/dev/null");
    return Certificate::load(d + "/" + name + ".pem");
  };
  auto none = make("nosan", "");
  ASSERT_TRUE(none);
  ASSERT_FALSE(none->identity());
  EXPECT_NE(none->identity().status().what().find("no URI SAN"), std::string::npos);
  auto dnsOnly = make("dnsonly", "DNS:alpha.example");
  ASSERT_FALSE(dnsOnly->identity());
  auto two = make("two", "URI:quorate://c1/alpha,URI:quorate://c1/beta");
  ASSERT_FALSE(two->identity());
  EXPECT_NE(two->identity().status().what().find("2 URI SANs"), std::string::npos);
  auto other = make("other", "URI:spiffe://c1/alpha");
  ASSERT_FALSE(other->identity());
  auto fine = make("fine", "DNS:x.example,URI:quorate://c1/alpha");
  ASSERT_TRUE(fine->identity()) << "other SAN kinds beside the one URI are fine";
}

TEST_F(TlsIdentity, AKeyMustBelongToItsCertificate) {
  EXPECT_TRUE(checkKeyMatches(path("c1/alpha.pem"), path("c1/alpha.key")));
  const Status st = checkKeyMatches(path("c1/alpha.pem"), path("c1/beta.key"));
  ASSERT_FALSE(st);
  EXPECT_NE(st.what().find("does not belong"), std::string::npos) << st.what();
  EXPECT_FALSE(checkKeyMatches(path("c1/alpha.pem"), path("c1/alpha.pem")));
}

}  // namespace
}  // namespace quorate::tls
