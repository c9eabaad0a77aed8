// gRPC's wire pieces: message framing in any split, limits, timeouts,
// grpc-message's escaping and gzip, including a zip bomb.
#include "grpc/grpc_wire.h"

#include <string>
#include <vector>

#include "grpc/gzip.h"
#include "grpc/message_reader.h"
#include "gtest/gtest.h"

namespace sluice::grpc {
namespace {

TEST(GrpcWireTest, MessagesComeApartInAnySplit) {
  std::string stream = EncodeMessage("first") + EncodeMessage("", false) +
                       EncodeMessage(std::string(70'000, 'x'), true);
  ASSERT_EQ(stream.substr(0, 5), std::string("\0\0\0\0\5", 5));
  for (size_t step : {size_t{1}, size_t{3}, size_t{5}, size_t{4096}, stream.size()}) {
    MessageReader reader(1 << 20);
    std::vector<Message> messages;
    for (size_t at = 0; at < stream.size(); at += step) {
      ASSERT_TRUE(reader.Feed(std::string_view(stream).substr(at, step), &messages).ok());
    }
    EXPECT_TRUE(reader.Finish().ok());
    ASSERT_EQ(messages.size(), 3u) << step;
    EXPECT_EQ(messages[0].payload, "first");
    EXPECT_FALSE(messages[0].compressed);
    EXPECT_EQ(messages[1].payload, "");
    EXPECT_EQ(messages[2].payload.size(), 70'000u);
    EXPECT_TRUE(messages[2].compressed);
  }
}

TEST(GrpcWireTest, AnOversizedMessageIsRefusedAtItsHeader) {
  MessageReader reader(1000);
  std::vector<Message> messages;
  const std::string header = EncodeMessage(std::string(1001, 'x')).substr(0, 5);
  const absl::Status status = reader.Feed(header, &messages);
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_EQ(reader.buffered(), 5u);  // nothing of its body was buffered
  EXPECT_TRUE(absl::IsResourceExhausted(reader.Feed("more", &messages)));
  EXPECT_TRUE(messages.empty());
}

TEST(GrpcWireTest, BadFlagsAndACutMessageAreErrors) {
  MessageReader flags(1000);
  std::vector<Message> messages;
  EXPECT_TRUE(absl::IsInternal(flags.Feed(std::string("\2\0\0\0\0", 5), &messages)));
  MessageReader cut(1000);
  ASSERT_TRUE(cut.Feed(EncodeMessage("hello").substr(0, 7), &messages).ok());
  EXPECT_TRUE(messages.empty());
  EXPECT_TRUE(absl::IsInternal(cut.Finish()));
}

TEST(GrpcWireTest, Timeouts) {
  EXPECT_EQ(ParseTimeout("100m"), absl::Milliseconds(100));
  EXPECT_EQ(ParseTimeout("1H"), absl::Hours(1));
  EXPECT_EQ(ParseTimeout("99999999n"), absl::Nanoseconds(99'999'999));
  EXPECT_EQ(ParseTimeout("5S"), absl::Seconds(5));
  EXPECT_EQ(ParseTimeout("2M"), absl::Minutes(2));
  EXPECT_EQ(ParseTimeout("7u"), absl::Microseconds(7));
  for (const char* bad : {"", "m", "100", "123456789S", "1x", "-1S", "1.5S", " 1S"}) {
    EXPECT_FALSE(ParseTimeout(bad).has_value()) << bad;
  }
  EXPECT_EQ(FormatTimeout(absl::Milliseconds(1500)), "1500000u");
  EXPECT_EQ(FormatTimeout(absl::Hours(30)), "108000S");
  EXPECT_EQ(ParseTimeout(FormatTimeout(absl::Seconds(3))), absl::Seconds(3));
}

TEST(GrpcWireTest, MessagesArePercentEncoded) {
  EXPECT_EQ(PercentEncode("recipients[0].email: not an address"),
            "recipients[0].email: not an address");
  EXPECT_EQ(PercentEncode("100% caf\xc3\xa9\n"), "100%25 caf%C3%A9%0A");
  EXPECT_EQ(PercentDecode("100%25 caf%C3%A9%0A"), "100% caf\xc3\xa9\n");
  EXPECT_EQ(PercentDecode("bad %G1 and %4"), "bad %G1 and %4");
}

TEST(GrpcWireTest, GzipRoundTripsAndStopsAZipBomb) {
  const std::string text(100'000, 'a');
  const std::string packed = GzipCompress(text);
  EXPECT_LT(packed.size(), 1000u);
  absl::StatusOr<std::string> unpacked = GzipDecompress(packed, 1 << 20);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_EQ(*unpacked, text);
  EXPECT_TRUE(absl::IsResourceExhausted(GzipDecompress(packed, 50'000).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(GzipDecompress("not gzip at all", 1000).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      GzipDecompress(packed.substr(0, packed.size() / 2), 1 << 20).status()));
  absl::StatusOr<std::string> empty = GzipDecompress(GzipCompress(""), 10);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

}  // namespace
}  // namespace sluice::grpc
