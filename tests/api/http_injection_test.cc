#include "api/http_injection.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "gtest/gtest.h"
#include "queue/spool_keys.h"

namespace sluice::api {
namespace {

class HttpInjectionTest : public ::testing::Test {
 protected:
  absl::StatusOr<PreparedInjection> Prepare(const std::string& json, bool unsubscribe = false) {
    InjectionContext context;
    context.hostname = "h.example";
    context.now = absl::FromUnixSeconds(1'800'000'000);
    context.max_recipients_per_envelope = 2;
    if (unsubscribe) {
      context.unsubscribe = tokens_;
      context.unsubscribe_base_url = "https://mail.example.org";
    }
    return PrepareInjection(parser_, json, ids_, context);
  }

  std::shared_ptr<const UnsubscribeToken> tokens_ =
      std::make_shared<const UnsubscribeToken>(*UnsubscribeToken::Create(std::string(32, 'k')));

  common::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  common::MessageIdGenerator ids_{&clock_, 3, 7};
  InjectionRequestParser parser_;
};

TEST_F(HttpInjectionTest, SharedBodyIsSplitByDomainAndChunked) {
  absl::StatusOr<PreparedInjection> prepared = Prepare(R"({
    "from": "a@example.org", "text": "same for all", "to_header": "undisclosed",
    "recipients": [{"email": "1@x.example"}, {"email": "2@y.example"}, {"email": "3@X.example"},
                   {"email": "4@x.example"}, {"email": "bad"}]})");
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  ASSERT_EQ(prepared->messages.size(), 1u);
  const queue::NewMessage& message = prepared->messages[0];
  // x.example has three recipients: two envelopes of at most two.
  ASSERT_EQ(message.envelopes.size(), 3u);
  EXPECT_EQ(message.envelopes[0].domain(), "x.example");
  EXPECT_EQ(message.envelopes[0].recipients_size(), 2);
  EXPECT_EQ(message.envelopes[1].domain(), "x.example");
  EXPECT_EQ(message.envelopes[1].recipients_size(), 1);
  EXPECT_EQ(message.envelopes[2].domain(), "y.example");
  for (const queue::Envelope& envelope : message.envelopes) {
    EXPECT_EQ(envelope.body_id(), queue::IdKey(message.body_id));
    EXPECT_EQ(envelope.next_due_unix_ms(), 1'800'000'000'000);
  }
  ASSERT_EQ(prepared->accepted.size(), 4u);
  EXPECT_EQ(prepared->accepted[0].message_id, prepared->accepted[2].message_id);
  EXPECT_NE(prepared->accepted[0].message_id, prepared->accepted[1].message_id);
  ASSERT_EQ(prepared->rejected.size(), 1u);
  EXPECT_EQ(prepared->rejected[0].index, 4u);
  EXPECT_TRUE(absl::StrContains(message.body, "@h.example>")) << message.body;
}

TEST_F(HttpInjectionTest, ResponseMovesRecipientsOfFailedMessagesToRejected) {
  absl::StatusOr<PreparedInjection> prepared = Prepare(R"({
    "from": "a@example.org", "text": "Hi {{n}} {{missing}}",
    "recipients": [{"email": "1@x.example", "substitutions": {"n": "1"}},
                   {"email": "2@x.example", "substitutions": {"n": "2"}}]})");
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  ASSERT_EQ(prepared->messages.size(), 2u);
  const std::string response = FormatInjectionResponse(
      *prepared, {absl::OkStatus(), absl::UnavailableError("spool: disk full")});
  EXPECT_TRUE(absl::StrContains(
      response,
      absl::StrCat("\"accepted\":[{\"index\":0,\"email\":\"1@x.example\",\"message_id\":\"",
                   prepared->accepted[0].message_id, "\"}]")))
      << response;
  EXPECT_TRUE(absl::StrContains(response,
                                "\"rejected\":[{\"index\":1,\"email\":\"2@x.example\",\"reason\":"
                                "\"spool: disk full (not accepted; retry)\"}]"))
      << response;
  EXPECT_TRUE(absl::StrContains(response, "\"missing_substitutions\":[\"missing\"]")) << response;
}

TEST_F(HttpInjectionTest, OneClickUnsubscribeGivesEachRecipientItsOwnSignedUrl) {
  absl::StatusOr<PreparedInjection> prepared = Prepare(R"({
    "from": "news@example.org", "text": "same for all", "to_header": "undisclosed",
    "tenant": "acme", "campaign": "spring", "unsubscribe": "one-click",
    "recipients": [{"email": "1@x.example"}, {"email": "2@x.example"}]})",
                                                       /*unsubscribe=*/true);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  // A shared body would do without the header; each URL names its recipient.
  ASSERT_EQ(prepared->messages.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const std::string& body = prepared->messages[i].body;
    const std::string prefix = "List-Unsubscribe: <https://mail.example.org/unsubscribe/";
    const size_t start = body.find(prefix);
    ASSERT_NE(start, std::string::npos) << body;
    const size_t end = body.find(">\r\n", start);
    ASSERT_NE(end, std::string::npos) << body;
    absl::StatusOr<Unsubscribe> who =
        tokens_->Verify(body.substr(start + prefix.size(), end - start - prefix.size()));
    ASSERT_TRUE(who.ok()) << who.status();
    EXPECT_EQ(*who, (Unsubscribe{"acme", absl::StrCat(i + 1, "@x.example"), "spring"}));
    EXPECT_TRUE(
        absl::StrContains(body, "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"))
        << body;
  }
}

TEST_F(HttpInjectionTest, OneClickUnsubscribeIsRefusedWhereItCannotWork) {
  const std::string request = R"({
    "from": "news@example.org", "text": "hi", "unsubscribe": "one-click",
    "recipients": [{"email": "1@x.example"}]})";
  // Not configured: no secret to sign with.
  absl::StatusOr<PreparedInjection> prepared = Prepare(request);
  EXPECT_TRUE(absl::StartsWith(prepared.status().message(), "unsubscribe: ")) << prepared.status();
  // The caller's own List-Unsubscribe would contradict the generated one.
  prepared = Prepare(R"({
    "from": "news@example.org", "text": "hi", "unsubscribe": "one-click",
    "headers": {"List-Unsubscribe": "<mailto:u@example.org>"},
    "recipients": [{"email": "1@x.example"}]})",
                     true);
  EXPECT_TRUE(absl::StartsWith(prepared.status().message(), "headers.List-Unsubscribe: "))
      << prepared.status();
  // Raw content is sent as is.
  prepared = Prepare(R"({
    "envelope_sender": "news@example.org", "content": "Subject: x\r\n\r\nhi\r\n",
    "unsubscribe": "one-click", "recipients": [{"email": "1@x.example"}]})",
                     true);
  EXPECT_TRUE(absl::StartsWith(prepared.status().message(), "unsubscribe: ")) << prepared.status();
  prepared = Prepare(R"({
    "from": "news@example.org", "text": "hi", "unsubscribe": "yes",
    "recipients": [{"email": "1@x.example"}]})",
                     true);
  EXPECT_EQ(prepared.status().message(), "unsubscribe: must be \"one-click\"");
}

TEST_F(HttpInjectionTest, NoValidRecipientIsAnError) {
  absl::StatusOr<PreparedInjection> prepared =
      Prepare(R"({"from": "a@example.org", "text": "t", "recipients": [{"email": "nope"}]})");
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.status().message(), "recipients: no valid recipient");
}

TEST_F(HttpInjectionTest, RejectingAcceptedRecipientsTakesThemOutOfTheirEnvelopes) {
  absl::StatusOr<PreparedInjection> prepared = Prepare(R"({
    "from": "a@example.org", "text": "same for all", "to_header": "undisclosed",
    "recipients": [{"email": "1@x.example"}, {"email": "2@y.example"}, {"email": "3@x.example"},
                   {"email": "4@x.example"}]})");
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  ASSERT_EQ(prepared->messages[0].envelopes.size(), 3u);  // x: 1, 3 | x: 4 | y: 2
  // 2@y.example and 4@x.example are suppressed: their envelopes empty out.
  RejectAccepted(&*prepared,
                 {std::nullopt, "suppressed: complaint", std::nullopt, "suppressed: hard-bounce"});
  ASSERT_EQ(prepared->messages.size(), 1u);
  const queue::NewMessage& message = prepared->messages[0];
  ASSERT_EQ(message.envelopes.size(), 1u);
  EXPECT_EQ(message.envelopes[0].recipients_size(), 2);
  EXPECT_EQ(message.envelopes[0].recipients(0).address(), "1@x.example");
  EXPECT_EQ(message.envelopes[0].recipients(1).address(), "3@x.example");
  ASSERT_EQ(prepared->accepted.size(), 2u);
  EXPECT_EQ(prepared->accepted[1].email, "3@x.example");
  const std::string response = FormatInjectionResponse(*prepared, {absl::OkStatus()});
  EXPECT_TRUE(absl::StrContains(response,
                                "\"rejected\":[{\"index\":1,\"email\":\"2@y.example\",\"reason\":"
                                "\"suppressed: complaint\"},{\"index\":3,\"email\":\"4@x.example\","
                                "\"reason\":\"suppressed: hard-bounce\"}]"))
      << response;
}

TEST_F(HttpInjectionTest, RejectingEveryRecipientOfAPersonalisedMessageDropsIt) {
  absl::StatusOr<PreparedInjection> prepared = Prepare(R"({
    "from": "a@example.org", "text": "Hi {{n}}",
    "recipients": [{"email": "1@x.example", "substitutions": {"n": "1"}},
                   {"email": "2@x.example", "substitutions": {"n": "2"}},
                   {"email": "3@x.example", "substitutions": {"n": "3"}}]})");
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  ASSERT_EQ(prepared->messages.size(), 3u);
  const size_t second_body = prepared->messages[1].body.size();
  const size_t bytes = prepared->body_bytes;
  const std::string third_body = prepared->messages[2].body;
  RejectAccepted(&*prepared, {std::nullopt, "suppressed: unsubscribe", std::nullopt});
  ASSERT_EQ(prepared->messages.size(), 2u);
  EXPECT_EQ(prepared->body_bytes, bytes - second_body);
  // The third recipient's message moved up, and its recipient follows it.
  ASSERT_EQ(prepared->accepted.size(), 2u);
  EXPECT_EQ(prepared->accepted[1].message, 1u);
  EXPECT_EQ(prepared->messages[1].body, third_body);
}

}  // namespace
}  // namespace sluice::api
