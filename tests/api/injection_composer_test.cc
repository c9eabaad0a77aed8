#include "api/injection_composer.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "api/injection_request.h"
#include "gtest/gtest.h"

namespace sluice::api {
namespace {

const absl::Time kDate = absl::FromUnixSeconds(1'700'000'000);

InjectionRequest Parse(const std::string& json) {
  absl::StatusOr<InjectionRequest> request = ParseInjectionRequest(json);
  EXPECT_TRUE(request.ok()) << request.status();
  return request.ok() ? *std::move(request) : InjectionRequest{};
}

TEST(InjectionComposerTest, ListUnsubscribeUrlsStayWholeHoweverLong) {
  const std::string url =
      "https://lists.example.org/unsubscribe/" + std::string(90, 'x') + "?list=weekly";
  const InjectionRequest request = Parse(R"({
    "from": "s@example.org", "text": "hi",
    "headers": {"List-Unsubscribe": "<mailto:u@example.org>, <)" +
                                         url + R"(>", "List-Unsubscribe-Post":
                "List-Unsubscribe=One-Click"},
    "recipients": [{"email": "a@example.com"}]})");
  auto composer = InjectionComposer::Create(request);
  ASSERT_TRUE(composer.ok()) << composer.status();
  const ComposedMessage message = (*composer)->BuildShared("m1@h", kDate);
  // Folded at the space between the two URIs, never encoded.
  EXPECT_TRUE(absl::StrContains(
      message.bytes, "\r\nList-Unsubscribe: <mailto:u@example.org>,\r\n <" + url + ">\r\n"))
      << message.bytes;
  EXPECT_TRUE(absl::StrContains(message.bytes,
                                "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
  EXPECT_FALSE(absl::StrContains(message.bytes, "=?utf-8?"));
}

TEST(InjectionComposerTest, PerRecipientSubstitutionWithGlobalFallback) {
  const InjectionRequest request = Parse(R"({
    "from": "s@example.org", "subject": "Hi {{first}} from {{company}}",
    "text": "Dear {{first}} {{last}}", "html": "<p>{{first}} {{{sig}}}</p>",
    "headers": {"X-Id": "{{first}}-id"},
    "recipients": [{"email": "a@example.com", "name": "Ann", "substitutions": {"first": "A&B"}},
                   {"email": "b@example.com", "substitutions": {"first": "Bo", "company": "Own"}}],
    "substitutions": {"company": "Acme", "sig": "<i>x</i>"}})");
  auto composer = InjectionComposer::Create(request);
  ASSERT_TRUE(composer.ok()) << composer.status();
  EXPECT_FALSE((*composer)->shares_body());
  const ComposedMessage a = (*composer)->BuildForRecipient(0, "m1@h", kDate);
  EXPECT_TRUE(absl::StrContains(a.bytes, "\r\nTo: Ann <a@example.com>\r\n"));
  EXPECT_TRUE(absl::StrContains(a.bytes, "\r\nSubject: Hi A&B from Acme\r\n"));
  EXPECT_TRUE(absl::StrContains(a.bytes, "\r\nX-Id: A&B-id\r\n"));
  EXPECT_TRUE(absl::StrContains(a.bytes, "Dear A&B \r\n") ||
              absl::StrContains(a.bytes, "Dear A&B=20\r\n"));
  EXPECT_TRUE(absl::StrContains(a.bytes, "<p>A&amp;B <i>x</i></p>"));
  EXPECT_TRUE(absl::StrContains(a.bytes, "Message-ID: <m1@h>\r\n"));
  EXPECT_EQ(a.missing_substitutions, (std::vector<std::string>{"last"}));
  const ComposedMessage b = (*composer)->BuildForRecipient(1, "m2@h", kDate);
  EXPECT_TRUE(absl::StrContains(b.bytes, "\r\nTo: b@example.com\r\n"));
  EXPECT_TRUE(absl::StrContains(b.bytes, "\r\nSubject: Hi Bo from Own\r\n"));
  EXPECT_FALSE(b.needs_smtputf8);
}

TEST(InjectionComposerTest, SharesBodyOnlyWithoutPlaceholdersAndWhenToAllows) {
  const char* kBase = R"({"from":"s@example.org","text":"%s","recipients":[%s]%s})";
  auto shares = [&](const std::string& text, const std::string& recipients,
                    const std::string& extra) {
    char json[512];
    std::snprintf(json, sizeof(json), kBase, text.c_str(), recipients.c_str(), extra.c_str());
    InjectionRequest request = Parse(json);
    auto composer = InjectionComposer::Create(request);
    EXPECT_TRUE(composer.ok());
    return (*composer)->shares_body();
  };
  const std::string two = R"({"email":"a@example.com"},{"email":"b@example.com"})";
  const std::string one = R"({"email":"a@example.com"})";
  EXPECT_TRUE(shares("static", two, R"(,"to_header":"undisclosed")"));
  EXPECT_FALSE(shares("static", two, ""));  // each recipient named in To
  EXPECT_TRUE(shares("static", one, ""));
  EXPECT_FALSE(shares("hi {{x}}", two, R"(,"to_header":"undisclosed")"));
  EXPECT_FALSE(shares("hi {{x}}", one, ""));
}

TEST(InjectionComposerTest, SharedBodyNamesTheOnlyRecipientOrNobody) {
  InjectionRequest request =
      Parse(R"({"from":"s@example.org","text":"t","to_header":"undisclosed",)"
            R"("recipients":[{"email":"a@example.com"},{"email":"jö@example.com"}]})");
  auto composer = InjectionComposer::Create(request);
  ASSERT_TRUE(composer.ok());
  const ComposedMessage shared = (*composer)->BuildShared("id@h", kDate);
  EXPECT_TRUE(absl::StrContains(shared.bytes, "\r\nTo: undisclosed-recipients:;\r\n"));
  EXPECT_TRUE(shared.needs_smtputf8);  // one envelope recipient has a UTF-8 local part

  InjectionRequest single =
      Parse(R"({"from":"s@example.org","text":"t","recipients":[{"email":"a@example.com"}]})");
  auto single_composer = InjectionComposer::Create(single);
  ASSERT_TRUE(single_composer.ok());
  EXPECT_TRUE(absl::StrContains((*single_composer)->BuildShared("id@h", kDate).bytes,
                                "\r\nTo: a@example.com\r\n"));
}

TEST(InjectionComposerTest, RawContentIsSharedAsIs) {
  InjectionRequest request = Parse(
      R"({"content":"From: a@example.org\nSubject: {{x}}\n\nbody","envelope_sender":"a@example.org",)"
      R"("recipients":[{"email":"r@example.com"},{"email":"q@example.com"}]})");
  auto composer = InjectionComposer::Create(request);
  ASSERT_TRUE(composer.ok());
  EXPECT_TRUE((*composer)->shares_body());
  EXPECT_EQ((*composer)->BuildShared("ignored", kDate).bytes,
            "From: a@example.org\r\nSubject: {{x}}\r\n\r\nbody\r\n");
  EXPECT_EQ((*composer)->BuildForRecipient(1, "ignored", kDate).bytes,
            "From: a@example.org\r\nSubject: {{x}}\r\n\r\nbody\r\n");
}

TEST(InjectionComposerTest, TemplateErrorsNameTheField) {
  const std::pair<std::string, std::string> cases[] = {
      {R"("subject":"Hi {{name")", "subject: unterminated placeholder at offset 3"},
      {R"("html":"<p>{{ }}</p>")", "html: invalid placeholder name at offset 3"},
      {R"("headers":{"X-A":"{{a b}}"})", "headers.X-A: invalid placeholder name at offset 0"},
  };
  for (const auto& [field, error] : cases) {
    InjectionRequest request = Parse(R"({"from":"s@example.org","text":"t",)" + field +
                                     R"(,"recipients":[{"email":"a@example.com"}]})");
    auto composer = InjectionComposer::Create(request);
    ASSERT_FALSE(composer.ok()) << field;
    EXPECT_EQ(composer.status().message(), error);
  }
  InjectionRequest text =
      Parse(R"({"from":"s@example.org","text":"{{","recipients":[{"email":"a@example.com"}]})");
  EXPECT_EQ(InjectionComposer::Create(text).status().message(),
            "text: unterminated placeholder at offset 0");
}

TEST(InjectionComposerTest, ValuesWithLineBreaksCannotInjectHeaders) {
  InjectionRequest request = Parse(
      R"({"from":"s@example.org","subject":"{{s}}","text":"t",)"
      R"("recipients":[{"email":"a@example.com","substitutions":{"s":"x\r\nBcc: evil@example.com"}}]})");
  auto composer = InjectionComposer::Create(request);
  ASSERT_TRUE(composer.ok());
  const std::string bytes = (*composer)->BuildForRecipient(0, "id@h", kDate).bytes;
  EXPECT_FALSE(absl::StrContains(bytes, "\r\nBcc:"));
  EXPECT_TRUE(absl::StrContains(bytes, "Subject: x  Bcc: evil@example.com\r\n") ||
              absl::StrContains(bytes, "Subject: =?utf-8?"));
}

}  // namespace
}  // namespace sluice::api
