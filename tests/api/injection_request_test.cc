#include "api/injection_request.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sluice::api {
namespace {

// A valid request with `extra` spliced in as more top-level fields.
std::string Request(const std::string& extra,
                    const std::string& recipients = R"([{"email":"r@example.com"}])") {
  return absl::StrCat(R"({"from":"Sender <s@example.org>","text":"hi","recipients":)", recipients,
                      extra.empty() ? "" : ",", extra, "}");
}

std::string ErrorOf(const std::string& json, const InjectionLimits& limits = {}) {
  absl::StatusOr<InjectionRequest> request = ParseInjectionRequest(json, limits);
  if (request.ok()) return "OK";
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(request.status().message());
}

TEST(InjectionRequestTest, ParsesAFullStructuredRequest) {
  const std::string json = R"({
    "from": {"email": "news@Bücher.example", "name": "Bücher News"},
    "envelope_sender": "bounces@example.org",
    "reply_to": "\"Help, Desk\" <help@example.org>",
    "subject": "Hello {{name}}",
    "text": "text", "html": "<p>html</p>",
    "headers": {"X-Campaign": "spring", "List-Id": "<news.example.org>"},
    "attachments": [{"filename": "a.txt", "content_type": "Text/Plain", "content": "aGVsbG8="}],
    "recipients": [
      {"email": "a@example.com", "name": "A", "substitutions": {"name": "Ada", "n": 3, "b": true},
       "metadata": {"id": "42"}},
      {"email": "jürgen@münchen.example"}
    ],
    "substitutions": {"name": "friend"},
    "tenant": "acme", "campaign": "spring-2024", "pool": "bulk", "tags": ["a", "b"],
    "to_header": "undisclosed"
  })";
  absl::StatusOr<InjectionRequest> request = ParseInjectionRequest(json);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->from.display_name, "Bücher News");
  EXPECT_EQ(request->from.AddrSpec(), "news@xn--bcher-kva.example");
  EXPECT_EQ(request->envelope_sender, "bounces@example.org");
  ASSERT_EQ(request->reply_to.size(), 1u);
  EXPECT_EQ(request->reply_to[0].display_name, "Help, Desk");
  EXPECT_EQ(request->subject, "Hello {{name}}");
  EXPECT_EQ(request->text, "text");
  EXPECT_EQ(request->html, "<p>html</p>");
  ASSERT_EQ(request->headers.size(), 2u);
  EXPECT_EQ(request->headers[1].first, "List-Id");
  ASSERT_EQ(request->attachments.size(), 1u);
  EXPECT_EQ(request->attachments[0].data, "hello");
  EXPECT_EQ(request->attachments[0].content_type, "text/plain");
  ASSERT_EQ(request->recipients.size(), 2u);
  EXPECT_EQ(request->recipients[0].substitutions,
            (KeyValues{{"b", "true"}, {"n", "3"}, {"name", "Ada"}}));
  EXPECT_EQ(request->recipients[0].metadata, (KeyValues{{"id", "42"}}));
  EXPECT_EQ(request->recipients[1].mailbox.AddrSpec(), "jürgen@xn--mnchen-3ya.example");
  EXPECT_TRUE(request->recipients[1].needs_smtputf8);
  EXPECT_FALSE(request->recipients[0].needs_smtputf8);
  EXPECT_FALSE(request->sender_needs_smtputf8);
  EXPECT_EQ(request->substitutions, (KeyValues{{"name", "friend"}}));
  EXPECT_EQ(request->tenant, "acme");
  EXPECT_EQ(request->campaign, "spring-2024");
  EXPECT_EQ(request->pool, "bulk");
  EXPECT_EQ(request->tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(request->to_header, ToHeader::kUndisclosed);
}

TEST(InjectionRequestTest, EnvelopeSenderDefaultsToFrom) {
  absl::StatusOr<InjectionRequest> request = ParseInjectionRequest(Request(""));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->envelope_sender, "s@example.org");
  EXPECT_EQ(request->to_header, ToHeader::kEach);
}

TEST(InjectionRequestTest, RawContentWithEnvelopeSender) {
  absl::StatusOr<InjectionRequest> request = ParseInjectionRequest(
      R"({"content":"From: a@example.org\nSubject: x\n\nbody\n","envelope_sender":"a@example.org",)"
      R"("recipients":[{"email":"r@example.com"}]})");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(*request->content, "From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n");
}

TEST(InjectionRequestTest, BadRecipientsAreRejectedOthersAccepted) {
  absl::StatusOr<InjectionRequest> request = ParseInjectionRequest(Request(
      "", R"([{"email":"a@example.com"},{"email":"no-at-sign"},{"email":"a@example.com"},)"
          R"({"email":"b@EXAMPLE.com"},{"email":"c@bad_domain!.com"},{"email":"d@localhost"}])"));
  ASSERT_TRUE(request.ok()) << request.status();
  ASSERT_EQ(request->recipients.size(), 2u);
  EXPECT_EQ(request->recipients[0].index, 0u);
  EXPECT_EQ(request->recipients[1].index, 3u);
  EXPECT_EQ(request->recipients[1].mailbox.AddrSpec(), "b@example.com");
  ASSERT_EQ(request->rejected.size(), 4u);
  EXPECT_EQ(request->rejected[0].index, 1u);
  EXPECT_EQ(request->rejected[0].email, "no-at-sign");
  EXPECT_EQ(request->rejected[0].reason, "recipients[1].email: not a valid address: expected '@'");
  EXPECT_EQ(request->rejected[1].reason, "recipients[2].email: duplicate of recipients[0]");
  EXPECT_EQ(request->rejected[2].reason, "recipients[4].email: not a valid address: domain");
  EXPECT_EQ(request->rejected[3].reason,
            "recipients[5].email: not a valid address: domain has a single label");
}

TEST(InjectionRequestTest, AllRecipientsRejectedStillParses) {
  absl::StatusOr<InjectionRequest> request =
      ParseInjectionRequest(Request("", R"([{"email":"x"}])"));
  ASSERT_TRUE(request.ok());
  EXPECT_TRUE(request->recipients.empty());
  EXPECT_EQ(request->rejected.size(), 1u);
}

TEST(InjectionRequestTest, UnicodeLocalPartNeedsSmtputf8) {
  absl::StatusOr<InjectionRequest> request = ParseInjectionRequest(
      R"({"from":"δοκιμή@παράδειγμα.δοκιμή","text":"x","recipients":[{"email":"r@example.com"}]})");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_TRUE(request->sender_needs_smtputf8);
  EXPECT_EQ(request->from.domain, "xn--hxajbheg2az3al.xn--jxalpdlp");
}

struct ErrorCase {
  std::string json;
  std::string error;
};

TEST(InjectionRequestTest, EveryValidationErrorNamesTheField) {
  const std::string ok_rcpt = R"([{"email":"r@example.com"}])";
  const ErrorCase cases[] = {
      {"not json", "body: invalid JSON: "},
      {"[1,2]", "body: must be a JSON object"},
      {Request(R"("colour":"red")"), "colour: unknown field"},
      {Request(R"("text":"again")"), "text: duplicate field"},
      {R"({"text":"x","recipients":[{"email":"r@example.com"}]})", "from: required"},
      {R"({"from":"s@example.org","recipients":[{"email":"r@example.com"}]})",
       "text: required when html, attachments and content are absent"},
      {R"({"from":"s@example.org","text":"x"})", "recipients: required"},
      {Request("", "[]"), "recipients: must not be empty"},
      {Request("", "{}"), "recipients: must be an array"},
      {Request("", R"([{"email":"r@example.com"},"x"])"), "recipients[1]: must be an object"},
      {Request("", R"([{"name":"n"}])"), "recipients[0].email: required"},
      {Request("", R"([{"email":5}])"), "recipients[0].email: must be a string"},
      {Request("", R"([{"email":"r@example.com","nmae":"x"}])"),
       "recipients[0].nmae: unknown field"},
      {Request("", R"([{"email":"r@example.com","name":"a\nb"}])"),
       "recipients[0].name: must not contain control characters"},
      {Request("", R"([{"email":"a@example.com"},{"email":"r@example.com","substitutions":[]}])"),
       "recipients[1].substitutions: must be an object"},
      {Request("", R"([{"email":"r@example.com","substitutions":{"a":{}}}])"),
       "recipients[0].substitutions.a: must be a string, number or boolean"},
      {Request("", R"([{"email":"r@example.com","substitutions":{"a":null}}])"),
       "recipients[0].substitutions.a: must be a string, number or boolean"},
      {Request("", R"([{"email":"r@example.com","substitutions":{"a":"1","a":"2"}}])"),
       "recipients[0].substitutions.a: duplicate field"},
      {Request("", R"([{"email":"r@example.com","metadata":"x"}])"),
       "recipients[0].metadata: must be an object"},
      {Request(R"("subject":5)"), "subject: must be a string"},
      {Request(R"("subject":"a\r\nBcc: x@example.com")"),
       "subject: must not contain line breaks or control characters"},
      {Request(R"("html":["x"])"), "html: must be a string"},
      {Request(R"("from2":"x")"), "from2: unknown field"},
      {R"({"from":"not an address","text":"x","recipients":[{"email":"r@example.com"}]})",
       "from: not a valid address: unexpected space or angle bracket"},
      {R"({"from":{"name":"x"},"text":"x","recipients":[{"email":"r@example.com"}]})",
       "from.email: required"},
      {R"({"from":{"email":"s@example.org","x":1},"text":"x","recipients":[{"email":"r@example.com"}]})",
       "from.x: unknown field"},
      {R"({"from":7,"text":"x","recipients":[{"email":"r@example.com"}]})",
       "from: must be a string or an object with email and name"},
      {Request(R"("reply_to":"bad@")"), "reply_to: not a valid address: domain"},
      {Request(R"("envelope_sender":"x")"), "envelope_sender: not a valid address: expected '@'"},
      {Request(R"("headers":[])"), "headers: must be an object"},
      {Request(R"("headers":{"Subject":"x"})"),
       "headers.Subject: reserved header, use the subject field"},
      {Request(R"("headers":{"content-type":"x"})"),
       "headers.content-type: reserved header, set by the MIME structure"},
      {Request(R"("headers":{"Bad Name":"x"})"), "headers.Bad Name: not a valid header name"},
      {Request(R"("headers":{"X-A":"a\nb"})"),
       "headers.X-A: must not contain line breaks or control characters"},
      {Request(R"("headers":{"X-A":1})"), "headers.X-A: must be a string"},
      {Request(R"("headers":{"X-A":"1","x-a":"2"})"), "headers.x-a: duplicate header"},
      {Request(R"("attachments":{})"), "attachments: must be an array"},
      {Request(R"("attachments":[5])"), "attachments[0]: must be an object"},
      {Request(R"("attachments":[{"content":"eA=="}])"), "attachments[0].filename: required"},
      {Request(R"("attachments":[{"filename":"a"}])"), "attachments[0].content: required"},
      {Request(R"("attachments":[{"filename":"a","content":"e!A="}])"),
       "attachments[0].content: invalid base64: invalid character at offset 1"},
      {Request(R"("attachments":[{"filename":"a","content":5}])"),
       "attachments[0].content: must be a string"},
      {Request(R"("attachments":[{"filename":"../a","content":"eA=="}])"),
       "attachments[0].filename: must not contain control characters, '/' or '\\'"},
      {Request(R"("attachments":[{"filename":"","content":"eA=="}])"),
       "attachments[0].filename: must not be empty"},
      {Request(R"("attachments":[{"filename":"a","content":"eA==","content_type":"pdf"}])"),
       "attachments[0].content_type: must be type/subtype"},
      {Request(
           R"("attachments":[{"filename":"a","content":"eA==","content_type":"multipart/mixed"}])"),
       "attachments[0].content_type: multipart and message types are not allowed"},
      {Request(R"("attachments":[{"filename":"a","content":"eA==","size":1}])"),
       "attachments[0].size: unknown field"},
      {Request(R"("content":"From: a@example.org\n\nx")"), "from: cannot be combined with content"},
      {R"({"content":"From: a@example.org\n\nx","recipients":[{"email":"r@example.com"}]})",
       "envelope_sender: required with content"},
      {R"({"content":"no header\n\nx","envelope_sender":"a@example.org","recipients":[{"email":"r@example.com"}]})",
       "content: must start with a header field"},
      {R"({"content":"From: a@example.org\nx","envelope_sender":"a@example.org","recipients":[{"email":"r@example.com"}]})",
       "content: has no empty line after the header section"},
      {absl::StrCat(
           R"({"content":"From: a@example.org\n\n)", std::string(999, 'x'),
           R"(","envelope_sender":"a@example.org","recipients":[{"email":"r@example.com"}]})"),
       "content: line 3 is longer than 998 octets"},
      {Request(R"("substitutions":"x")"), "substitutions: must be an object"},
      {Request(R"("substitutions":{"":"x"})"), "substitutions.: empty key"},
      {Request(R"("to_header":"all")"), "to_header: must be \"each\" or \"undisclosed\""},
      {Request(R"("tenant":"")"), "tenant: must not be empty"},
      {Request(R"("campaign":3)"), "campaign: must be a string"},
      {Request(R"("pool":"a\tb")"), "pool: must not contain control characters"},
      {Request(R"("tags":"x")"), "tags: must be an array"},
      {Request(R"("tags":["ok",1])"), "tags[1]: must be a string"},
  };
  for (const ErrorCase& c : cases) {
    const std::string error = ErrorOf(c.json);
    EXPECT_EQ(error.substr(0, c.error.size()), c.error) << c.json;
  }
}

TEST(InjectionRequestTest, EnforcesConfigurableLimits) {
  InjectionLimits limits;
  limits.max_recipients = 2;
  limits.max_subject_bytes = 5;
  limits.max_body_bytes = 4;
  limits.max_attachments = 1;
  limits.max_attachment_bytes = 3;
  limits.max_tags = 1;
  limits.max_substitutions = 1;
  limits.max_request_bytes = 400;
  EXPECT_EQ(
      ErrorOf(
          Request(
              "",
              R"([{"email":"a@example.com"},{"email":"b@example.com"},{"email":"c@example.com"}])"),
          limits),
      "recipients: more than 2 recipients");
  EXPECT_EQ(ErrorOf(Request(R"("subject":"123456")"), limits), "subject: longer than 5 bytes");
  EXPECT_EQ(ErrorOf(Request(R"("html":"12345")"), limits), "html: longer than 4 bytes");
  EXPECT_EQ(
      ErrorOf(
          Request(
              R"("attachments":[{"filename":"a","content":"eA=="},{"filename":"b","content":"eA=="}])"),
          limits),
      "attachments: more than 1 attachments");
  EXPECT_EQ(ErrorOf(Request(R"("attachments":[{"filename":"a","content":"eHh4eA=="}])"), limits),
            "attachments[0].content: attachments exceed 3 bytes");
  EXPECT_EQ(ErrorOf(Request(R"("tags":["a","b"])"), limits), "tags: more than 1 tags");
  EXPECT_EQ(ErrorOf(Request(R"("substitutions":{"a":"1","b":"2"})"), limits),
            "substitutions: more than 1 keys");
  EXPECT_EQ(ErrorOf(Request(absl::StrCat(R"("campaign":")", std::string(400, 'c'), "\"")), limits),
            "body: longer than 400 bytes");
}

TEST(InjectionRequestTest, ParserIsReusable) {
  InjectionRequestParser parser;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(parser.Parse(Request("")).ok());
    EXPECT_FALSE(parser.Parse("{").ok());
  }
}

TEST(InjectionRequestTest, HundredThousandRecipients) {
  std::string recipients = "[";
  for (int i = 0; i < 100'000; ++i) {
    absl::StrAppend(&recipients, i ? "," : "", R"({"email":"user)", i,
                    R"(@example.com","substitutions":{"n":")", i, R"("}})");
  }
  recipients += "]";
  absl::StatusOr<InjectionRequest> request = ParseInjectionRequest(Request("", recipients));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->recipients.size(), 100'000u);
  EXPECT_EQ(request->recipients[99'999].substitutions[0].second, "99999");
  InjectionLimits limits;
  limits.max_recipients = 99'999;
  EXPECT_EQ(ErrorOf(Request("", recipients), limits), "recipients: more than 99999 recipients");
}

}  // namespace
}  // namespace sluice::api
