#include "smtp/data_reader.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::smtp {
namespace {

using namespace std::literals;
using Error = DataReader::Error;
using Framing = DataReader::Framing;

struct Result {
  std::string body;
  Error error = Error::kNone;
  bool done = false;
  size_t consumed = 0;
};

// Feeds `input` in pieces of `step` octets (0: all at once).
Result Read(std::string_view input, size_t step = 0, DataReader::Limits limits = {}) {
  DataReader reader;
  Result result;
  reader.Start(Framing::kDotStuffed, limits, &result.body);
  size_t pos = 0;
  while (pos < input.size() && !reader.done()) {
    const size_t take = step == 0 ? input.size() - pos : std::min(step, input.size() - pos);
    const size_t used = reader.Consume(input.substr(pos, take));
    pos += used;
    if (used < take) break;
  }
  result.error = reader.error();
  result.done = reader.done();
  result.consumed = pos;
  return result;
}

TEST(DataReaderTest, EndsAtCrlfDotCrlfAndUnstuffs) {
  const std::string input = "Subject: x\r\n\r\n..leading dot\r\n.\r\nMAIL FROM:<next@x>\r\n";
  Result result = Read(input);
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.error, Error::kNone);
  EXPECT_EQ(result.body, "Subject: x\r\n\r\n.leading dot\r\n");
  EXPECT_EQ(input.substr(result.consumed), "MAIL FROM:<next@x>\r\n");
}

TEST(DataReaderTest, EmptyBodyEndsAtFirstLine) {
  Result result = Read(".\r\nrest");
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.body, "");
  EXPECT_EQ(result.consumed, 3u);
}

TEST(DataReaderTest, DotLinesThatAreNotTheEnd) {
  Result result = Read("..\r\n.x\r\n. \r\n...\r\n.\r\n");
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.error, Error::kNone);
  EXPECT_EQ(result.body, ".\r\nx\r\n \r\n..\r\n");
}

TEST(DataReaderTest, EverySplitGivesTheSameResult) {
  const std::string input = "a\r\n..b\r\n\r\n.c\r\n.\r\ntrailing";
  const Result whole = Read(input);
  for (size_t step = 1; step <= input.size(); ++step) {
    const Result split = Read(input, step);
    EXPECT_EQ(split.body, whole.body) << step;
    EXPECT_EQ(split.consumed, whole.consumed) << step;
    EXPECT_EQ(split.done, whole.done) << step;
  }
}

// The published SMTP smuggling end-of-data variants: none may end the data.
TEST(DataReaderTest, SmugglingVariantsDoNotEndData) {
  struct Case {
    std::string_view variant;
    Error error;
  };
  const Case cases[] = {
      {"\n.\n"sv, Error::kBareLf},    {"\n.\r\n"sv, Error::kBareLf},
      {"\r.\r"sv, Error::kBareCr},    {"\r\n.\r"sv, Error::kBareCr},
      {"\r.\r\n"sv, Error::kBareCr},  {"\r\n\0.\r\n"sv, Error::kNul},
      {"\r\n.\0\r\n"sv, Error::kNul}, {"\n.\n\r\n"sv, Error::kBareLf},
      {"\r\n.\n"sv, Error::kBareLf},  {"\r\r\n.\r\r\n"sv, Error::kBareCr},
  };
  for (const Case& c : cases) {
    const std::string smuggled = "MAIL FROM:<evil@example.com>\r\nRCPT TO:<v@example.net>\r\n";
    const std::string input = "body" + std::string(c.variant) + smuggled;
    for (bool normalize : {false, true}) {
      DataReader::Limits limits;
      limits.normalize_bare_lf = normalize;
      const Result result = Read(input, 0, limits);
      EXPECT_FALSE(result.done) << testing::PrintToString(std::string(c.variant));
      EXPECT_EQ(result.consumed, input.size());
      if (!normalize || c.error != Error::kBareLf) {
        EXPECT_EQ(result.error, c.error) << testing::PrintToString(std::string(c.variant));
      }
    }
  }
}

TEST(DataReaderTest, RealEndAfterAnErrorStillEnds) {
  const Result result = Read("a\nb\r\n.\r\nnext");
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.error, Error::kBareLf);
  EXPECT_EQ(result.consumed, 8u);
}

TEST(DataReaderTest, NormalizesBareLfButNeverEndsOnIt) {
  DataReader::Limits limits;
  limits.normalize_bare_lf = true;
  const Result result = Read("a\nb\n.\r\n..c\n.\n\r\n.\r\n", 0, limits);
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.error, Error::kNone);
  // ".\r\n" after a bare LF is content (unstuffed to an empty line).
  EXPECT_EQ(result.body, "a\r\nb\r\n\r\n.c\r\n\r\n\r\n");
}

TEST(DataReaderTest, LineLengthCountsOctetsWithCrlf) {
  DataReader::Limits limits;
  limits.max_line_length = 10;
  EXPECT_EQ(Read(std::string(8, 'x') + "\r\n.\r\n", 0, limits).error, Error::kNone);
  EXPECT_EQ(Read(std::string(9, 'x') + "\r\n.\r\n", 0, limits).error, Error::kLineTooLong);
  EXPECT_EQ(Read("." + std::string(8, 'x') + "\r\n.\r\n", 0, limits).error, Error::kLineTooLong);
  const Result split = Read(std::string(20, 'x') + "\r\n.\r\n", 1, limits);
  EXPECT_EQ(split.error, Error::kLineTooLong);
  EXPECT_TRUE(split.done);
}

TEST(DataReaderTest, StoredOctetsPastALimitDoNotDependOnTheSplit) {
  // Found by the fuzzer: the same input in one piece and in three-octet
  // pieces stored different prefixes before the line limit tripped.
  DataReader::Limits limits;
  limits.max_line_length = 16;
  limits.max_size = 64;
  const std::string input = "." + std::string(23, 'x') + "\r\n..\r\nyy\r\n.\r\n";
  const Result whole = Read(input, 0, limits);
  const Result split = Read(input, 3, limits);
  EXPECT_EQ(whole.error, Error::kLineTooLong);
  EXPECT_EQ(split.error, Error::kLineTooLong);
  EXPECT_EQ(whole.body, split.body);
}

TEST(DataReaderTest, SizeLimitStopsStoringButReadsToTheEnd) {
  DataReader::Limits limits;
  limits.max_size = 10;
  const Result result = Read("0123456789\r\nmore\r\n.\r\n", 3, limits);
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.error, Error::kTooBig);
  EXPECT_LE(result.body.size(), 10u);
  EXPECT_EQ(Read("01234567\r\n.\r\n", 0, limits).error, Error::kNone);
}

TEST(DataReaderTest, BodyMayStartWithACallerHeader) {
  DataReader reader;
  std::string body = "Received: x\r\n";
  DataReader::Limits limits;
  limits.max_size = 5;
  reader.Start(Framing::kDotStuffed, limits, &body);
  reader.Consume("abc\r\n.\r\n");
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(reader.error(), Error::kNone);
  EXPECT_EQ(body, "Received: x\r\nabc\r\n");
  EXPECT_EQ(reader.size(), 5u);
}

TEST(DataReaderTest, ChunkedFramingHasNoDotsAndNoEnd) {
  DataReader reader;
  std::string body;
  reader.Start(Framing::kChunked, {}, &body);
  EXPECT_EQ(reader.Consume("a\r\n.\r\n..b\r"), 10u);
  EXPECT_EQ(reader.Consume("\nlast"), 5u);
  EXPECT_FALSE(reader.done());
  reader.FinishChunks();
  EXPECT_EQ(reader.error(), Error::kNone);
  EXPECT_EQ(body, "a\r\n.\r\n..b\r\nlast\r\n");
}

TEST(DataReaderTest, ChunkedFramingRefusesBareLineEnds) {
  for (std::string_view input : {"a\nb"sv, "a\rb"sv, "a\r"sv, "a\0b"sv}) {
    DataReader reader;
    std::string body;
    reader.Start(Framing::kChunked, {}, &body);
    reader.Consume(input);
    reader.FinishChunks();
    EXPECT_NE(reader.error(), Error::kNone) << testing::PrintToString(std::string(input));
  }
}

}  // namespace
}  // namespace sluice::smtp
