#include "smtp/auth_exchange.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace sluice::smtp {
namespace {

using namespace std::literals;
using Outcome = AuthExchange::Outcome;

std::string Base64(std::string_view text) {
  return absl::Base64Escape(absl::string_view(text.data(), text.size()));
}

// The answer to `line`, the first response of a `mechanism` exchange.
AuthExchange::Step FirstStep(std::string_view mechanism, std::string_view line) {
  AuthExchange exchange;
  EXPECT_TRUE(exchange.Start(mechanism));
  return exchange.Respond(line);
}

// "enhanced text" of a failed step.
std::string Failure(const AuthExchange::Step& step) {
  if (step.outcome != Outcome::kFailed) return "not failed";
  return std::string(step.enhanced) + " " + std::string(step.text);
}

// mechanism|authzid|user|password
std::string Fields(const AuthRequest& request) {
  return absl::StrCat(request.mechanism, "|", request.authzid, "|", request.user, "|",
                      request.password);
}

TEST(AuthExchangeTest, PlainTakesAllCredentialsFromOneResponse) {
  AuthExchange exchange;
  ASSERT_TRUE(exchange.Start("PLAIN"));
  EXPECT_EQ(exchange.FirstChallenge(), "");
  const AuthExchange::Step step = exchange.Respond(Base64("admin\0user\0secret"sv));
  EXPECT_EQ(step.outcome, Outcome::kComplete);
  EXPECT_EQ(Fields(exchange.request()), "PLAIN|admin|user|secret");
}

TEST(AuthExchangeTest, LoginAsksForTheUserThenThePassword) {
  AuthExchange exchange;
  ASSERT_TRUE(exchange.Start("LOGIN"));
  EXPECT_EQ(exchange.FirstChallenge(), Base64("Username:"));
  const AuthExchange::Step user = exchange.Respond(Base64("user"));
  EXPECT_EQ(user.outcome, Outcome::kChallenge);
  EXPECT_EQ(user.text, Base64("Password:"));
  EXPECT_EQ(exchange.Respond(Base64("secret")).outcome, Outcome::kComplete);
  EXPECT_EQ(Fields(exchange.request()), "LOGIN||user|secret");
}

TEST(AuthExchangeTest, RefusesOtherMechanisms) {
  AuthExchange exchange;
  EXPECT_FALSE(exchange.Start("CRAM-MD5"));
  EXPECT_FALSE(exchange.Start("plain"));  // the session upper-cases
}

TEST(AuthExchangeTest, StarCancels) {
  EXPECT_EQ(Failure(FirstStep("LOGIN", "*")), "5.0.0 Error: authentication cancelled");
}

TEST(AuthExchangeTest, RefusesWhatStrictBase64DoesNotAllow) {
  for (std::string_view line : {"dXNlcg"sv, "dXNl cg=="sv, "dXNlcg-_"sv, "dXNlcg=\n"sv}) {
    EXPECT_EQ(Failure(FirstStep("LOGIN", line)), "5.5.2 Error: cannot decode response") << line;
  }
}

TEST(AuthExchangeTest, RefusesMalformedPlainResponses) {
  for (std::string_view decoded : {"user\0secret"sv, "\0\0secret"sv, "a\0user\0secret\0"sv}) {
    EXPECT_EQ(Failure(FirstStep("PLAIN", Base64(decoded))),
              "5.5.2 Error: malformed PLAIN response");
  }
}

TEST(AuthExchangeTest, RefusesAnEmptyLoginUser) {
  EXPECT_EQ(Failure(FirstStep("LOGIN", "")), "5.5.2 Error: malformed LOGIN user name");
}

TEST(AuthExchangeTest, ClearForgetsTheCredentials) {
  AuthExchange exchange;
  ASSERT_TRUE(exchange.Start("PLAIN"));
  ASSERT_EQ(exchange.Respond(Base64("\0user\0secret"sv)).outcome, Outcome::kComplete);
  exchange.Clear();
  EXPECT_EQ(Fields(exchange.request()), "|||");
}

}  // namespace
}  // namespace sluice::smtp
