#include "mime/message_builder.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace sluice::mime {
namespace {

MessageHeaders Headers() {
  MessageHeaders headers;
  headers.date = absl::FromUnixSeconds(1'700'000'000);
  headers.from = {"Sender", "from", "example.org"};
  headers.to = {{"", "to", "example.com"}};
  headers.subject = "Hello";
  headers.message_id = "id1@example.org";
  return headers;
}

void ExpectCrlfOnly(const std::string& message) {
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\n') {
      ASSERT_GT(i, 0u);
      EXPECT_EQ(message[i - 1], '\r') << "bare LF at " << i;
    }
    if (message[i] == '\r') {
      ASSERT_LT(i + 1, message.size());
      EXPECT_EQ(message[i + 1], '\n') << "bare CR at " << i;
    }
  }
}

std::string Boundary(const std::string& message, const std::string& type) {
  const size_t at = message.find("Content-Type: " + type + "; boundary=\"");
  EXPECT_NE(at, std::string::npos) << type;
  const size_t start = message.find('"', at) + 1;
  return message.substr(start, message.find('"', start) - start);
}

TEST(MessageBuilderTest, FormatsDate) {
  EXPECT_EQ(FormatDate(absl::FromUnixSeconds(1'700'000'000)), "Tue, 14 Nov 2023 22:13:20 +0000");
}

TEST(MessageBuilderTest, PlainTextOnlyIs7bitSinglePart) {
  MessageBuilder builder({});
  const std::string message = builder.Build(Headers(), "Hi there\nBye", std::nullopt);
  EXPECT_EQ(message,
            "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            "From: Sender <from@example.org>\r\n"
            "To: to@example.com\r\n"
            "Subject: Hello\r\n"
            "Message-ID: <id1@example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 7bit\r\n"
            "\r\n"
            "Hi there\r\nBye\r\n");
}

TEST(MessageBuilderTest, NonAsciiTextIsQuotedPrintable) {
  MessageBuilder builder({});
  const std::string message = builder.Build(Headers(), "Grüße", std::nullopt);
  EXPECT_TRUE(absl::StrContains(message, "Content-Transfer-Encoding: quoted-printable\r\n"));
  EXPECT_TRUE(absl::EndsWith(message, "\r\n\r\nGr=C3=BC=C3=9Fe\r\n"));
}

TEST(MessageBuilderTest, TextAndHtmlMakeAlternative) {
  MessageBuilder builder({});
  const std::string message = builder.Build(Headers(), "text", "<p>html</p>");
  ExpectCrlfOnly(message);
  const std::string boundary = Boundary(message, "multipart/alternative");
  const size_t text = message.find("--" + boundary + "\r\nContent-Type: text/plain");
  const size_t html = message.find("--" + boundary + "\r\nContent-Type: text/html");
  const size_t end = message.find("--" + boundary + "--\r\n");
  EXPECT_NE(text, std::string::npos);
  EXPECT_LT(text, html);
  EXPECT_LT(html, end);
  EXPECT_FALSE(absl::StrContains(message, "multipart/mixed"));
}

TEST(MessageBuilderTest, AttachmentsMakeMixedWithAlternativeInside) {
  const std::string pdf(1000, '\xAB');
  MessageBuilder builder({{"report.pdf", "application/pdf", pdf}});
  const std::string message = builder.Build(Headers(), "text", "<p>html</p>");
  ExpectCrlfOnly(message);
  const std::string mixed = Boundary(message, "multipart/mixed");
  const std::string alternative = Boundary(message, "multipart/alternative");
  EXPECT_NE(mixed, alternative);
  const size_t first = message.find("--" + mixed + "\r\nContent-Type: multipart/alternative");
  const size_t alt_end = message.find("--" + alternative + "--\r\n");
  const size_t attachment = message.find("--" + mixed + "\r\nContent-Type: application/pdf;");
  const size_t mixed_end = message.find("--" + mixed + "--\r\n");
  ASSERT_NE(first, std::string::npos);
  EXPECT_LT(first, alt_end);
  EXPECT_LT(alt_end, attachment);
  EXPECT_LT(attachment, mixed_end);
  EXPECT_TRUE(
      absl::StrContains(message, "Content-Disposition: attachment; filename=\"report.pdf\""));
  EXPECT_TRUE(absl::StrContains(message, "Content-Transfer-Encoding: base64\r\n"));
  // base64 lines of the attachment: 76 characters but the last.
  const size_t body = message.find("\r\n\r\n", attachment) + 4;
  const std::string encoded = message.substr(body, message.find("\r\n\r\n--", body) - body);
  std::vector<std::string> lines = absl::StrSplit(encoded, "\r\n");
  for (size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].size(), 76u);
  EXPECT_LE(lines.back().size(), 76u);
}

TEST(MessageBuilderTest, BoundariesAreUniqueAndAvoidTheContent) {
  MessageBuilder builder({{"a.bin", "application/octet-stream", "x"}});
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string message = builder.Build(Headers(), "t", "h");
    EXPECT_TRUE(seen.insert(Boundary(message, "multipart/mixed")).second);
    EXPECT_TRUE(seen.insert(Boundary(message, "multipart/alternative")).second);
  }
  // A 7bit body that contains the next boundaries forces fresh ones.
  MessageBuilder tricky({{"a.bin", "application/octet-stream", "x"}});
  // The prefix is random per builder, so take it from `tricky` itself.
  std::string text;
  const std::string next = tricky.NextBoundary();  // consumes counter 0
  const std::string prefix = next.substr(0, next.size() - 2);
  for (int i = 1; i < 6; ++i) text += prefix + std::to_string(i) + ".\n";
  const std::string message = tricky.Build(Headers(), text, "h");
  const std::string mixed = Boundary(message, "multipart/mixed");
  const std::string alternative = Boundary(message, "multipart/alternative");
  EXPECT_FALSE(absl::StrContains(text, mixed));
  EXPECT_FALSE(absl::StrContains(text, alternative));
  EXPECT_TRUE(absl::StartsWith(mixed, "=_sl"));
}

TEST(MessageBuilderTest, NonAsciiFileNameUsesRfc2231) {
  EXPECT_EQ(ParameterTokens("filename", "a.pdf"), (std::vector<std::string>{"filename=\"a.pdf\""}));
  EXPECT_EQ(ParameterTokens("filename", "a \"b\".pdf"),
            (std::vector<std::string>{"filename=\"a \\\"b\\\".pdf\""}));
  EXPECT_EQ(ParameterTokens("filename", "Grüße.pdf"),
            (std::vector<std::string>{"filename*=utf-8''Gr%C3%BC%C3%9Fe.pdf"}));
  std::string long_name;
  for (int i = 0; i < 30; ++i) long_name += "日本";
  const std::vector<std::string> tokens = ParameterTokens("filename", long_name);
  ASSERT_GT(tokens.size(), 2u);
  EXPECT_TRUE(absl::StartsWith(tokens[0], "filename*0*=utf-8''%E6%97%A5"));
  EXPECT_TRUE(absl::StartsWith(tokens[1], "filename*1*=%E"));
  for (size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_LE(tokens[i].size(), 73u);
    EXPECT_EQ(absl::EndsWith(tokens[i], ";"), i + 1 < tokens.size());
  }
}

TEST(MessageBuilderTest, UndisclosedRecipientsWhenNoTo) {
  MessageHeaders headers = Headers();
  headers.to.clear();
  MessageBuilder builder({});
  EXPECT_TRUE(absl::StrContains(builder.Build(headers, "t", std::nullopt),
                                "\r\nTo: undisclosed-recipients:;\r\n"));
}

TEST(MessageBuilderTest, ExtraHeadersAndReplyTo) {
  MessageHeaders headers = Headers();
  headers.reply_to = {{"", "help", "example.org"}};
  headers.extra = {{"X-Campaign", "spring"}, {"X-Note", "Frühling"}};
  MessageBuilder builder({});
  const std::string message = builder.Build(headers, "t", std::nullopt);
  EXPECT_TRUE(absl::StrContains(message, "\r\nReply-To: help@example.org\r\n"));
  EXPECT_TRUE(absl::StrContains(message, "\r\nX-Campaign: spring\r\n"));
  EXPECT_TRUE(absl::StrContains(message, "\r\nX-Note: =?utf-8?B?RnLDvGhsaW5n?=\r\n"));
}

}  // namespace
}  // namespace sluice::mime
