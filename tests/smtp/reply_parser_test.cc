#include "smtp/reply_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::smtp {
namespace {

struct Parsed {
  std::vector<ServerReply> replies;
  std::string error;  // empty when none
};

// Feeds `input` in pieces of `step` octets (0: all at once) and collects
// every reply and the error, if any.
Parsed ParseAll(std::string_view input, size_t step, const ReplyParserLimits& limits = {}) {
  ReplyParser parser(limits);
  Parsed parsed;
  size_t pos = 0;
  while (true) {
    const size_t n = step == 0 ? input.size() : std::min(step, input.size() - pos);
    parser.Feed(input.substr(pos, n));
    pos += n;
    while (true) {
      absl::StatusOr<std::optional<ServerReply>> next = parser.Next();
      if (!next.ok()) {
        parsed.error = std::string(next.status().message());
        return parsed;
      }
      if (!next->has_value()) break;
      parsed.replies.push_back(std::move(**next));
    }
    if (pos >= input.size()) return parsed;
  }
}

TEST(ReplyParserTest, ParsesSingleLineWithEnhancedCode) {
  const Parsed parsed = ParseAll("250 2.1.0 Sender <a@b> ok\r\n", 0);
  ASSERT_EQ(parsed.error, "");
  ASSERT_EQ(parsed.replies.size(), 1u);
  const ServerReply& reply = parsed.replies[0];
  EXPECT_EQ(reply.code, 250);
  EXPECT_EQ(reply.enhanced, "2.1.0");
  EXPECT_EQ(reply.lines, std::vector<std::string>{"Sender <a@b> ok"});
  EXPECT_EQ(reply.ToString(), "250 2.1.0 Sender <a@b> ok");
  EXPECT_TRUE(reply.IsPositive());
  EXPECT_FALSE(reply.local);
}

TEST(ReplyParserTest, ParsesMultilineEhloReply) {
  const Parsed parsed = ParseAll(
      "250-mx.example.com Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 CHUNKING\r\n", 0);
  ASSERT_EQ(parsed.error, "");
  ASSERT_EQ(parsed.replies.size(), 1u);
  EXPECT_EQ(parsed.replies[0].code, 250);
  EXPECT_EQ(parsed.replies[0].enhanced, "");
  EXPECT_EQ(parsed.replies[0].lines, (std::vector<std::string>{"mx.example.com Hello", "PIPELINING",
                                                               "SIZE 1000", "CHUNKING"}));
}

TEST(ReplyParserTest, StripsEnhancedCodeFromEveryLine) {
  const Parsed parsed = ParseAll("550-5.1.1 first\r\n550-5.1.1 second\r\n550 5.1.1 third\r\n", 0);
  ASSERT_EQ(parsed.replies.size(), 1u);
  EXPECT_EQ(parsed.replies[0].enhanced, "5.1.1");
  EXPECT_EQ(parsed.replies[0].ToString(), "550 5.1.1 first second third");
}

TEST(ReplyParserTest, IgnoresEnhancedCodeOfAnotherClass) {
  const Parsed parsed = ParseAll("250 5.1.1 odd\r\n", 0);
  ASSERT_EQ(parsed.replies.size(), 1u);
  EXPECT_EQ(parsed.replies[0].enhanced, "");
  EXPECT_EQ(parsed.replies[0].lines[0], "5.1.1 odd");
}

TEST(ReplyParserTest, EnhancedCodeAloneOnTheLine) {
  const Parsed parsed = ParseAll("250 2.0.0\r\n", 0);
  ASSERT_EQ(parsed.replies.size(), 1u);
  EXPECT_EQ(parsed.replies[0].enhanced, "2.0.0");
  EXPECT_EQ(parsed.replies[0].ToString(), "250 2.0.0");
}

TEST(ReplyParserTest, NotAnEnhancedCodeWhenMalformed) {
  const Parsed parsed = ParseAll("450 4.1234.1 busy\r\n450 4.2.x busy\r\n", 0);
  ASSERT_EQ(parsed.replies.size(), 2u);
  EXPECT_EQ(parsed.replies[0].enhanced, "");
  EXPECT_EQ(parsed.replies[1].enhanced, "");
}

TEST(ReplyParserTest, AcceptsBareCodeAndEmptyText) {
  const Parsed parsed = ParseAll("250\r\n250 \r\n", 0);
  ASSERT_EQ(parsed.error, "");
  ASSERT_EQ(parsed.replies.size(), 2u);
  EXPECT_EQ(parsed.replies[0].lines, std::vector<std::string>{""});
  EXPECT_EQ(parsed.replies[1].ToString(), "250");
}

TEST(ReplyParserTest, AcceptsBareLfLineEnds) {
  const Parsed parsed = ParseAll("250-a\n250 b\n", 0);
  ASSERT_EQ(parsed.error, "");
  ASSERT_EQ(parsed.replies.size(), 1u);
  EXPECT_EQ(parsed.replies[0].lines, (std::vector<std::string>{"a", "b"}));
}

TEST(ReplyParserTest, SeparatesPipelinedReplies) {
  const Parsed parsed = ParseAll("250 2.1.0 Ok\r\n550 5.1.1 No\r\n354 Go\r\n", 0);
  ASSERT_EQ(parsed.replies.size(), 3u);
  EXPECT_EQ(parsed.replies[0].code, 250);
  EXPECT_EQ(parsed.replies[1].code, 550);
  EXPECT_EQ(parsed.replies[2].code, 354);
}

TEST(ReplyParserTest, WaitsForTheLastLine) {
  ReplyParser parser;
  parser.Feed("250-a\r\n250-b\r\n");
  absl::StatusOr<std::optional<ServerReply>> next = parser.Next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
  EXPECT_TRUE(parser.InsideReply());
  parser.Feed("250 c\r\n");
  next = parser.Next();
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->lines.size(), 3u);
  EXPECT_FALSE(parser.InsideReply());
}

TEST(ReplyParserTest, RefusesCodeChangeWithinReply) {
  const Parsed parsed = ParseAll("250-a\r\n251 b\r\n", 0);
  EXPECT_EQ(parsed.error, "reply code changed from 250 to 251 within a multiline reply");
}

TEST(ReplyParserTest, RefusesNonDigitCodes) {
  EXPECT_NE(ParseAll("2x0 Ok\r\n", 0).error, "");
  EXPECT_NE(ParseAll("hello\r\n", 0).error, "");
  EXPECT_NE(ParseAll("25\r\n", 0).error, "");
  EXPECT_NE(ParseAll("150 out of range\r\n", 0).error, "");
  EXPECT_NE(ParseAll("650 out of range\r\n", 0).error, "");
}

TEST(ReplyParserTest, RefusesBadSeparator) {
  EXPECT_EQ(ParseAll("250+Ok\r\n", 0).error, "malformed reply line \"250+Ok\"");
}

TEST(ReplyParserTest, RefusesControlCharacters) {
  EXPECT_EQ(ParseAll("250 a\rb\r\n", 0).error, "control character in reply line");
  EXPECT_EQ(ParseAll(std::string("250 a\0b\r\n", 9), 0).error, "control character in reply line");
}

TEST(ReplyParserTest, RefusesTooLongLineBeforeItEnds) {
  ReplyParserLimits limits;
  limits.max_line = 16;
  // A partial line is refused as soon as it cannot fit, without its CRLF.
  EXPECT_EQ(ParseAll("250 " + std::string(12, 'a'), 0, limits).error,
            "reply line longer than 16 octets");
  // Exactly at the limit with CRLF is fine.
  EXPECT_EQ(ParseAll("250 " + std::string(10, 'a') + "\r\n", 0, limits).error, "");
  EXPECT_EQ(ParseAll("250 " + std::string(11, 'a') + "\r\n", 0, limits).error,
            "reply line longer than 16 octets");
}

TEST(ReplyParserTest, RefusesTooManyLines) {
  ReplyParserLimits limits;
  limits.max_lines = 3;
  EXPECT_EQ(ParseAll("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", 0, limits).error,
            "reply longer than 3 lines");
  EXPECT_EQ(ParseAll("250-a\r\n250-b\r\n250 c\r\n", 0, limits).error, "");
}

TEST(ReplyParserTest, ErrorsAreSticky) {
  ReplyParser parser;
  parser.Feed("2x0 bad\r\n");
  EXPECT_FALSE(parser.Next().ok());
  parser.Feed("250 Ok\r\n");
  EXPECT_FALSE(parser.Next().ok());
}

TEST(ReplyParserTest, EverySplitGivesTheSameResult) {
  const std::vector<std::string> inputs = {
      "220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n",
      "250 2.1.0 Ok\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n354 go\n",
      "250-a\r\n251 b\r\n",
      "250 ok\r\n2x0 bad\r\n",
      "250 a\rb\r\n",
      "250 " + std::string(5000, 'a') + "\r\n",
  };
  for (const std::string& input : inputs) {
    const Parsed whole = ParseAll(input, 0);
    for (size_t step = 1; step <= 7; ++step) {
      const Parsed split = ParseAll(input, step);
      EXPECT_EQ(split.error, whole.error) << input << " step " << step;
      ASSERT_EQ(split.replies.size(), whole.replies.size()) << input << " step " << step;
      for (size_t i = 0; i < whole.replies.size(); ++i) {
        EXPECT_EQ(split.replies[i].ToString(), whole.replies[i].ToString());
        EXPECT_EQ(split.replies[i].lines, whole.replies[i].lines);
      }
    }
  }
}

TEST(ReplyParserTest, LocalReply) {
  const ServerReply reply = ServerReply::Local(451, "4.4.2", "lost connection");
  EXPECT_TRUE(reply.local);
  EXPECT_TRUE(reply.IsTransient());
  EXPECT_EQ(reply.ToString(), "451 4.4.2 lost connection");
}

}  // namespace
}  // namespace sluice::smtp
