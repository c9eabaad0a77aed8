#include "smtp/address.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::smtp {
namespace {

absl::StatusOr<Address> Parse(std::string_view text, bool null = true, bool postmaster = true) {
  PathOptions options;
  options.allow_null = null;
  options.allow_postmaster = postmaster;
  size_t consumed = 0;
  absl::StatusOr<Address> address = ParsePath(text, options, &consumed);
  if (address.ok()) {
    EXPECT_EQ(consumed, text.size()) << text;
  }
  return address;
}

TEST(AddressTest, ParsesPlainMailbox) {
  absl::StatusOr<Address> address = Parse("<user.name+tag@example.com>");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->local_part, "user.name+tag");
  EXPECT_EQ(address->domain, "example.com");
  EXPECT_FALSE(address->utf8);
  EXPECT_EQ(address->ToString(), "user.name+tag@example.com");
}

TEST(AddressTest, NullPathOnlyWhereAllowed) {
  absl::StatusOr<Address> address = Parse("<>");
  ASSERT_TRUE(address.ok());
  EXPECT_TRUE(address->IsNull());
  EXPECT_FALSE(Parse("<>", /*null=*/false).ok());
}

TEST(AddressTest, PostmasterWithoutDomainOnlyWhereAllowed) {
  absl::StatusOr<Address> address = Parse("<PostMaster>");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(address->ToString(), "PostMaster");
  EXPECT_FALSE(Parse("<postmaster>", true, /*postmaster=*/false).ok());
  EXPECT_FALSE(Parse("<webmaster>").ok());
}

TEST(AddressTest, QuotedLocalPartKeepsQuotes) {
  absl::StatusOr<Address> address = Parse(R"(<"john \"q\" doe@home"@example.com>)");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->local_part, R"("john \"q\" doe@home")");
  EXPECT_EQ(address->domain, "example.com");
  EXPECT_FALSE(Parse("<\"unterminated@example.com>").ok());
  EXPECT_FALSE(Parse("<\"bad\x01\"@example.com>").ok());
}

TEST(AddressTest, AddressLiterals) {
  EXPECT_TRUE(Parse("<u@[192.0.2.1]>").ok());
  EXPECT_TRUE(Parse("<u@[IPv6:2001:db8::1]>").ok());
  EXPECT_TRUE(Parse("<u@[IPv6:::ffff:192.0.2.1]>").ok());
  EXPECT_FALSE(Parse("<u@[192.0.2.256]>").ok());
  EXPECT_FALSE(Parse("<u@[192.0.2]>").ok());
  EXPECT_FALSE(Parse("<u@[IPv6:2001:db8::g]>").ok());
  EXPECT_FALSE(Parse("<u@[tag:something]>").ok());
  EXPECT_FALSE(Parse("<u@[192.0.2.1>").ok());
}

TEST(AddressTest, SourceRouteIsDropped) {
  absl::StatusOr<Address> address = Parse("<@relay.example,@b.example:user@example.com>");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->ToString(), "user@example.com");
  EXPECT_FALSE(Parse("<@relay.example user@example.com>").ok());
}

TEST(AddressTest, RefusesMalformedMailboxes) {
  for (std::string_view bad :
       {"user@example.com", "<user@example.com", "<@example.com>", "<user@>", "<.user@ex.com>",
        "<user.@ex.com>", "<us..er@ex.com>", "<user@-ex.com>", "<user@ex-.com>", "<user@ex..com>",
        "<user@ex.com.>", "<user@ex_ample.com>", "<us er@ex.com>", "<user@ex.com >"}) {
    EXPECT_FALSE(Parse(bad).ok()) << bad;
  }
}

TEST(AddressTest, EnforcesLengthLimits) {
  EXPECT_TRUE(Parse("<" + std::string(64, 'a') + "@ex.com>").ok());
  EXPECT_FALSE(Parse("<" + std::string(65, 'a') + "@ex.com>").ok());
  EXPECT_FALSE(Parse("<a@" + std::string(64, 'b') + ".com>").ok());
}

TEST(AddressTest, Utf8IsReportedAndValidated) {
  absl::StatusOr<Address> address = Parse(
      "<j\xC3\xB6rg@b\xC3\xBC"
      "cher.example>");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_TRUE(address->utf8);
  EXPECT_FALSE(Parse("<j\xC3@example.com>").ok());          // truncated sequence
  EXPECT_FALSE(Parse("<j\xC0\xAF@example.com>").ok());      // overlong
  EXPECT_FALSE(Parse("<j\xED\xA0\x80@example.com>").ok());  // surrogate
  EXPECT_FALSE(Parse("<u@\xFF.example>").ok());
}

TEST(AddressTest, ReportsConsumedOctetsBeforeParameters) {
  PathOptions options;
  size_t consumed = 0;
  ASSERT_TRUE(ParsePath("<a@b.c> SIZE=10", options, &consumed).ok());
  EXPECT_EQ(consumed, 7u);
}

}  // namespace
}  // namespace sluice::smtp
