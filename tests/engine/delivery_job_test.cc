#include "engine/delivery_job.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "queue/spool_keys.h"

namespace sluice::engine {
namespace {

using queue::proto::RecipientState;

queue::Envelope EnvelopeWith(const std::vector<RecipientState>& states) {
  queue::Envelope envelope;
  envelope.set_sender("bounces@sender.example");
  for (size_t i = 0; i < states.size(); ++i) {
    queue::proto::Recipient* recipient = envelope.add_recipients();
    recipient->set_address("user" + std::to_string(i) + "@example.com");
    recipient->set_state(states[i]);
  }
  return envelope;
}

DeliveryJob JobWith(queue::Envelope envelope, std::vector<int> attempted) {
  DeliveryJob job;
  job.envelope = std::move(envelope);
  job.body = std::make_shared<const std::string>("Subject: x\r\n\r\nhello\r\n");
  job.attempted = std::move(attempted);
  return job;
}

// --- UnfinishedRecipients --------------------------------------------------

TEST(DeliveryJobTest, UnfinishedRecipientsArePendingDeferredAndUnspecified) {
  const queue::Envelope envelope = EnvelopeWith({
      queue::proto::PENDING,                      // 0
      queue::proto::DELIVERED,                    // 1
      queue::proto::DEFERRED,                     // 2
      queue::proto::BOUNCED,                      // 3
      queue::proto::RECIPIENT_STATE_UNSPECIFIED,  // 4
      queue::proto::EXPIRED,                      // 5
  });
  EXPECT_EQ(UnfinishedRecipients(envelope), (std::vector<int>{0, 2, 4}));
}

TEST(DeliveryJobTest, UnfinishedRecipientsOfAFinishedEnvelopeIsEmpty) {
  EXPECT_TRUE(UnfinishedRecipients(EnvelopeWith({queue::proto::DELIVERED, queue::proto::BOUNCED,
                                                 queue::proto::EXPIRED}))
                  .empty());
  EXPECT_TRUE(UnfinishedRecipients(queue::Envelope()).empty());
}

// --- ToAddress -------------------------------------------------------------

TEST(DeliveryJobTest, ToAddressSplitsAtTheLastAt) {
  const smtp::Address address = ToAddress("\"a@b\"@example.com");
  EXPECT_EQ(address.local_part, "\"a@b\"");
  EXPECT_EQ(address.domain, "example.com");
  EXPECT_FALSE(address.utf8);

  const smtp::Address plain = ToAddress("user@example.com");
  EXPECT_EQ(plain.local_part, "user");
  EXPECT_EQ(plain.domain, "example.com");
}

TEST(DeliveryJobTest, ToAddressOfTheEmptyStringIsTheNullPath) {
  const smtp::Address address = ToAddress("");
  EXPECT_TRUE(address.IsNull());
  EXPECT_FALSE(address.utf8);
}

TEST(DeliveryJobTest, ToAddressWithoutAtIsALocalPartOnly) {
  const smtp::Address address = ToAddress("Postmaster");
  EXPECT_EQ(address.local_part, "Postmaster");
  EXPECT_EQ(address.domain, "");
  EXPECT_FALSE(address.IsNull());
}

TEST(DeliveryJobTest, ToAddressFlagsUtf8InLocalPartOrDomain) {
  EXPECT_TRUE(ToAddress("j\xC3\xB6rg@example.com").utf8);
  EXPECT_TRUE(ToAddress("user@b\xC3\xBC"
                        "cher.example")
                  .utf8);
  EXPECT_FALSE(ToAddress("user@xn--bcher-kva.example").utf8);
}

// --- ToOutbound ------------------------------------------------------------

TEST(DeliveryJobTest, ToOutboundTakesTheRangeOfAttemptedRecipients) {
  queue::Envelope envelope =
      EnvelopeWith({queue::proto::PENDING, queue::proto::DELIVERED, queue::proto::PENDING,
                    queue::proto::DEFERRED, queue::proto::PENDING});
  const DeliveryJob job = JobWith(envelope, {0, 2, 3, 4});

  const smtp::OutboundMessage first = ToOutbound(job, 0, 2);
  ASSERT_EQ(first.recipients.size(), 2u);
  EXPECT_EQ(first.recipients[0].address.ToString(), "user0@example.com");
  EXPECT_EQ(first.recipients[1].address.ToString(), "user2@example.com");

  const smtp::OutboundMessage second = ToOutbound(job, 2, 2);
  ASSERT_EQ(second.recipients.size(), 2u);
  EXPECT_EQ(second.recipients[0].address.ToString(), "user3@example.com");
  EXPECT_EQ(second.recipients[1].address.ToString(), "user4@example.com");
}

TEST(DeliveryJobTest, ToOutboundStopsAtTheEndOfAttempted) {
  const DeliveryJob job =
      JobWith(EnvelopeWith({queue::proto::PENDING, queue::proto::PENDING, queue::proto::PENDING}),
              {0, 1, 2});
  const smtp::OutboundMessage message = ToOutbound(job, 2, 100);
  ASSERT_EQ(message.recipients.size(), 1u);
  EXPECT_EQ(message.recipients[0].address.ToString(), "user2@example.com");
  EXPECT_TRUE(ToOutbound(job, 3, 1).recipients.empty());
}

TEST(DeliveryJobTest, ToOutboundCarriesSenderBodyAndEightBit) {
  DeliveryJob job = JobWith(EnvelopeWith({queue::proto::PENDING}), {0});
  job.needs_8bit = true;
  const smtp::OutboundMessage message = ToOutbound(job, 0, 1);
  EXPECT_EQ(message.sender.local_part, "bounces");
  EXPECT_EQ(message.sender.domain, "sender.example");
  EXPECT_EQ(message.body, *job.body);
  EXPECT_EQ(message.body.data(), job.body->data());  // not copied
  EXPECT_EQ(message.body_owner.get(), static_cast<const void*>(job.body.get()));
  EXPECT_TRUE(message.needs_8bit);
}

TEST(DeliveryJobTest, VerpGivesEachRecipientItsOwnSenderNamingIt) {
  const mail::Verp verp = *mail::Verp::Create(std::string(32, 'v'));
  const common::MessageId id = common::MessageId::FromParts(1'800'000'000'000, 1, 0, 9);
  queue::Envelope envelope =
      EnvelopeWith({queue::proto::DELIVERED, queue::proto::PENDING, queue::proto::DEFERRED});
  envelope.set_id(queue::IdKey(id));
  DeliveryJob job = JobWith(envelope, {1, 2});
  UseVerp(job, verp, "bounces.example.org");
  ASSERT_EQ(job.senders.size(), 2u);
  const smtp::OutboundMessage second = ToOutbound(job, 1, 1);
  EXPECT_EQ(second.sender.domain, "bounces.example.org");
  ASSERT_EQ(second.recipients.size(), 1u);
  EXPECT_EQ(second.recipients[0].address.local_part, "user2");
  absl::StatusOr<mail::VerpTarget> named = verp.Decode(job.senders[1]);
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->message_id, id);
  EXPECT_EQ(named->recipient, 2u);  // the index in the envelope, not in the job
}

TEST(DeliveryJobTest, VerpLeavesTheNullSenderAndInboundBouncesAlone) {
  const mail::Verp verp = *mail::Verp::Create(std::string(32, 'v'));
  queue::Envelope dsn = EnvelopeWith({queue::proto::PENDING});
  dsn.set_id(queue::IdKey(common::MessageId::FromParts(1, 1, 0, 1)));
  dsn.set_sender("");
  DeliveryJob job = JobWith(dsn, {0});
  UseVerp(job, verp, "bounces.example.org");
  EXPECT_TRUE(job.senders.empty());
  queue::Envelope inbound = EnvelopeWith({queue::proto::PENDING});
  inbound.set_id(queue::IdKey(common::MessageId::FromParts(1, 1, 0, 2)));
  inbound.set_queue("bounces");
  job = JobWith(inbound, {0});
  UseVerp(job, verp, "bounces.example.org");
  EXPECT_TRUE(job.senders.empty());
  EXPECT_EQ(ToOutbound(job, 0, 1).sender.local_part, "bounces");
}

TEST(DeliveryJobTest, ToOutboundWithTheNullSender) {
  queue::Envelope envelope = EnvelopeWith({queue::proto::PENDING});
  envelope.set_sender("");
  const smtp::OutboundMessage message = ToOutbound(JobWith(envelope, {0}), 0, 1);
  EXPECT_TRUE(message.sender.IsNull());
}

TEST(DeliveryJobTest, ToOutboundCopiesNotifyBits) {
  queue::Envelope envelope =
      EnvelopeWith({queue::proto::PENDING, queue::proto::PENDING, queue::proto::PENDING});
  envelope.mutable_recipients(0)->set_notify(queue::proto::NOTIFY_FAILURE |
                                             queue::proto::NOTIFY_DELAY);
  envelope.mutable_recipients(1)->set_notify(queue::proto::NOTIFY_NEVER);
  const smtp::OutboundMessage message = ToOutbound(JobWith(envelope, {0, 1, 2}), 0, 3);
  ASSERT_EQ(message.recipients.size(), 3u);
  EXPECT_EQ(message.recipients[0].notify, smtp::kNotifyFailure | smtp::kNotifyDelay);
  EXPECT_EQ(message.recipients[1].notify, smtp::kNotifyNever);
  EXPECT_EQ(message.recipients[2].notify, 0);
}

TEST(DeliveryJobTest, ToOutboundSplitsOrcptAtTheFirstSemicolon) {
  queue::Envelope envelope =
      EnvelopeWith({queue::proto::PENDING, queue::proto::PENDING, queue::proto::PENDING});
  envelope.mutable_recipients(0)->set_orcpt("rfc822;original@example.net");
  envelope.mutable_recipients(1)->set_orcpt("utf-8;\"a;b\"@example.net");
  const smtp::OutboundMessage message = ToOutbound(JobWith(envelope, {0, 1, 2}), 0, 3);
  ASSERT_EQ(message.recipients.size(), 3u);
  EXPECT_EQ(message.recipients[0].orcpt_type, "rfc822");
  EXPECT_EQ(message.recipients[0].orcpt, "original@example.net");
  EXPECT_EQ(message.recipients[1].orcpt_type, "utf-8");
  EXPECT_EQ(message.recipients[1].orcpt, "\"a;b\"@example.net");
  EXPECT_EQ(message.recipients[2].orcpt_type, "");
  EXPECT_EQ(message.recipients[2].orcpt, "");
}

TEST(DeliveryJobTest, ToOutboundMapsRet) {
  queue::Envelope envelope = EnvelopeWith({queue::proto::PENDING});
  EXPECT_EQ(ToOutbound(JobWith(envelope, {0}), 0, 1).ret, smtp::DsnRet::kUnspecified);
  envelope.set_ret(queue::proto::RET_FULL);
  EXPECT_EQ(ToOutbound(JobWith(envelope, {0}), 0, 1).ret, smtp::DsnRet::kFull);
  envelope.set_ret(queue::proto::RET_HDRS);
  EXPECT_EQ(ToOutbound(JobWith(envelope, {0}), 0, 1).ret, smtp::DsnRet::kHeaders);
}

TEST(DeliveryJobTest, ToOutboundCopiesEnvid) {
  queue::Envelope envelope = EnvelopeWith({queue::proto::PENDING});
  EXPECT_EQ(ToOutbound(JobWith(envelope, {0}), 0, 1).envid, "");
  envelope.set_envid("QQ314159");
  EXPECT_EQ(ToOutbound(JobWith(envelope, {0}), 0, 1).envid, "QQ314159");
}

TEST(DeliveryJobTest, ToOutboundFlagsUtf8Recipients) {
  queue::Envelope envelope = EnvelopeWith({queue::proto::PENDING, queue::proto::PENDING});
  envelope.mutable_recipients(1)->set_address("j\xC3\xB6rg@example.com");
  const smtp::OutboundMessage message = ToOutbound(JobWith(envelope, {0, 1}), 0, 2);
  ASSERT_EQ(message.recipients.size(), 2u);
  EXPECT_FALSE(message.recipients[0].address.utf8);
  EXPECT_TRUE(message.recipients[1].address.utf8);
}

// --- HasEightBit -----------------------------------------------------------

TEST(DeliveryJobTest, HasEightBitFindsOctetsAbove127) {
  EXPECT_FALSE(HasEightBit(""));
  EXPECT_FALSE(HasEightBit("Subject: plain\r\n\r\n\x7F ascii only\r\n"));
  EXPECT_TRUE(HasEightBit("Subject: x\r\n\r\ncaf\xC3\xA9\r\n"));
  EXPECT_TRUE(HasEightBit(std::string("\x80", 1)));
  EXPECT_TRUE(HasEightBit(std::string(10'000, 'a') + "\xFF"));
  EXPECT_FALSE(HasEightBit(std::string("a\0b", 3)));
}

TEST(DeliveryJobTest, VerpDomainIsTheTenantsThenThePoolsThenTheDefault) {
  const absl::flat_hash_map<std::string, std::string> by_tenant = {{"acme", "b.acme.example"}};
  const absl::flat_hash_map<std::string, std::string> by_pool = {{"bulk", "b.bulk.example"}};
  queue::Envelope envelope;
  envelope.set_tenant("acme");
  envelope.set_pool("bulk");
  EXPECT_EQ(VerpDomainFor(envelope, by_tenant, by_pool, "b.example"), "b.acme.example");
  envelope.set_tenant("globex");
  EXPECT_EQ(VerpDomainFor(envelope, by_tenant, by_pool, "b.example"), "b.bulk.example");
  envelope.set_pool("");
  EXPECT_EQ(VerpDomainFor(envelope, by_tenant, by_pool, "b.example"), "b.example");
}

}  // namespace
}  // namespace sluice::engine
