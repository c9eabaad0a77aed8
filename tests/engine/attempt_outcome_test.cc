#include "engine/attempt_outcome.h"

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sluice::engine {
namespace {

using queue::Envelope;
using queue::proto::Recipient;
using smtp::RecipientStatus;
using smtp::ServerReply;

const absl::Time kCreated = absl::FromUnixSeconds(1'800'000'000);
constexpr char kBody[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.com\r\n"
    "Subject: quarterly report\r\n"
    "\r\n"
    "SECRET-BODY-TEXT\r\n";

common::MessageId MakeId(uint64_t n) {
  return common::MessageId::FromParts(1'800'000'000'000 + n, 7, 1, n);
}

std::string IdBytes(const common::MessageId& id) {
  const auto bytes = id.ToBytes();
  return std::string(bytes.begin(), bytes.end());
}

ServerReply Reply(int code, std::string enhanced, std::string text) {
  ServerReply reply;
  reply.code = code;
  reply.enhanced = std::move(enhanced);
  reply.lines.push_back(std::move(text));
  return reply;
}

const ServerReply kOk = Reply(250, "2.0.0", "ok queued");
const ServerReply kNoUser = Reply(550, "5.1.1", "no such user");
const ServerReply kFull = Reply(452, "4.2.2", "mailbox full");

struct Rcpt {
  std::string address;
  queue::proto::RecipientState state = queue::proto::PENDING;
  uint32_t notify = 0;
  uint32_t attempts = 0;
  std::string orcpt = "";
};

Envelope MakeEnvelope(const std::vector<Rcpt>& recipients,
                      std::string sender = "alice@Example.ORG") {
  Envelope e;
  e.set_id(IdBytes(MakeId(1)));
  e.set_body_id(IdBytes(MakeId(2)));
  e.set_sender(sender);
  for (const Rcpt& r : recipients) {
    Recipient* p = e.add_recipients();
    p->set_address(r.address);
    p->set_state(r.state);
    p->set_notify(r.notify);
    p->set_attempts(r.attempts);
    p->set_orcpt(r.orcpt);
  }
  e.set_created_unix_ms(absl::ToUnixMillis(kCreated));
  e.set_next_due_unix_ms(absl::ToUnixMillis(kCreated));
  e.set_size(sizeof(kBody) - 1);
  e.set_envid("ENV-42");
  e.set_tenant("acme");
  e.set_campaign("spring");
  e.set_pool("pool-a");
  e.set_domain("example.com");
  e.set_site("mx.example.com");
  return e;
}

smtp::DeliveryResult MakeResult(const std::vector<std::pair<RecipientStatus, ServerReply>>& rs) {
  smtp::DeliveryResult result;
  for (const auto& [status, reply] : rs) result.recipients.push_back({status, reply});
  if (!rs.empty()) result.final_reply = rs.back().second;
  return result;
}

class AttemptOutcomeTest : public ::testing::Test {
 protected:
  AttemptOutcomeTest() {
    info_.now = kCreated + absl::Hours(1);
    info_.site = "example.com-site";
    info_.remote_host = "mx1.example.com";
    info_.remote_ip = "192.0.2.10";
    info_.tls_version = "TLSv1.3";
    info_.tls_cipher = "TLS_AES_128_GCM_SHA256";
    info_.connect_time = absl::Milliseconds(12);
    info_.tls_time = absl::Milliseconds(30);
    info_.transaction_time = absl::Milliseconds(250);
    info_.reporting_mta = "sluice.example.net";
    retry_.jitter = 0;  // deterministic: initial 5 min, doubling, max age 5 days
  }

  AttemptOutcome Apply(const Envelope& e, std::vector<int> attempted,
                       const smtp::DeliveryResult& result) {
    absl::StatusOr<AttemptOutcome> outcome =
        ApplyAttempt(e, kBody, attempted, result, info_, retry_, gen_, policy_, NewId());
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.ok() ? *std::move(outcome) : AttemptOutcome();
  }

  absl::FunctionRef<common::MessageId()> NewId() { return new_id_; }

  int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

  AttemptInfo info_;
  RetryPolicy retry_;
  DsnPolicy policy_;
  absl::BitGen gen_;
  uint64_t next_id_ = 100;
  std::function<common::MessageId()> new_id_ = [this] { return MakeId(next_id_++); };
};

// --- Per-recipient rules ----------------------------------------------------

TEST_F(AttemptOutcomeTest, DeliveredRecipientsAreFinalAndEnvelopeIsRemoved) {
  const Envelope e = MakeEnvelope({{"bob@example.com"}, {"carol@example.com"}});
  const AttemptOutcome o =
      Apply(e, {0, 1},
            MakeResult({{RecipientStatus::kDelivered, kOk}, {RecipientStatus::kDelivered, kOk}}));
  EXPECT_TRUE(o.remove);
  EXPECT_TRUE(o.dsns.empty());
  ASSERT_EQ(o.envelope.recipients_size(), 2);
  for (const Recipient& r : o.envelope.recipients()) {
    EXPECT_EQ(r.state(), queue::proto::DELIVERED);
    EXPECT_EQ(r.attempts(), 1u);
    EXPECT_EQ(r.last_reply(), "250 2.0.0 ok queued");
  }
  EXPECT_EQ(o.envelope.attempts(), 1u);
  ASSERT_EQ(o.events.size(), 2u);
  EXPECT_EQ(o.events[0].type, DeliveryEventType::kDelivered);
  EXPECT_EQ(o.events[0].recipient, "bob@example.com");
  EXPECT_EQ(o.events[1].recipient, "carol@example.com");
  EXPECT_EQ(o.events[0].status, "2.0.0");
  EXPECT_EQ(o.events[0].category, "");  // only failures are classified
}

TEST_F(AttemptOutcomeTest, EventsCarryTheAttemptsDetails) {
  const Envelope e = MakeEnvelope({{"bob@example.com"}});
  const AttemptOutcome o = Apply(e, {0}, MakeResult({{RecipientStatus::kDelivered, kOk}}));
  ASSERT_EQ(o.events.size(), 1u);
  const DeliveryEvent& ev = o.events[0];
  EXPECT_EQ(ev.time, info_.now);
  EXPECT_EQ(ev.message_id, MakeId(1));
  EXPECT_EQ(ev.sender, "alice@Example.ORG");
  EXPECT_EQ(ev.domain, "example.com");
  EXPECT_EQ(ev.site, "example.com-site");
  EXPECT_EQ(ev.remote_host, "mx1.example.com");
  EXPECT_EQ(ev.remote_ip, "192.0.2.10");
  EXPECT_EQ(ev.tls_version, "TLSv1.3");
  EXPECT_EQ(ev.tls_cipher, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(ev.reply, "250 2.0.0 ok queued");
  EXPECT_EQ(ev.attempt, 1u);
  EXPECT_EQ(ev.connect_time, absl::Milliseconds(12));
  EXPECT_EQ(ev.tls_time, absl::Milliseconds(30));
  EXPECT_EQ(ev.transaction_time, absl::Milliseconds(250));
  EXPECT_EQ(ev.tenant, "acme");
  EXPECT_EQ(ev.campaign, "spring");
  EXPECT_EQ(ev.pool, "pool-a");
  EXPECT_EQ(ev.queue, "");
}

TEST_F(AttemptOutcomeTest, PermanentFailureBouncesAndSendsOneFailureDsn) {
  const Envelope e = MakeEnvelope({{"bob@example.com"}, {"carol@example.com"}});
  const AttemptOutcome o =
      Apply(e, {0, 1},
            MakeResult({{RecipientStatus::kPermanentFailure, kNoUser},
                        {RecipientStatus::kPermanentFailure, Reply(554, "5.7.1", "spam")}}));
  EXPECT_TRUE(o.remove);
  EXPECT_EQ(o.envelope.recipients(0).state(), queue::proto::BOUNCED);
  EXPECT_EQ(o.envelope.recipients(0).last_reply(), "550 5.1.1 no such user");
  EXPECT_EQ(o.envelope.recipients(1).state(), queue::proto::BOUNCED);
  ASSERT_EQ(o.dsns.size(), 1u);
  const std::string& body = o.dsns[0].body;
  EXPECT_TRUE(absl::StrContains(body, "Action: failed")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Final-Recipient: rfc822; bob@example.com")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Status: 5.1.1")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Diagnostic-Code: smtp; 550 5.1.1 no such user")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Final-Recipient: rfc822; carol@example.com")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Status: 5.7.1")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Remote-MTA: dns; mx1.example.com")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Last-Attempt-Date: ")) << body;
  ASSERT_EQ(o.events.size(), 3u);
  EXPECT_EQ(o.events[0].type, DeliveryEventType::kBounced);
  EXPECT_EQ(o.events[0].status, "5.1.1");
  EXPECT_EQ(o.events[0].category, "bad-mailbox");
  EXPECT_EQ(o.events[1].type, DeliveryEventType::kBounced);
  EXPECT_EQ(o.events[2].type, DeliveryEventType::kDsnFailure);
  EXPECT_EQ(o.events[2].dsn_recipients,
            (std::vector<std::string>{"bob@example.com", "carol@example.com"}));
}

TEST_F(AttemptOutcomeTest, DsnIsANewMessageFromTheNullSenderToTheOriginalSender) {
  const Envelope e = MakeEnvelope({{"bob@example.com"}});
  const AttemptOutcome o =
      Apply(e, {0}, MakeResult({{RecipientStatus::kPermanentFailure, kNoUser}}));
  ASSERT_EQ(o.dsns.size(), 1u);
  const queue::NewMessage& dsn = o.dsns[0];
  EXPECT_EQ(dsn.body_id, MakeId(100));  // new_id() first for the body
  ASSERT_EQ(dsn.envelopes.size(), 1u);
  const Envelope& d = dsn.envelopes[0];
  EXPECT_EQ(d.id(), IdBytes(MakeId(101)));  // then for the envelope
  EXPECT_EQ(d.body_id(), IdBytes(MakeId(100)));
  EXPECT_EQ(d.sender(), "");
  ASSERT_EQ(d.recipients_size(), 1);
  EXPECT_EQ(d.recipients(0).address(), "alice@Example.ORG");
  EXPECT_EQ(d.recipients(0).state(), queue::proto::PENDING);
  EXPECT_EQ(d.recipients(0).notify(), static_cast<uint32_t>(queue::proto::NOTIFY_NEVER));
  EXPECT_EQ(d.domain(), "example.org");
  EXPECT_EQ(d.created_unix_ms(), Ms(info_.now));
  EXPECT_EQ(d.next_due_unix_ms(), Ms(info_.now));
  EXPECT_EQ(d.size(), dsn.body.size());
  EXPECT_EQ(d.tenant(), "acme");
  EXPECT_EQ(d.campaign(), "");  // a notice is not campaign mail
  EXPECT_EQ(d.queue(), "");
  EXPECT_EQ(d.attempts(), 0u);
  EXPECT_TRUE(absl::StrContains(dsn.body, "To: <alice@Example.ORG>\r\n"));
  EXPECT_TRUE(absl::StrContains(dsn.body,
                                "From: Mail Delivery System "
                                "<MAILER-DAEMON@sluice.example.net>"));
  EXPECT_TRUE(absl::StrContains(dsn.body,
                                "Message-ID: <" + MakeId(101).ToString() + "@sluice.example.net>"));
  ASSERT_EQ(o.events.size(), 2u);
  EXPECT_EQ(o.events[1].dsn_id, MakeId(101));
  EXPECT_EQ(o.events[1].message_id, MakeId(1));
}

TEST_F(AttemptOutcomeTest, DsnBodyIsAWellFormedReport) {
  Envelope e =
      MakeEnvelope({{"bob@example.com", queue::proto::PENDING, 0, 0, "rfc822;Bob@Example.com"}});
  const AttemptOutcome o =
      Apply(e, {0}, MakeResult({{RecipientStatus::kPermanentFailure, kNoUser}}));
  ASSERT_EQ(o.dsns.size(), 1u);
  const std::string& body = o.dsns[0].body;
  EXPECT_TRUE(
      absl::StrContains(body, "Content-Type: multipart/report; report-type=delivery-status"));
  const std::string boundary = "=_sluice_dsn_" + MakeId(101).ToString();
  EXPECT_TRUE(absl::StrContains(body, "boundary=\"" + boundary + "\""));
  EXPECT_TRUE(absl::StrContains(body, "\r\n--" + boundary + "--\r\n"));
  EXPECT_TRUE(absl::StrContains(body, "Content-Type: message/delivery-status"));
  EXPECT_TRUE(absl::StrContains(body, "Reporting-MTA: dns; sluice.example.net"));
  EXPECT_TRUE(absl::StrContains(body, "Original-Envelope-Id: ENV-42"));
  EXPECT_TRUE(absl::StrContains(body, "Arrival-Date: "));
  EXPECT_TRUE(absl::StrContains(body, "Original-Recipient: rfc822;Bob@Example.com"));
  EXPECT_TRUE(absl::StrContains(body, "Subject: Undelivered Mail Returned to Sender"));
  // Every line ends in CRLF.
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n') {
      ASSERT_TRUE(i > 0 && body[i - 1] == '\r') << "bare LF at " << i;
    }
  }
}

TEST_F(AttemptOutcomeTest, BounceWithoutEnhancedCodeGets500) {
  const Envelope e = MakeEnvelope({{"bob@example.com"}});
  const AttemptOutcome o =
      Apply(e, {0}, MakeResult({{RecipientStatus::kPermanentFailure, Reply(550, "", "go away")}}));
  ASSERT_EQ(o.dsns.size(), 1u);
  EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Status: 5.0.0")) << o.dsns[0].body;
  EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Diagnostic-Code: smtp; 550 go away"));
  EXPECT_EQ(o.events[0].status, "5.0.0");
}

TEST_F(AttemptOutcomeTest, LocalRefusalBouncesToo) {
  const Envelope e = MakeEnvelope({{"bob@example.com"}});
  const AttemptOutcome o =
      Apply(e, {0},
            MakeResult({{RecipientStatus::kPermanentFailure,
                         ServerReply::Local(552, "5.3.4", "message too big for the server")}}));
  EXPECT_EQ(o.envelope.recipients(0).state(), queue::proto::BOUNCED);
  ASSERT_EQ(o.dsns.size(), 1u);
  EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Status: 5.3.4"));
  // No server said it, so the diagnostic is typed as ours, not "smtp".
  EXPECT_TRUE(
      absl::StrContains(o.dsns[0].body, "Diagnostic-Code: X-Sluice; 552 5.3.4 message too big"))
      << o.dsns[0].body;
  EXPECT_TRUE(o.envelope.recipients(0).last_reply_local());
}

TEST_F(AttemptOutcomeTest, TemporaryFailureDefersAndSchedulesTheRetry) {
  const Envelope e = MakeEnvelope({{"bob@example.com"}});
  const AttemptOutcome o = Apply(e, {0}, MakeResult({{RecipientStatus::kTemporaryFailure, kFull}}));
  EXPECT_FALSE(o.remove);
  EXPECT_TRUE(o.dsns.empty());
  const Recipient& r = o.envelope.recipients(0);
  EXPECT_EQ(r.state(), queue::proto::DEFERRED);
  EXPECT_EQ(r.attempts(), 1u);
  EXPECT_EQ(r.last_reply(), "452 4.2.2 mailbox full");
  EXPECT_EQ(o.envelope.attempts(), 1u);
  EXPECT_EQ(o.envelope.last_reply(), "452 4.2.2 mailbox full");
  EXPECT_EQ(o.envelope.next_due_unix_ms(), Ms(info_.now + absl::Minutes(5)));
  ASSERT_EQ(o.events.size(), 1u);
  EXPECT_EQ(o.events[0].type, DeliveryEventType::kDeferred);
  EXPECT_EQ(o.events[0].status, "4.2.2");
  EXPECT_EQ(o.events[0].category, "quota");
}

TEST_F(AttemptOutcomeTest, RetryIntervalGrowsWithTheMessagesAttempts) {
  Envelope e = MakeEnvelope({{"bob@example.com", queue::proto::DEFERRED, 0, 2}});
  e.set_attempts(2);  // this is the third attempt: 5 min * 2^2
  const AttemptOutcome o = Apply(e, {0}, MakeResult({{RecipientStatus::kTemporaryFailure, kFull}}));
  EXPECT_EQ(o.envelope.attempts(), 3u);
  EXPECT_EQ(o.envelope.recipients(0).attempts(), 3u);
  EXPECT_EQ(o.envelope.next_due_unix_ms(), Ms(info_.now + absl::Minutes(20)));
}

TEST_F(AttemptOutcomeTest, SeededJitterIsDeterministicAndWithinBounds) {
  retry_.jitter = 0.2;
  const Envelope e = MakeEnvelope({{"bob@example.com"}});
  const smtp::DeliveryResult result = MakeResult({{RecipientStatus::kTemporaryFailure, kFull}});
  std::seed_seq seed1{1, 2, 3};
  std::seed_seq seed2{1, 2, 3};
  absl::BitGen gen1(seed1);
  absl::BitGen gen2(seed2);
  auto a = ApplyAttempt(e, kBody, {0}, result, info_, retry_, gen1, policy_, NewId());
  auto b = ApplyAttempt(e, kBody, {0}, result, info_, retry_, gen2, policy_, NewId());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->envelope.next_due_unix_ms(), b->envelope.next_due_unix_ms());
  EXPECT_GE(a->envelope.next_due_unix_ms(), Ms(info_.now + absl::Minutes(4)));
  EXPECT_LE(a->envelope.next_due_unix_ms(), Ms(info_.now + absl::Minutes(6)));
}

TEST_F(AttemptOutcomeTest, MixedResultsDecideEachRecipient) {
  const Envelope e = MakeEnvelope({{"a@example.com"}, {"b@example.com"}, {"c@example.com"}});
  smtp::DeliveryResult result = MakeResult({{RecipientStatus::kDelivered, kOk},
                                            {RecipientStatus::kPermanentFailure, kNoUser},
                                            {RecipientStatus::kTemporaryFailure, kFull}});
  result.final_reply = kOk;
  const AttemptOutcome o = Apply(e, {0, 1, 2}, result);
  EXPECT_FALSE(o.remove);
  EXPECT_EQ(o.envelope.recipients(0).state(), queue::proto::DELIVERED);
  EXPECT_EQ(o.envelope.recipients(1).state(), queue::proto::BOUNCED);
  EXPECT_EQ(o.envelope.recipients(2).state(), queue::proto::DEFERRED);
  EXPECT_EQ(o.envelope.last_reply(), "250 2.0.0 ok queued");
  EXPECT_EQ(o.envelope.next_due_unix_ms(), Ms(info_.now + absl::Minutes(5)));
  ASSERT_EQ(o.dsns.size(), 1u);
  EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Final-Recipient: rfc822; b@example.com"));
  EXPECT_FALSE(absl::StrContains(o.dsns[0].body, "Final-Recipient: rfc822; a@example.com"));
  EXPECT_FALSE(absl::StrContains(o.dsns[0].body, "Final-Recipient: rfc822; c@example.com"));
  ASSERT_EQ(o.events.size(), 4u);
  EXPECT_EQ(o.events[0].type, DeliveryEventType::kDelivered);
  EXPECT_EQ(o.events[1].type, DeliveryEventType::kBounced);
  EXPECT_EQ(o.events[2].type, DeliveryEventType::kDeferred);
  EXPECT_EQ(o.events[3].type, DeliveryEventType::kDsnFailure);
}

TEST_F(AttemptOutcomeTest, IndexesMapResultsOntoRecipientsAndSkipFinishedOnes) {
  Envelope e = MakeEnvelope({{"done@example.com", queue::proto::DELIVERED, 0, 1},
                             {"retry@example.com", queue::proto::DEFERRED, 0, 1},
                             {"new@example.com"}});
  e.set_attempts(1);
  // Sent in the order new, retry.
  const AttemptOutcome o = Apply(e, {2, 1},
                                 MakeResult({{RecipientStatus::kPermanentFailure, kNoUser},
                                             {RecipientStatus::kDelivered, kOk}}));
  EXPECT_TRUE(o.remove);
  EXPECT_EQ(o.envelope.recipients(0).state(), queue::proto::DELIVERED);
  EXPECT_EQ(o.envelope.recipients(0).attempts(), 1u);  // untouched
  EXPECT_EQ(o.envelope.recipients(0).last_reply(), "");
  EXPECT_EQ(o.envelope.recipients(1).state(), queue::proto::DELIVERED);
  EXPECT_EQ(o.envelope.recipients(1).attempts(), 2u);
  EXPECT_EQ(o.envelope.recipients(2).state(), queue::proto::BOUNCED);
  EXPECT_EQ(o.envelope.recipients(2).attempts(), 1u);
  EXPECT_EQ(o.envelope.recipients(2).last_reply(), "550 5.1.1 no such user");
  ASSERT_EQ(o.events.size(), 3u);
  EXPECT_EQ(o.events[0].recipient, "new@example.com");
  EXPECT_EQ(o.events[0].type, DeliveryEventType::kBounced);
  EXPECT_EQ(o.events[1].recipient, "retry@example.com");
  EXPECT_EQ(o.events[1].type, DeliveryEventType::kDelivered);
  EXPECT_EQ(o.events[1].attempt, 2u);
}

TEST_F(AttemptOutcomeTest, UnsentPendingRecipientsMakeTheEnvelopeDueAgainAtOnce) {
  const Envelope e = MakeEnvelope({{"a@example.com"}, {"b@example.com"}});
  const AttemptOutcome o = Apply(e, {0}, MakeResult({{RecipientStatus::kDelivered, kOk}}));
  EXPECT_FALSE(o.remove);
  EXPECT_EQ(o.envelope.recipients(1).state(), queue::proto::PENDING);
  EXPECT_EQ(o.envelope.next_due_unix_ms(), Ms(info_.now));
  EXPECT_EQ(o.events.size(), 1u);
}

// --- Expiry -------------------------------------------------------------------

TEST_F(AttemptOutcomeTest, ExpiryTurnsEveryUnfinishedRecipientIntoExpired) {
  info_.now = kCreated + absl::Hours(24 * 5) - absl::Minutes(1);  // next try is past max age
  Envelope e = MakeEnvelope({{"a@example.com"},
                             {"b@example.com", queue::proto::DEFERRED, 0, 3},
                             {"c@example.com", queue::proto::DELIVERED, 0, 1}});
  e.mutable_recipients(1)->set_last_reply("421 4.4.2 connection dropped");
  e.set_attempts(3);
  const AttemptOutcome o = Apply(e, {0}, MakeResult({{RecipientStatus::kTemporaryFailure, kFull}}));
  EXPECT_TRUE(o.remove);
  EXPECT_EQ(o.envelope.recipients(0).state(), queue::proto::EXPIRED);
  EXPECT_EQ(o.envelope.recipients(1).state(), queue::proto::EXPIRED);
  EXPECT_EQ(o.envelope.recipients(2).state(), queue::proto::DELIVERED);
  ASSERT_EQ(o.dsns.size(), 1u);
  const std::string& body = o.dsns[0].body;
  EXPECT_TRUE(absl::StrContains(body, "Action: failed")) << body;
  // The last reply's own enhanced code when it has one.
  EXPECT_TRUE(absl::StrContains(body, "Status: 4.2.2")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Status: 4.4.2")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Final-Recipient: rfc822; a@example.com"));
  EXPECT_TRUE(absl::StrContains(body, "Final-Recipient: rfc822; b@example.com"));
  EXPECT_FALSE(absl::StrContains(body, "Final-Recipient: rfc822; c@example.com"));
  ASSERT_EQ(o.events.size(), 3u);
  EXPECT_EQ(o.events[0].type, DeliveryEventType::kExpired);
  EXPECT_EQ(o.events[0].category, "message-expired");
  EXPECT_EQ(o.events[0].recipient, "a@example.com");
  EXPECT_EQ(o.events[0].remote_host, "mx1.example.com");
  EXPECT_EQ(o.events[1].type, DeliveryEventType::kExpired);
  EXPECT_EQ(o.events[1].recipient, "b@example.com");
  EXPECT_EQ(o.events[1].remote_host, "");  // not tried in this attempt
  EXPECT_EQ(o.events[1].attempt, 3u);
  EXPECT_EQ(o.events[2].type, DeliveryEventType::kDsnFailure);
}

TEST_F(AttemptOutcomeTest, ExpiryWithoutEnhancedCodeGets447) {
  info_.now = kCreated + absl::Hours(24 * 5);
  const Envelope e = MakeEnvelope({{"a@example.com"}});
  const AttemptOutcome o = Apply(
      e, {0},
      MakeResult({{RecipientStatus::kTemporaryFailure, ServerReply::Local(421, "", "timeout")}}));
  EXPECT_TRUE(o.remove);
  ASSERT_EQ(o.dsns.size(), 1u);
  EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Status: 4.4.7")) << o.dsns[0].body;
  EXPECT_EQ(o.events[0].status, "4.4.7");
}

TEST_F(AttemptOutcomeTest, NotYetExpiredMessageKeepsDeferring) {
  info_.now = kCreated + absl::Hours(24 * 5) - absl::Minutes(6);
  const Envelope e = MakeEnvelope({{"a@example.com"}});
  const AttemptOutcome o = Apply(e, {0}, MakeResult({{RecipientStatus::kTemporaryFailure, kFull}}));
  EXPECT_FALSE(o.remove);
  EXPECT_EQ(o.envelope.recipients(0).state(), queue::proto::DEFERRED);
  EXPECT_TRUE(o.dsns.empty());
}

// --- Who gets a DSN -----------------------------------------------------------

TEST_F(AttemptOutcomeTest, NullSenderNeverGetsADsn) {
  const Envelope e = MakeEnvelope({{"a@example.com"}}, /*sender=*/"");
  const AttemptOutcome o =
      Apply(e, {0}, MakeResult({{RecipientStatus::kPermanentFailure, kNoUser}}));
  EXPECT_TRUE(o.remove);
  EXPECT_TRUE(o.dsns.empty());
  ASSERT_EQ(o.events.size(), 1u);
  EXPECT_EQ(o.events[0].type, DeliveryEventType::kBounced);
}

TEST_F(AttemptOutcomeTest, NullSenderGetsNoDelayNoticeEither) {
  info_.now = kCreated + absl::Hours(5);
  const Envelope e =
      MakeEnvelope({{"a@example.com", queue::proto::PENDING, queue::proto::NOTIFY_DELAY}}, "");
  const AttemptOutcome o = Apply(e, {0}, MakeResult({{RecipientStatus::kTemporaryFailure, kFull}}));
  EXPECT_TRUE(o.dsns.empty());
  EXPECT_EQ(o.envelope.delay_notified_unix_ms(), 0);
}

TEST_F(AttemptOutcomeTest, MessagesInTheBouncesQueueNeverGetADsn) {
  Envelope e = MakeEnvelope({{"a@example.com"}});
  e.set_queue("bounces");
  const AttemptOutcome o =
      Apply(e, {0}, MakeResult({{RecipientStatus::kPermanentFailure, kNoUser}}));
  EXPECT_TRUE(o.dsns.empty());
  EXPECT_EQ(o.events[0].queue, "bounces");
}

TEST_F(AttemptOutcomeTest, NotifyNeverSuppressesTheFailureDsn) {
  const Envelope e =
      MakeEnvelope({{"a@example.com", queue::proto::PENDING, queue::proto::NOTIFY_NEVER}});
  const AttemptOutcome o =
      Apply(e, {0}, MakeResult({{RecipientStatus::kPermanentFailure, kNoUser}}));
  EXPECT_TRUE(o.dsns.empty());
}

TEST_F(AttemptOutcomeTest, NotifyFailureGetsTheFailureDsn) {
  const Envelope e = MakeEnvelope({{"a@example.com", queue::proto::PENDING,
                                    queue::proto::NOTIFY_FAILURE | queue::proto::NOTIFY_DELAY}});
  const AttemptOutcome o =
      Apply(e, {0}, MakeResult({{RecipientStatus::kPermanentFailure, kNoUser}}));
  ASSERT_EQ(o.dsns.size(), 1u);
  EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Action: failed"));
}

TEST_F(AttemptOutcomeTest, NotifyWithoutFailureGetsNoFailureDsn) {
  const Envelope e = MakeEnvelope({{"a@example.com", queue::proto::PENDING,
                                    queue::proto::NOTIFY_DELAY | queue::proto::NOTIFY_SUCCESS}});
  const AttemptOutcome o =
      Apply(e, {0}, MakeResult({{RecipientStatus::kPermanentFailure, kNoUser}}));
  EXPECT_TRUE(o.dsns.empty());
}

TEST_F(AttemptOutcomeTest, OneDsnCoversOnlyTheRecipientsThatAskedForIt) {
  const Envelope e =
      MakeEnvelope({{"quiet@example.com", queue::proto::PENDING, queue::proto::NOTIFY_NEVER},
                    {"loud@example.com"}});
  const AttemptOutcome o = Apply(e, {0, 1},
                                 MakeResult({{RecipientStatus::kPermanentFailure, kNoUser},
                                             {RecipientStatus::kPermanentFailure, kNoUser}}));
  ASSERT_EQ(o.dsns.size(), 1u);
  EXPECT_FALSE(absl::StrContains(o.dsns[0].body, "quiet@example.com"));
  EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Final-Recipient: rfc822; loud@example.com"));
  ASSERT_EQ(o.events.size(), 3u);
  EXPECT_EQ(o.events[2].dsn_recipients, std::vector<std::string>{"loud@example.com"});
}

TEST_F(AttemptOutcomeTest, RetHdrsReturnsOnlyTheHeaders) {
  Envelope e = MakeEnvelope({{"a@example.com"}});
  e.set_ret(queue::proto::RET_HDRS);
  const AttemptOutcome o =
      Apply(e, {0}, MakeResult({{RecipientStatus::kPermanentFailure, kNoUser}}));
  ASSERT_EQ(o.dsns.size(), 1u);
  EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Content-Type: text/rfc822-headers"));
  EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Subject: quarterly report"));
  EXPECT_FALSE(absl::StrContains(o.dsns[0].body, "SECRET-BODY-TEXT"));
}

TEST_F(AttemptOutcomeTest, RetFullOrAbsentReturnsTheWholeMessage) {
  for (queue::proto::Ret ret : {queue::proto::RET_FULL, queue::proto::RET_UNSPECIFIED}) {
    Envelope e = MakeEnvelope({{"a@example.com"}});
    e.set_ret(ret);
    const AttemptOutcome o =
        Apply(e, {0}, MakeResult({{RecipientStatus::kPermanentFailure, kNoUser}}));
    ASSERT_EQ(o.dsns.size(), 1u);
    EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Content-Type: message/rfc822")) << ret;
    EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "SECRET-BODY-TEXT")) << ret;
  }
}

// --- Delay notices ------------------------------------------------------------

TEST_F(AttemptOutcomeTest, DelayNoticeGoesOutOnceWhenTheMessageIsOldEnough) {
  info_.now = kCreated + absl::Hours(4);
  const Envelope e = MakeEnvelope(
      {{"a@example.com", queue::proto::PENDING, queue::proto::NOTIFY_DELAY}, {"b@example.com"}});
  const AttemptOutcome o = Apply(e, {0, 1},
                                 MakeResult({{RecipientStatus::kTemporaryFailure, kFull},
                                             {RecipientStatus::kTemporaryFailure, kFull}}));
  EXPECT_FALSE(o.remove);
  ASSERT_EQ(o.dsns.size(), 1u);
  const std::string& body = o.dsns[0].body;
  EXPECT_TRUE(absl::StrContains(body, "Action: delayed")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Status: 4.2.2")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Will-Retry-Until: ")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Subject: Delayed Mail (still being retried)"));
  EXPECT_TRUE(absl::StrContains(body, "Final-Recipient: rfc822; a@example.com"));
  EXPECT_FALSE(absl::StrContains(body, "rfc822; b@example.com"));  // NOTIFY absent: none
  EXPECT_TRUE(absl::StrContains(body, "Content-Type: text/rfc822-headers"));
  EXPECT_FALSE(absl::StrContains(body, "SECRET-BODY-TEXT"));
  EXPECT_EQ(o.envelope.delay_notified_unix_ms(), Ms(info_.now));
  ASSERT_EQ(o.events.size(), 3u);
  EXPECT_EQ(o.events[2].type, DeliveryEventType::kDsnDelay);

  // The next deferral sends none.
  info_.now += absl::Hours(1);
  const AttemptOutcome again = Apply(o.envelope, {0, 1},
                                     MakeResult({{RecipientStatus::kTemporaryFailure, kFull},
                                                 {RecipientStatus::kTemporaryFailure, kFull}}));
  EXPECT_TRUE(again.dsns.empty());
  EXPECT_EQ(again.envelope.delay_notified_unix_ms(), o.envelope.delay_notified_unix_ms());
}

TEST_F(AttemptOutcomeTest, NoDelayNoticeBeforeTheThreshold) {
  info_.now = kCreated + absl::Hours(4) - absl::Milliseconds(1);
  const Envelope e =
      MakeEnvelope({{"a@example.com", queue::proto::PENDING, queue::proto::NOTIFY_DELAY}});
  const AttemptOutcome o = Apply(e, {0}, MakeResult({{RecipientStatus::kTemporaryFailure, kFull}}));
  EXPECT_TRUE(o.dsns.empty());
  EXPECT_EQ(o.envelope.delay_notified_unix_ms(), 0);
}

TEST_F(AttemptOutcomeTest, NoDelayNoticeWhenDisabledOrNotAskedFor) {
  info_.now = kCreated + absl::Hours(5);
  {
    policy_.send_delay_notices = false;
    const Envelope e =
        MakeEnvelope({{"a@example.com", queue::proto::PENDING, queue::proto::NOTIFY_DELAY}});
    const AttemptOutcome o =
        Apply(e, {0}, MakeResult({{RecipientStatus::kTemporaryFailure, kFull}}));
    EXPECT_TRUE(o.dsns.empty());
    policy_.send_delay_notices = true;
  }
  for (uint32_t notify : {0u, static_cast<uint32_t>(queue::proto::NOTIFY_FAILURE),
                          static_cast<uint32_t>(queue::proto::NOTIFY_NEVER)}) {
    const Envelope e = MakeEnvelope({{"a@example.com", queue::proto::PENDING, notify}});
    const AttemptOutcome o =
        Apply(e, {0}, MakeResult({{RecipientStatus::kTemporaryFailure, kFull}}));
    EXPECT_TRUE(o.dsns.empty()) << notify;
    EXPECT_EQ(o.envelope.delay_notified_unix_ms(), 0) << notify;
  }
}

TEST_F(AttemptOutcomeTest, DelayNoticeWithoutEnhancedCodeGets400) {
  info_.now = kCreated + absl::Hours(5);
  const Envelope e =
      MakeEnvelope({{"a@example.com", queue::proto::PENDING, queue::proto::NOTIFY_DELAY}});
  const AttemptOutcome o = Apply(
      e, {0}, MakeResult({{RecipientStatus::kTemporaryFailure, Reply(450, "", "try later")}}));
  ASSERT_EQ(o.dsns.size(), 1u);
  EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Status: 4.0.0")) << o.dsns[0].body;
}

// --- Success (relayed) notices ------------------------------------------------

TEST_F(AttemptOutcomeTest, NotifySuccessGetsARelayedDsnWhenTheNextHopLacksDsn) {
  info_.remote_offers_dsn = false;
  const Envelope e = MakeEnvelope(
      {{"a@example.com", queue::proto::PENDING, queue::proto::NOTIFY_SUCCESS}, {"b@example.com"}});
  const AttemptOutcome o =
      Apply(e, {0, 1},
            MakeResult({{RecipientStatus::kDelivered, kOk}, {RecipientStatus::kDelivered, kOk}}));
  EXPECT_TRUE(o.remove);
  ASSERT_EQ(o.dsns.size(), 1u);
  const std::string& body = o.dsns[0].body;
  EXPECT_TRUE(absl::StrContains(body, "Action: relayed")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Status: 2.0.0")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Final-Recipient: rfc822; a@example.com"));
  EXPECT_FALSE(absl::StrContains(body, "rfc822; b@example.com"));
  EXPECT_FALSE(absl::StrContains(body, "SECRET-BODY-TEXT"));
  ASSERT_EQ(o.events.size(), 3u);
  EXPECT_EQ(o.events[2].type, DeliveryEventType::kDsnRelayed);
}

TEST_F(AttemptOutcomeTest, NotifySuccessIsTheNextHopsJobWhenItOffersDsn) {
  info_.remote_offers_dsn = true;
  const Envelope e =
      MakeEnvelope({{"a@example.com", queue::proto::PENDING, queue::proto::NOTIFY_SUCCESS}});
  const AttemptOutcome o = Apply(e, {0}, MakeResult({{RecipientStatus::kDelivered, kOk}}));
  EXPECT_TRUE(o.dsns.empty());
}

TEST_F(AttemptOutcomeTest, FailureAndRelayedDsnsInOneAttemptAreSeparate) {
  const Envelope e = MakeEnvelope(
      {{"a@example.com", queue::proto::PENDING, queue::proto::NOTIFY_SUCCESS}, {"b@example.com"}});
  const AttemptOutcome o = Apply(e, {0, 1},
                                 MakeResult({{RecipientStatus::kDelivered, kOk},
                                             {RecipientStatus::kPermanentFailure, kNoUser}}));
  ASSERT_EQ(o.dsns.size(), 2u);
  EXPECT_TRUE(absl::StrContains(o.dsns[0].body, "Action: failed"));
  EXPECT_TRUE(absl::StrContains(o.dsns[1].body, "Action: relayed"));
  EXPECT_NE(o.dsns[0].body_id, o.dsns[1].body_id);
  EXPECT_NE(o.dsns[0].envelopes[0].id(), o.dsns[1].envelopes[0].id());
}

// --- Bad input ----------------------------------------------------------------

TEST_F(AttemptOutcomeTest, RefusesInconsistentInput) {
  const Envelope e = MakeEnvelope({{"a@example.com"}, {"b@example.com", queue::proto::DELIVERED}});
  const smtp::DeliveryResult one = MakeResult({{RecipientStatus::kDelivered, kOk}});
  const smtp::DeliveryResult two =
      MakeResult({{RecipientStatus::kDelivered, kOk}, {RecipientStatus::kDelivered, kOk}});
  auto call = [&](const Envelope& env, std::vector<int> attempted,
                  const smtp::DeliveryResult& result) {
    return ApplyAttempt(env, kBody, attempted, result, info_, retry_, gen_, policy_, NewId())
        .status()
        .code();
  };
  EXPECT_EQ(call(e, {0}, two), absl::StatusCode::kInvalidArgument);     // sizes differ
  EXPECT_EQ(call(e, {2}, one), absl::StatusCode::kInvalidArgument);     // out of range
  EXPECT_EQ(call(e, {-1}, one), absl::StatusCode::kInvalidArgument);    // out of range
  EXPECT_EQ(call(e, {0, 0}, two), absl::StatusCode::kInvalidArgument);  // repeated
  EXPECT_EQ(call(e, {1}, one), absl::StatusCode::kInvalidArgument);     // already final
  Envelope bad_id = e;
  bad_id.set_id("short");
  EXPECT_EQ(call(bad_id, {0}, one), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(call(e, {0}, one), absl::StatusCode::kOk);
}

// --- UniformResult and FailUnfinished ------------------------------------------

TEST_F(AttemptOutcomeTest, UniformResultDefersEveryRecipientOfAFailedConnection) {
  const Envelope e = MakeEnvelope({{"a@example.com"}, {"b@example.com"}});
  const ServerReply refused = ServerReply::Local(421, "4.4.1", "connection refused");
  const smtp::DeliveryResult result = UniformResult(2, RecipientStatus::kTemporaryFailure, refused);
  ASSERT_EQ(result.recipients.size(), 2u);
  const AttemptOutcome o = Apply(e, {0, 1}, result);
  EXPECT_EQ(o.envelope.recipients(0).state(), queue::proto::DEFERRED);
  EXPECT_EQ(o.envelope.recipients(1).state(), queue::proto::DEFERRED);
  EXPECT_EQ(o.envelope.last_reply(), "421 4.4.1 connection refused");
  EXPECT_EQ(o.events.size(), 2u);
}

TEST_F(AttemptOutcomeTest, FailUnfinishedBouncesEveryUnfinishedRecipient) {
  AttemptInfo info;
  info.now = kCreated + absl::Hours(2);
  info.reporting_mta = "sluice.example.net";
  Envelope e = MakeEnvelope({{"done@example.com", queue::proto::DELIVERED, 0, 1},
                             {"later@example.com", queue::proto::DEFERRED, 0, 2},
                             {"new@example.com"}});
  e.set_attempts(2);
  const ServerReply reason = ServerReply::Local(550, "5.7.0", "bounced by operator: blocklisted");
  absl::StatusOr<AttemptOutcome> o =
      FailUnfinished(e, kBody, reason, queue::proto::BOUNCED, info, NewId());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->remove);
  EXPECT_EQ(o->envelope.recipients(0).state(), queue::proto::DELIVERED);
  EXPECT_EQ(o->envelope.recipients(1).state(), queue::proto::BOUNCED);
  EXPECT_EQ(o->envelope.recipients(1).attempts(), 2u);  // not an attempt
  EXPECT_EQ(o->envelope.recipients(2).state(), queue::proto::BOUNCED);
  EXPECT_EQ(o->envelope.recipients(2).last_reply(), "550 5.7.0 bounced by operator: blocklisted");
  EXPECT_EQ(o->envelope.attempts(), 2u);
  ASSERT_EQ(o->dsns.size(), 1u);
  const std::string& body = o->dsns[0].body;
  EXPECT_TRUE(absl::StrContains(body, "Status: 5.7.0"));
  EXPECT_TRUE(absl::StrContains(body, "Diagnostic-Code: X-Sluice; 550 5.7.0 bounced by operator"));
  EXPECT_TRUE(absl::StrContains(body, "Final-Recipient: rfc822; later@example.com"));
  EXPECT_TRUE(absl::StrContains(body, "Final-Recipient: rfc822; new@example.com"));
  EXPECT_FALSE(absl::StrContains(body, "done@example.com"));
  EXPECT_FALSE(absl::StrContains(body, "Remote-MTA"));  // no server was involved
  ASSERT_EQ(o->events.size(), 3u);
  EXPECT_EQ(o->events[0].type, DeliveryEventType::kBounced);
  EXPECT_EQ(o->events[1].type, DeliveryEventType::kBounced);
  EXPECT_EQ(o->events[2].type, DeliveryEventType::kDsnFailure);
}

TEST_F(AttemptOutcomeTest, FailUnfinishedCanExpireAndHonoursNotifyAndNullSender) {
  AttemptInfo info;
  info.now = kCreated + absl::Hours(2);
  const ServerReply reason = ServerReply::Local(421, "", "expired by operator");
  {
    const Envelope e = MakeEnvelope({{"a@example.com"}});
    auto o = FailUnfinished(e, kBody, reason, queue::proto::EXPIRED, info, NewId());
    ASSERT_TRUE(o.ok());
    EXPECT_EQ(o->envelope.recipients(0).state(), queue::proto::EXPIRED);
    ASSERT_EQ(o->dsns.size(), 1u);
    EXPECT_TRUE(absl::StrContains(o->dsns[0].body, "Status: 4.4.7"));
    EXPECT_EQ(o->events[0].type, DeliveryEventType::kExpired);
  }
  {
    const Envelope e =
        MakeEnvelope({{"a@example.com", queue::proto::PENDING, queue::proto::NOTIFY_NEVER}});
    auto o = FailUnfinished(e, kBody, reason, queue::proto::BOUNCED, info, NewId());
    ASSERT_TRUE(o.ok());
    EXPECT_TRUE(o->dsns.empty());
  }
  {
    const Envelope e = MakeEnvelope({{"a@example.com"}}, "");
    auto o = FailUnfinished(e, kBody, reason, queue::proto::BOUNCED, info, NewId());
    ASSERT_TRUE(o.ok());
    EXPECT_TRUE(o->dsns.empty());
    EXPECT_TRUE(o->remove);
  }
  {
    const Envelope e = MakeEnvelope({{"a@example.com"}});
    auto o = FailUnfinished(e, kBody, reason, queue::proto::DEFERRED, info, NewId());
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace sluice::engine
