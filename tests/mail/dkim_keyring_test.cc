#include "mail/dkim_keyring.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sluice::mail {
namespace {

std::shared_ptr<const DkimKey> Ed25519() {
  absl::StatusOr<std::shared_ptr<const DkimKey>> key =
      DkimKey::Generate(DkimAlgorithm::kEd25519Sha256);
  EXPECT_TRUE(key.ok()) << key.status();
  return *key;
}

DkimKeySpec Spec(std::string domain, std::string selector, std::vector<std::string> from = {},
                 std::vector<std::string> tenants = {}) {
  DkimKeySpec spec;
  spec.signature.domain = std::move(domain);
  spec.signature.selector = std::move(selector);
  spec.signature.key = Ed25519();
  spec.from_domains = std::move(from);
  spec.tenants = std::move(tenants);
  return spec;
}

TEST(FromDomainTest, FindsTheDomainOfTheFirstFromAddress) {
  EXPECT_EQ(FromDomain("From: a@Example.COM\r\n\r\nbody"), "example.com");
  EXPECT_EQ(
      FromDomain("To: x@y.test\r\nfrom : \"Joe, Jr.\" <joe@news.example.com>, b@c.test\r\n\r\n"),
      "news.example.com");
  EXPECT_EQ(FromDomain("Subject: x\r\nFrom: Jürgen\r\n <jürgen@exämple.test>\r\n\r\n"),
            "exämple.test");
  EXPECT_EQ(FromDomain("Subject: no from\r\n\r\nFrom: body@not.header\r\n"), std::nullopt);
  EXPECT_EQ(FromDomain("From: undisclosed\r\n\r\n"), std::nullopt);
}

TEST(DkimKeyringTest, MatchesExactAndSubdomainPatternsAndTenants) {
  absl::StatusOr<std::shared_ptr<const DkimKeyring>> ring = DkimKeyring::Create({
      Spec("example.com", "plain"),
      Spec("example.com", "subs", {"*.example.com"}),
      Spec("acme.test", "acme", {"acme.test"}, {"acme"}),
  });
  ASSERT_TRUE(ring.ok()) << ring.status();
  ASSERT_EQ((*ring)->Match("example.com", "").size(), 1u);
  EXPECT_EQ((*ring)->Match("example.com", "")[0]->selector, "plain");
  ASSERT_EQ((*ring)->Match("news.example.com", "").size(), 1u);
  EXPECT_EQ((*ring)->Match("news.example.com", "")[0]->selector, "subs");
  EXPECT_TRUE((*ring)->Match("badexample.com", "").empty());
  EXPECT_TRUE((*ring)->Match("acme.test", "other").empty());
  EXPECT_EQ((*ring)->Match("acme.test", "acme").size(), 1u);
}

TEST(DkimKeyringTest, EveryMatchingKeySignsSoRsaAndEd25519DualSign) {
  DkimKeySpec rsa = Spec("example.com", "rsa");
  absl::StatusOr<std::shared_ptr<const DkimKey>> key =
      DkimKey::Generate(DkimAlgorithm::kRsaSha256, 2048);
  ASSERT_TRUE(key.ok());
  rsa.signature.key = *key;
  absl::StatusOr<std::shared_ptr<const DkimKeyring>> ring =
      DkimKeyring::Create({rsa, Spec("example.com", "ed")});
  ASSERT_TRUE(ring.ok()) << ring.status();
  const std::string message = "From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n";
  EXPECT_TRUE((*ring)->Signs(message, ""));
  absl::StatusOr<std::string> fields = (*ring)->Sign(message, "", absl::Now());
  ASSERT_TRUE(fields.ok()) << fields.status();
  EXPECT_TRUE(absl::StrContains(*fields, "a=rsa-sha256;")) << *fields;
  EXPECT_TRUE(absl::StrContains(*fields, "a=ed25519-sha256;")) << *fields;
  const std::string other = "From: a@elsewhere.test\r\n\r\nbody\r\n";
  EXPECT_FALSE((*ring)->Signs(other, ""));
  EXPECT_EQ(*(*ring)->Sign(other, "", absl::Now()), "");
}

TEST(DkimKeyringTest, BadSpecsAreRefusedNamingTheKey) {
  absl::StatusOr<std::shared_ptr<const DkimKeyring>> ring =
      DkimKeyring::Create({Spec("example.com", "s1", {"*.*.example.com"})});
  ASSERT_FALSE(ring.ok());
  EXPECT_TRUE(absl::StrContains(ring.status().message(), "s1._domainkey.example.com"));
  DkimKeySpec no_key = Spec("example.com", "s2");
  no_key.signature.key = nullptr;
  EXPECT_FALSE(DkimKeyring::Create({no_key}).ok());
}

}  // namespace
}  // namespace sluice::mail
