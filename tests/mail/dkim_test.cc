#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "mail/dkim_canonical.h"
#include "mail/dkim_key.h"
#include "mail/dkim_signer.h"

namespace sluice::mail {
namespace {

std::string Base64(const Sha256Digest& digest) {
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

// RFC 6376 3.4.5.
TEST(DkimCanonicalTest, RelaxedHeaderExampleOfTheRfc) {
  EXPECT_EQ(CanonicalHeaderField("A: X", DkimCanonicalization::kRelaxed), "a:X\r\n");
  EXPECT_EQ(CanonicalHeaderField("B : Y\t\r\n\tZ  ", DkimCanonicalization::kRelaxed), "b:Y Z\r\n");
  EXPECT_EQ(CanonicalHeaderField("B : Y\t\r\n\tZ  ", DkimCanonicalization::kSimple),
            "B : Y\t\r\n\tZ  \r\n");
}

TEST(DkimCanonicalTest, RelaxedBodyExampleOfTheRfc) {
  // " C \r\nD \t E\r\n\r\n\r\n" is " C\r\nD E\r\n" under relaxed.
  EXPECT_EQ(DkimBodyHash(" C \r\nD \t E\r\n\r\n\r\n", DkimCanonicalization::kRelaxed),
            DkimBodyHash(" C\r\nD E\r\n", DkimCanonicalization::kSimple));
  // Simple keeps the white space and drops only the trailing empty lines.
  EXPECT_EQ(DkimBodyHash(" C \r\nD \t E\r\n\r\n\r\n", DkimCanonicalization::kSimple),
            DkimBodyHash(" C \r\nD \t E\r\n", DkimCanonicalization::kSimple));
}

TEST(DkimCanonicalTest, EmptyBodiesAndAMissingFinalLineEnd) {
  // SHA-256 of CRLF, and of nothing (RFC 6376 3.4.3, 3.4.4).
  EXPECT_EQ(Base64(DkimBodyHash("", DkimCanonicalization::kSimple)),
            "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
  EXPECT_EQ(Base64(DkimBodyHash("\r\n\r\n", DkimCanonicalization::kSimple)),
            "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
  EXPECT_EQ(Base64(DkimBodyHash("", DkimCanonicalization::kRelaxed)),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(DkimBodyHash("last line", DkimCanonicalization::kSimple),
            DkimBodyHash("last line\r\n", DkimCanonicalization::kSimple));
}

// RFC 8463 appendix A: the Ed25519 key and signed message, reproduced
// byte for byte (Ed25519 is deterministic).
constexpr char kRfc8463Seed[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
constexpr char kRfc8463Headers[] =
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n";
constexpr char kRfc8463Body[] =
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";

TEST(DkimRfc8463Test, TheEd25519ExampleSignatureIsReproduced) {
  std::string seed;
  ASSERT_TRUE(absl::Base64Unescape(kRfc8463Seed, &seed));
  absl::StatusOr<std::shared_ptr<const DkimKey>> key = DkimKey::FromEd25519Seed(seed);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> record = (*key)->DnsRecord();
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(*record, "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");

  EXPECT_EQ(Base64(DkimBodyHash(kRfc8463Body, DkimCanonicalization::kRelaxed)),
            "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
  const std::string signature_field =
      "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
      " d=football.example.com; i=@football.example.com;\r\n"
      " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
      " subject : date : message-id : from : subject : date;\r\n"
      " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
      " b=";
  const Sha256Digest digest = DkimHeaderHash(
      kRfc8463Headers, {"from", "to", "subject", "date", "message-id", "from", "subject", "date"},
      signature_field, DkimCanonicalization::kRelaxed);
  absl::StatusOr<std::string> b = (*key)->Sign(digest);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(
      absl::Base64Escape(*b),
      "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==");
}

TEST(DkimSignerTest, SignsPresentHeadersOversignsFromAndFoldsEveryLine) {
  absl::StatusOr<std::shared_ptr<const DkimKey>> key =
      DkimKey::Generate(DkimAlgorithm::kEd25519Sha256);
  ASSERT_TRUE(key.ok()) << key.status();
  DkimSignature signature;
  signature.domain = "example.com";
  signature.selector = "s1";
  signature.key = *key;
  absl::StatusOr<std::unique_ptr<const DkimSigner>> signer = DkimSigner::Create({signature});
  ASSERT_TRUE(signer.ok()) << signer.status();
  const std::string message =
      "From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\nX-Other: no\r\n\r\nbody\r\n";
  absl::StatusOr<std::string> field = (*signer)->Sign(message, absl::FromUnixSeconds(1700000000));
  ASSERT_TRUE(field.ok()) << field.status();
  EXPECT_TRUE(absl::StartsWith(*field,
                               "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;"
                               " d=example.com; s=s1;\r\n\tt=1700000000;"))
      << *field;
  EXPECT_TRUE(absl::StrContains(*field, " h=from:to:subject:from;")) << *field;
  EXPECT_TRUE(absl::EndsWith(*field, "\r\n"));
  for (absl::string_view line : absl::StrSplit(*field, "\r\n")) {
    EXPECT_LE(line.size(), 78u) << line;
  }
}

TEST(DkimSignerTest, AMessageWithoutHeadersIsRefused) {
  absl::StatusOr<std::shared_ptr<const DkimKey>> key =
      DkimKey::Generate(DkimAlgorithm::kEd25519Sha256);
  ASSERT_TRUE(key.ok());
  DkimSignature signature{.domain = "example.com", .selector = "s1", .key = *key};
  absl::StatusOr<std::unique_ptr<const DkimSigner>> signer = DkimSigner::Create({signature});
  ASSERT_TRUE(signer.ok());
  EXPECT_FALSE((*signer)->Sign("\r\nbody only\r\n", absl::Now()).ok());
  EXPECT_FALSE(DkimSigner::Create({DkimSignature{}}).ok());
}

TEST(DkimKeyTest, SmallRsaKeysAndGarbageAreRefused) {
  EXPECT_FALSE(DkimKey::FromPem("not a key").ok());
  EXPECT_FALSE(DkimKey::Generate(DkimAlgorithm::kRsaSha256, 1024).ok());
  absl::StatusOr<std::shared_ptr<const DkimKey>> rsa =
      DkimKey::Generate(DkimAlgorithm::kRsaSha256, 2048);
  ASSERT_TRUE(rsa.ok()) << rsa.status();
  EXPECT_EQ((*rsa)->bits(), 2048);
  absl::StatusOr<std::string> pem = (*rsa)->PrivateKeyPem();
  ASSERT_TRUE(pem.ok());
  absl::StatusOr<std::shared_ptr<const DkimKey>> again = DkimKey::FromPem(*pem);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*(*again)->DnsRecord(), *(*rsa)->DnsRecord());
  EXPECT_TRUE(absl::StartsWith(*(*rsa)->DnsRecord(), "v=DKIM1; k=rsa; p=MIIB"));
}

}  // namespace
}  // namespace sluice::mail
