#include "mail/verp.h"

#include <string>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"

namespace sluice::mail {
namespace {

const common::MessageId kId = common::MessageId::FromParts(1'800'000'000'000, 7, 3, 42);

TEST(VerpTest, AnEncodedAddressDecodesToItsMessageAndRecipient) {
  const Verp verp = *Verp::Create(std::string(32, 'v'));
  const std::string address = verp.Encode(kId, 17, "Bounces.Example.com");
  EXPECT_EQ(address.substr(address.find('@')), "@bounces.example.com");
  EXPECT_LE(address.find('@'), 64u);  // RFC 5321 local-part limit
  absl::StatusOr<VerpTarget> target = verp.Decode(address);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(*target, (VerpTarget{kId, 17, "bounces.example.com"}));
  // MTAs that fold the local part's case still find it.
  target = verp.Decode(absl::AsciiStrToUpper(address));
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->recipient, 17u);
}

TEST(VerpTest, AlteredForeignOrOrdinaryAddressesAreRefused) {
  const Verp verp = *Verp::Create(std::string(32, 'v'));
  const std::string address = verp.Encode(kId, 1, "bounces.example.com");
  std::string other_recipient = address;
  other_recipient.replace(other_recipient.find("-1-"), 3, "-2-");
  EXPECT_FALSE(verp.Decode(other_recipient).ok());
  std::string other_domain = address;
  other_domain.replace(other_domain.find('@'), std::string::npos, "@bounces.example.net");
  EXPECT_FALSE(verp.Decode(other_domain).ok());
  const Verp foreign = *Verp::Create(std::string(32, 'f'));
  EXPECT_FALSE(foreign.Decode(address).ok());
  EXPECT_FALSE(verp.Decode("news@example.com").ok());
  EXPECT_FALSE(verp.Decode("b-x-1-00@bounces.example.com").ok());
  EXPECT_FALSE(verp.Decode("").ok());
  std::string leading_zero = address;
  leading_zero.replace(leading_zero.find("-1-"), 3, "-01-");
  EXPECT_FALSE(verp.Decode(leading_zero).ok());
  EXPECT_FALSE(Verp::Create("short").ok());
}

}  // namespace
}  // namespace sluice::mail
