#include "common/message_id.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/fake_clock.h"

namespace sluice::common {
namespace {

TEST(MessageIdTest, PacksTimeNodeShardAndCounterInThatOrder) {
  const MessageId id = MessageId::FromParts(1'700'000'000'123, 0xBEEF, 7, 42);
  EXPECT_EQ(id.hi(), (uint64_t{1'700'000'000'123} << 16) | 0xBEEF);
  EXPECT_EQ(id.lo(), (uint64_t{7} << 56) | 42);
  EXPECT_EQ(id.unix_millis(), 1'700'000'000'123u);
  EXPECT_EQ(id.node(), 0xBEEF);
  EXPECT_EQ(id.shard(), 7);
  EXPECT_EQ(id.counter(), 42u);
  EXPECT_EQ(id.Timestamp(), absl::FromUnixMillis(1'700'000'000'123));
}

TEST(MessageIdTest, EncodesExtremesAsCrockfordBase32) {
  EXPECT_EQ(MessageId(0, 0).ToString(), "00000000000000000000000000");
  EXPECT_EQ(MessageId(0, 31).ToString(), "0000000000000000000000000Z");
  EXPECT_EQ(MessageId(~uint64_t{0}, ~uint64_t{0}).ToString(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
}

TEST(MessageIdTest, TextAndBytesSortLikeIds) {
  absl::BitGen gen;
  std::vector<MessageId> ids;
  for (int i = 0; i < 2000; ++i) {
    // Small ranges make equal high halves (and shared prefixes) common.
    ids.emplace_back(absl::Uniform<uint64_t>(gen, 0, 4) << absl::Uniform(gen, 0, 64),
                     absl::Uniform<uint64_t>(gen));
  }
  std::vector<MessageId> by_text = ids;
  std::vector<MessageId> by_bytes = ids;
  std::sort(ids.begin(), ids.end());
  std::sort(by_text.begin(), by_text.end(),
            [](const MessageId& a, const MessageId& b) { return a.ToString() < b.ToString(); });
  std::sort(by_bytes.begin(), by_bytes.end(),
            [](const MessageId& a, const MessageId& b) { return a.ToBytes() < b.ToBytes(); });
  EXPECT_EQ(by_text, ids);
  EXPECT_EQ(by_bytes, ids);
}

TEST(MessageIdTest, RoundTripsThroughTextAndBytes) {
  absl::BitGen gen;
  for (int i = 0; i < 1000; ++i) {
    const MessageId id(absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
    const std::string text = id.ToString();
    ASSERT_EQ(text.size(), 26u);
    EXPECT_EQ(MessageId::Parse(text).value(), id) << text;
    const std::array<uint8_t, 16> bytes = id.ToBytes();
    EXPECT_EQ(MessageId::FromBytes(bytes).value(), id);
  }
}

TEST(MessageIdTest, BytesAreBigEndian) {
  const std::array<uint8_t, 16> bytes = MessageId(0x0102030405060708, 0x090A0B0C0D0E0F10).ToBytes();
  for (int i = 0; i < 16; ++i) EXPECT_EQ(bytes[i], i + 1);
}

TEST(MessageIdTest, ParseIgnoresLetterCase) {
  const MessageId id(0x0123456789ABCDEF, 0xFEDCBA9876543210);
  EXPECT_EQ(MessageId::Parse(absl::AsciiStrToLower(id.ToString())).value(), id);
}

TEST(MessageIdTest, ParseRefusesWrongLengthWithClearMessage) {
  const absl::StatusOr<MessageId> id = MessageId::Parse("0123");
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "message id '0123' must be 26 characters, got 4");
}

TEST(MessageIdTest, ParseRefusesCharactersOutsideTheAlphabet) {
  for (const char bad : {'U', 'I', 'L', 'O', 'u', '-', ' ', '\0'}) {
    std::string text(26, '0');
    text[10] = bad;
    const absl::StatusOr<MessageId> id = MessageId::Parse(text);
    ASSERT_FALSE(id.ok()) << bad;
    EXPECT_TRUE(absl::StrContains(id.status().message(), "invalid character at position 10"))
        << id.status();
  }
}

TEST(MessageIdTest, ParseRefusesValuesAbove128Bits) {
  const absl::StatusOr<MessageId> id = MessageId::Parse("8ZZZZZZZZZZZZZZZZZZZZZZZZZ");
  ASSERT_FALSE(id.ok());
  EXPECT_TRUE(absl::StrContains(id.status().message(), "out of range")) << id.status();
}

TEST(MessageIdTest, FromBytesRefusesWrongSize) {
  const std::vector<uint8_t> fifteen(15, 0);
  const absl::StatusOr<MessageId> id = MessageId::FromBytes(fifteen);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().message(), "message id must be 16 bytes, got 15");
}

TEST(MessageIdTest, HashesForAbseilContainers) {
  absl::flat_hash_set<MessageId> set;
  set.insert(MessageId(1, 2));
  set.insert(MessageId(1, 2));
  set.insert(MessageId(2, 1));
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains(MessageId(2, 1)));
}

TEST(MessageIdGeneratorTest, StrictlyIncreasesWithinOneMillisecond) {
  FakeClock clock(absl::FromUnixMillis(1'700'000'000'000));
  MessageIdGenerator generator(&clock, 3, 0x1234);
  MessageId previous = generator.Next();
  for (int i = 0; i < 10'000; ++i) {
    const MessageId id = generator.Next();
    ASSERT_LT(previous, id);
    ASSERT_LT(previous.ToString(), id.ToString());
    previous = id;
  }
  EXPECT_EQ(previous.Timestamp(), absl::FromUnixMillis(1'700'000'000'000));
  EXPECT_EQ(previous.counter(), 10'000u);
  EXPECT_EQ(previous.shard(), 3);
  EXPECT_EQ(previous.node(), 0x1234);
}

TEST(MessageIdGeneratorTest, StrictlyIncreasesWhenTheClockGoesBackwards) {
  FakeClock clock(absl::FromUnixMillis(1'700'000'000'000));
  MessageIdGenerator generator(&clock, 0, 1);
  const MessageId before = generator.Next();
  clock.Advance(-absl::Seconds(10));
  const MessageId after_step_back = generator.Next();
  EXPECT_LT(before, after_step_back);
  EXPECT_EQ(after_step_back.Timestamp(), before.Timestamp());

  // Once the clock passes the last millisecond used, time leads again and the
  // counter starts over.
  clock.Advance(absl::Seconds(10) + absl::Milliseconds(1));
  const MessageId later = generator.Next();
  EXPECT_LT(after_step_back, later);
  EXPECT_EQ(later.Timestamp(), absl::FromUnixMillis(1'700'000'000'001));
  EXPECT_EQ(later.counter(), 0u);
}

TEST(MessageIdGeneratorTest, ProcessNodeIsStableWithinAProcess) {
  EXPECT_EQ(MessageIdGenerator::ProcessNode(), MessageIdGenerator::ProcessNode());
}

}  // namespace
}  // namespace sluice::common
