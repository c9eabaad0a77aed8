#include "engine/attempt_recorder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "queue/spool_keys.h"
#include "tests/engine/delivery_fakes.h"

namespace sluice::engine {
namespace {

using testing::FakeSpool;
using testing::RunUntil;

using testing::kLater;
using testing::kOk;
const smtp::ServerReply kNoUser = smtp::ServerReply::Local(550, "5.1.1", "no such user");

class AttemptRecorderTest : public testing::DeliveryTest {
 protected:
  AttemptRecorderTest() {
    recorder_ = std::make_unique<AttemptRecorder>(reactor_->clock(), 0, shared_, ops_);
  }

  // A job attempting every recipient of a stored envelope.
  DeliveryJob Job(const common::MessageId& id) {
    DeliveryJob job;
    job.envelope = *spool_.Find(id);
    job.attempted = UnfinishedRecipients(job.envelope);
    job.body = std::make_shared<const std::string>("Subject: hi\r\n\r\nHello.\r\n");
    return job;
  }

  static smtp::DeliveryResult Result(std::vector<smtp::RecipientResult> recipients) {
    smtp::DeliveryResult result;
    result.final_reply = recipients.back().reply;
    result.recipients = std::move(recipients);
    return result;
  }

  AttemptInfo Info() const {
    AttemptInfo info;
    info.now = absl::Now();
    info.site = "mx:test";
    info.reporting_mta = "mta.example.org";
    return info;
  }

  // Waits for every spool write to be answered.
  void Settle() {
    ASSERT_TRUE(RunUntil(*reactor_, [&] { return ops_.count() == 0; }));
  }

  std::string Key(const common::MessageId& id) { return queue::IdKey(id); }

  PendingOps ops_;
  std::unique_ptr<AttemptRecorder> recorder_;
};

TEST_F(AttemptRecorderTest, ADeliveryRemovesTheEnvelope) {
  const common::MessageId id = spool_.Put("example.com", {"a@example.com"});
  recorder_->Record(Job(id), Result({{smtp::RecipientStatus::kDelivered, kOk}}), Info());
  Settle();
  EXPECT_EQ(spool_.writes(), (std::vector<std::string>{"remove " + Key(id)}));
  EXPECT_FALSE(spool_.Find(id).has_value());
  EXPECT_EQ(shared_.metrics.delivered->Value(), 1u);
}

TEST_F(AttemptRecorderTest, ADeferralUpdatesTheEnvelopeWithItsNextAttempt) {
  const common::MessageId id = spool_.Put("example.com", {"a@example.com"});
  recorder_->Record(Job(id), Result({{smtp::RecipientStatus::kTemporaryFailure, kLater}}), Info());
  Settle();
  EXPECT_EQ(spool_.writes(), (std::vector<std::string>{"update " + Key(id)}));
  const queue::Envelope envelope = *spool_.Find(id);
  EXPECT_EQ(envelope.recipients(0).state(), queue::proto::DEFERRED);
  EXPECT_GT(envelope.next_due_unix_ms(), absl::ToUnixMillis(absl::Now()));
  EXPECT_EQ(shared_.metrics.deferred->Value(), 1u);
}

TEST_F(AttemptRecorderTest, ABounceSpoolsItsDsnBeforeTheRemoval) {
  const common::MessageId id = spool_.Put("example.com", {"a@example.com"});
  recorder_->Record(Job(id), Result({{smtp::RecipientStatus::kPermanentFailure, kNoUser}}), Info());
  Settle();
  ASSERT_EQ(spool_.enqueued().size(), 1u);
  const queue::NewMessage& dsn = spool_.enqueued()[0];
  EXPECT_EQ(dsn.envelopes[0].recipients(0).address(), "sender@example.org");
  EXPECT_EQ(spool_.writes(),
            (std::vector<std::string>{"enqueue " + dsn.envelopes[0].id(), "remove " + Key(id)}));
  EXPECT_EQ(shared_.metrics.bounced->Value(), 1u);
}

TEST_F(AttemptRecorderTest, AHardBounceOfAConfiguredCategorySuppressesForItsTenant) {
  testing::FakeSuppressionList list;
  shared_.suppression.list = &list;
  shared_.suppression.bounce_categories[static_cast<size_t>(mail::BounceCategory::kBadMailbox)] =
      true;
  shared_.suppression.bounce_expiry = absl::Hours(24);
  const common::MessageId id = spool_.Put("example.com", {"gone@example.com", "full@example.com"});
  const smtp::ServerReply full = smtp::ServerReply::Local(552, "5.2.2", "mailbox full");
  DeliveryJob job = Job(id);
  job.envelope.set_tenant("acme");
  recorder_->Record(job,
                    Result({{smtp::RecipientStatus::kPermanentFailure, kNoUser},
                            {smtp::RecipientStatus::kPermanentFailure, full}}),
                    Info());
  Settle();
  EXPECT_EQ(shared_.metrics.bounced->Value(), 2u);
  // Quota is not among the categories: only the bad mailbox is suppressed.
  ASSERT_EQ(list.entries.size(), 1u);
  const queue::SuppressionEntry& entry = list.entries[0];
  EXPECT_EQ(entry.scope, "acme");
  EXPECT_EQ(entry.address, "gone@example.com");
  EXPECT_EQ(entry.source, queue::SuppressionSource::kHardBounce);
  EXPECT_TRUE(absl::StartsWith(entry.reason, "bad-mailbox: 550 5.1.1")) << entry.reason;
  EXPECT_EQ(entry.expires_unix_ms - entry.created_unix_ms, 24 * 3600 * 1000);
}

TEST_F(AttemptRecorderTest, ADeferralSuppressesNothing) {
  testing::FakeSuppressionList list;
  shared_.suppression.list = &list;
  shared_.suppression.bounce_categories.fill(true);
  const common::MessageId id = spool_.Put("example.com", {"a@example.com"});
  const smtp::ServerReply later = smtp::ServerReply::Local(450, "4.1.1", "try later, no user?");
  recorder_->Record(Job(id), Result({{smtp::RecipientStatus::kTemporaryFailure, later}}), Info());
  Settle();
  EXPECT_TRUE(list.entries.empty());
}

TEST_F(AttemptRecorderTest, ABounceAfterTheAttemptKeepsWhatTheAttemptDelivered) {
  const common::MessageId id = spool_.Put("example.com", {"a@example.com", "b@example.com"});
  const smtp::ServerReply reason = smtp::ServerReply::Local(550, "5.0.0", "bounced by operator");
  const bool bounced =
      recorder_->Record(Job(id),
                        Result({{smtp::RecipientStatus::kDelivered, kOk},
                                {smtp::RecipientStatus::kTemporaryFailure, kLater}}),
                        Info(), &reason);
  Settle();
  EXPECT_TRUE(bounced);
  EXPECT_EQ(shared_.metrics.delivered->Value(), 1u);
  EXPECT_EQ(shared_.metrics.bounced->Value(), 1u);
  ASSERT_EQ(spool_.enqueued().size(), 1u);
  const std::string& report = spool_.enqueued()[0].body;
  EXPECT_TRUE(absl::StrContains(report, "Final-Recipient: rfc822; b@example.com"));
  EXPECT_FALSE(absl::StrContains(report, "Final-Recipient: rfc822; a@example.com"));
  EXPECT_EQ(spool_.writes().back(), "remove " + Key(id));
}

TEST_F(AttemptRecorderTest, ABounceAfterAnAttemptThatFinishedEverythingDoesNothingMore) {
  const common::MessageId id = spool_.Put("example.com", {"a@example.com"});
  const smtp::ServerReply reason = smtp::ServerReply::Local(550, "5.0.0", "bounced by operator");
  EXPECT_FALSE(recorder_->Record(Job(id), Result({{smtp::RecipientStatus::kDelivered, kOk}}),
                                 Info(), &reason));
  Settle();
  EXPECT_TRUE(spool_.enqueued().empty());
  EXPECT_EQ(shared_.metrics.bounced->Value(), 0u);
}

TEST_F(AttemptRecorderTest, AnOperatorBounceFailsEveryUnfinishedRecipient) {
  const common::MessageId id = spool_.Put("example.com", {"a@example.com", "b@example.com"});
  queue::StoredMessage stored;
  stored.envelope = *spool_.Find(id);
  stored.body = "Subject: hi\r\n\r\nHello.\r\n";
  EXPECT_TRUE(
      recorder_->Bounce(stored, smtp::ServerReply::Local(550, "5.0.0", "operator"), Info()));
  Settle();
  EXPECT_EQ(shared_.metrics.bounced->Value(), 2u);
  EXPECT_FALSE(spool_.Find(id).has_value());
  // Nothing left to bounce the second time.
  stored.envelope.mutable_recipients(0)->set_state(queue::proto::DELIVERED);
  stored.envelope.mutable_recipients(1)->set_state(queue::proto::BOUNCED);
  EXPECT_FALSE(
      recorder_->Bounce(stored, smtp::ServerReply::Local(550, "5.0.0", "operator"), Info()));
}

}  // namespace
}  // namespace sluice::engine
