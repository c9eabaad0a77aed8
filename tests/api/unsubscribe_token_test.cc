#include "api/unsubscribe_token.h"

#include "gtest/gtest.h"

namespace sluice::api {
namespace {

const std::string kSecret(32, 's');

TEST(UnsubscribeTokenTest, AMintedTokenVerifiesToWhatItNames) {
  absl::StatusOr<UnsubscribeToken> tokens = UnsubscribeToken::Create(kSecret);
  ASSERT_TRUE(tokens.ok());
  const Unsubscribe who{"acme", "jürgen@example.com", "spring-sale"};
  const std::string token = tokens->Mint(who);
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
      std::string::npos)
      << token;  // safe in a URL path as it is
  absl::StatusOr<Unsubscribe> back = tokens->Verify(token);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, who);
}

TEST(UnsubscribeTokenTest, ForgedAlteredOrForeignTokensAreRefused) {
  absl::StatusOr<UnsubscribeToken> tokens = UnsubscribeToken::Create(kSecret);
  absl::StatusOr<UnsubscribeToken> other = UnsubscribeToken::Create(std::string(32, 'o'));
  ASSERT_TRUE(tokens.ok() && other.ok());
  const std::string token = tokens->Mint({"acme", "a@example.com", ""});
  EXPECT_FALSE(other->Verify(token).ok());  // another secret
  // Another recipient with the first one's MAC.
  const std::string theirs = tokens->Mint({"acme", "b@example.com", ""});
  const std::string spliced = theirs.substr(0, theirs.rfind('.')) + token.substr(token.rfind('.'));
  EXPECT_FALSE(tokens->Verify(spliced).ok());
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(tokens->Verify(flipped).ok());
  EXPECT_FALSE(tokens->Verify("").ok());
  EXPECT_FALSE(tokens->Verify("1..").ok());
  EXPECT_FALSE(tokens->Verify("2." + token.substr(2)).ok());
}

TEST(UnsubscribeTokenTest, AShortSecretIsRefused) {
  EXPECT_FALSE(UnsubscribeToken::Create("short").ok());
}

}  // namespace
}  // namespace sluice::api
