#include "api/unsubscribe_header.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sluice::api {
namespace {

class UnsubscribeHeaderTest : public ::testing::Test {
 protected:
  absl::Status Apply(std::string* message, size_t recipients = 1) {
    return ApplyUnsubscribeRequest(message, who_, recipients, &tokens_, "https://mail.example.com");
  }

  const UnsubscribeToken tokens_ = *UnsubscribeToken::Create(std::string(32, 'k'));
  const Unsubscribe who_{"app", "rcpt@example.net", ""};
};

TEST_F(UnsubscribeHeaderTest, TheRequestFieldBecomesListUnsubscribeForTheRecipient) {
  std::string message =
      "From: a@example.com\r\nX-Sluice-Unsubscribe:  One-Click \r\nSubject: s\r\n\r\nbody "
      "X-Sluice-Unsubscribe: one-click\r\n";
  ASSERT_TRUE(Apply(&message).ok());
  const std::string prefix = "List-Unsubscribe: <https://mail.example.com/unsubscribe/";
  ASSERT_TRUE(absl::StartsWith(message, prefix)) << message;
  const size_t end = message.find(">\r\n");
  absl::StatusOr<Unsubscribe> named =
      tokens_.Verify(message.substr(prefix.size(), end - prefix.size()));
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(*named, who_);
  // The request field is gone from the header section, the body untouched.
  EXPECT_EQ(message.substr(end + 3),
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nFrom: a@example.com\r\n"
            "Subject: s\r\n\r\nbody X-Sluice-Unsubscribe: one-click\r\n");
}

TEST_F(UnsubscribeHeaderTest, MailWithoutTheFieldIsLeftAlone) {
  std::string message = "From: a@example.com\r\n\r\nX-Sluice-Unsubscribe: one-click\r\n";
  const std::string before = message;
  EXPECT_TRUE(Apply(&message, 5).ok());
  EXPECT_EQ(message, before);
}

TEST_F(UnsubscribeHeaderTest, WhatCannotWorkIsRefusedAndNothingChanges) {
  const std::string request = "X-Sluice-Unsubscribe: one-click\r\nFrom: a@example.com\r\n\r\nb\r\n";
  std::string message = request;
  EXPECT_TRUE(absl::StrContains(Apply(&message, 2).message(), "one recipient per message"));
  EXPECT_EQ(message, request);
  message = "X-Sluice-Unsubscribe: yes\r\n\r\nb\r\n";
  EXPECT_TRUE(absl::StrContains(Apply(&message).message(), "must be \"one-click\""));
  message = request + "";
  message.insert(0, "List-Unsubscribe: <mailto:u@example.com>\r\n");
  EXPECT_TRUE(absl::StrContains(Apply(&message).message(), "List-Unsubscribe is set by"));
  message = request;
  EXPECT_TRUE(absl::StrContains(ApplyUnsubscribeRequest(&message, who_, 1, nullptr, "").message(),
                                "not configured"));
  EXPECT_EQ(message, request);
}

}  // namespace
}  // namespace sluice::api
