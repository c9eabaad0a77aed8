#include "api/unsubscribe_handler.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/fake_clock.h"
#include "gtest/gtest.h"

namespace sluice::api {
namespace {

class UnsubscribeHandlerTest : public ::testing::Test {
 protected:
  UnsubscribeHandler Handler(std::shared_ptr<const UnsubscribeToken> tokens) {
    return UnsubscribeHandler(
        std::move(tokens),
        [this](std::string line) {
          if (!accept_) return false;
          lines_.push_back(std::move(line));
          return true;
        },
        counter_, &clock_);
  }

  HttpResponse Post(UnsubscribeHandler& handler, const std::string& token,
                    std::string body = "List-Unsubscribe=One-Click") {
    HttpRequest request;
    request.method = "POST";
    request.body = std::move(body);
    HttpResponse out;
    handler.Post(token, request, [&out](HttpResponse response) { out = std::move(response); });
    return out;
  }

  std::shared_ptr<const UnsubscribeToken> tokens_ =
      std::make_shared<const UnsubscribeToken>(*UnsubscribeToken::Create(std::string(32, 'k')));
  common::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  common::MetricsRegistry registry_{0};
  common::Counter* counter_ = registry_.AddCounter("unsubscribes_total", "u").value();
  std::vector<std::string> lines_;
  bool accept_ = true;
};

TEST_F(UnsubscribeHandlerTest, OneClickPostRecordsTheEventAndAnswers200) {
  UnsubscribeHandler handler = Handler(tokens_);
  const std::string token = tokens_->Mint({"acme", "a@example.com", "spring"});
  const HttpResponse response = Post(handler, token);
  EXPECT_EQ(response.status, 200) << response.body;
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0],
            "{\"type\":\"unsubscribe\",\"time\":\"2027-01-15T08:00:00.000Z\",\"tenant\":\"acme\","
            "\"recipient\":\"a@example.com\",\"campaign\":\"spring\"}");
  EXPECT_EQ(counter_->Value(), 1u);
  // Browsers post the confirmation form with other fields too.
  EXPECT_EQ(Post(handler, token, "x=1&List-Unsubscribe=One-Click").status, 200);
}

TEST_F(UnsubscribeHandlerTest, ForgedOrForeignTokensAre400AndRecordNothing) {
  UnsubscribeHandler handler = Handler(tokens_);
  std::string token = tokens_->Mint({"acme", "a@example.com", "spring"});
  token[3] = token[3] == 'A' ? 'B' : 'A';  // a recipient the MAC was not made for
  EXPECT_EQ(Post(handler, token).status, 400);
  const UnsubscribeToken other = *UnsubscribeToken::Create(std::string(32, 'o'));
  EXPECT_EQ(Post(handler, other.Mint({"acme", "a@example.com", ""})).status, 400);
  EXPECT_EQ(Post(handler, "not-a-token").status, 400);
  EXPECT_TRUE(lines_.empty());
  EXPECT_EQ(counter_->Value(), 0u);
}

TEST_F(UnsubscribeHandlerTest, APostWithoutTheOneClickBodyIsRefused) {
  UnsubscribeHandler handler = Handler(tokens_);
  const HttpResponse response = Post(handler, tokens_->Mint({"", "a@example.com", ""}), "");
  EXPECT_EQ(response.status, 400);
  EXPECT_TRUE(absl::StrContains(response.reason, "List-Unsubscribe=One-Click"));
  EXPECT_TRUE(lines_.empty());
}

TEST_F(UnsubscribeHandlerTest, GetShowsAConfirmationPageAndNeverUnsubscribes) {
  UnsubscribeHandler handler = Handler(tokens_);
  HttpResponse page;
  handler.Confirm(tokens_->Mint({"", "<b>@example.com", ""}),
                  [&page](HttpResponse response) { page = std::move(response); });
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(absl::StrContains(page.body, "&lt;b&gt;@example.com")) << page.body;
  EXPECT_TRUE(absl::StrContains(page.body, "name=\"List-Unsubscribe\" value=\"One-Click\""));
  EXPECT_TRUE(lines_.empty());
}

TEST_F(UnsubscribeHandlerTest, AFullEventLogAsksTheClientToRetry) {
  UnsubscribeHandler handler = Handler(tokens_);
  accept_ = false;
  const HttpResponse response = Post(handler, tokens_->Mint({"", "a@example.com", ""}));
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(counter_->Value(), 0u);
}

TEST_F(UnsubscribeHandlerTest, WithoutASecretTheEndpointIsNotThere) {
  UnsubscribeHandler handler = Handler(nullptr);
  EXPECT_EQ(Post(handler, tokens_->Mint({"", "a@example.com", ""})).status, 404);
}

}  // namespace
}  // namespace sluice::api
