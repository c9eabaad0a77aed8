#include "queue/spool_keys.h"

#include <string>

#include "common/fake_clock.h"
#include "gtest/gtest.h"
#include "queue/spool_record.pb.h"

namespace sluice::queue {
namespace {

TEST(SpoolKeysTest, IdKeyRoundTripsAndSortsLikeIds) {
  common::FakeClock clock;
  common::MessageIdGenerator ids(&clock, 3, 42);
  const common::MessageId a = ids.Next();
  clock.Advance(absl::Milliseconds(1));
  const common::MessageId b = ids.Next();
  ASSERT_EQ(IdKey(a).size(), 16u);
  EXPECT_EQ(*ParseIdKey(IdKey(a)), a);
  EXPECT_LT(IdKey(a), IdKey(b));
  EXPECT_FALSE(ParseIdKey("short").ok());
}

TEST(SpoolKeysTest, ScheduleKeysOrderByDueTimeThenId) {
  const common::MessageId low(1, 2);
  const common::MessageId high(5, 0);
  // Due time dominates: a later id due earlier sorts first.
  EXPECT_LT(ScheduleKey(1000, high), ScheduleKey(1001, low));
  EXPECT_LT(ScheduleKey(1000, low), ScheduleKey(1000, high));
  // Big-endian: 256 sorts after 255 bytewise.
  EXPECT_LT(ScheduleKey(255, low), ScheduleKey(256, low));
}

TEST(SpoolKeysTest, ScheduleKeyRoundTripsAndClampsNegativeTimes) {
  const common::MessageId id(0x0123456789abcdefULL, 0xfedcba9876543210ULL);
  absl::StatusOr<ScheduleKeyParts> parts = ParseScheduleKey(ScheduleKey(1'700'000'000'123, id));
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->due_unix_ms, 1'700'000'000'123);
  EXPECT_EQ(parts->id, id);
  EXPECT_EQ(ParseScheduleKey(ScheduleKey(-5, id))->due_unix_ms, 0);
  EXPECT_FALSE(ParseScheduleKey(std::string(23, 'x')).ok());
}

TEST(SpoolRecordTest, EnvelopeRoundTripsEveryField) {
  proto::Envelope envelope;
  envelope.set_id(std::string(16, '\1'));
  envelope.set_body_id(std::string(16, '\2'));
  envelope.set_sender("bounce@example.org");
  proto::Recipient* recipient = envelope.add_recipients();
  recipient->set_address("user@example.com");
  recipient->set_state(proto::DEFERRED);
  recipient->set_attempts(3);
  recipient->set_last_reply("451 4.7.1 greylisted");
  recipient->set_notify(proto::NOTIFY_FAILURE | proto::NOTIFY_DELAY);
  recipient->set_orcpt("rfc822;user@example.com");
  envelope.set_created_unix_ms(1);
  envelope.set_next_due_unix_ms(2);
  envelope.set_attempts(3);
  envelope.set_last_reply("451");
  envelope.set_size(2048);
  envelope.set_ret(proto::RET_HDRS);
  envelope.set_envid("env-1");
  envelope.set_tenant("acme");
  envelope.set_campaign("spring");
  envelope.set_pool("pool-a");
  envelope.set_queue("bounces");
  envelope.set_domain("example.com");
  envelope.set_site("mx.example.com");

  proto::Envelope decoded;
  ASSERT_TRUE(decoded.ParseFromString(envelope.SerializeAsString()));
  EXPECT_EQ(decoded.SerializeAsString(), envelope.SerializeAsString());
  EXPECT_EQ(decoded.recipients(0).orcpt(), "rfc822;user@example.com");
  EXPECT_EQ(decoded.tenant(), "acme");
}

TEST(SpoolRecordTest, RecordFromANewerVersionStillDecodesAndKeepsWhatItDoesNotKnow) {
  proto::Envelope envelope;
  envelope.set_sender("a@example.org");
  std::string bytes = envelope.SerializeAsString();
  // Field 99, varint 7: what a later sluice might add.
  bytes += std::string("\x98\x06\x07", 3);
  proto::Envelope decoded;
  ASSERT_TRUE(decoded.ParseFromString(bytes));
  EXPECT_EQ(decoded.sender(), "a@example.org");
  // Rewriting the record (an attempt by this version) does not lose it.
  EXPECT_NE(decoded.SerializeAsString().find(std::string("\x98\x06\x07", 3)), std::string::npos);
}

}  // namespace
}  // namespace sluice::queue
