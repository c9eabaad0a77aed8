#include "api/ingest.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/fake_clock.h"
#include "gtest/gtest.h"
#include "queue/spool_keys.h"

namespace sluice::api {
namespace {

const absl::Time kTime = absl::FromUnixSeconds(1'795'824'000);  // Sat, 28 Nov 2026 00:00:00

TEST(IngestTest, ReceivedHeaderHasEveryClauseAndFoldsAt78) {
  ReceivedInfo info;
  info.helo = "client.example.org";
  info.client_ip = "192.0.2.7";
  info.by = "mx.sluice.test";
  info.protocol = "ESMTPSA";
  info.id = "01M8FQRDVC185G200000000000";
  info.tls = "TLSv1.3 TLS_AES_128_GCM_SHA256";
  info.for_recipient = "user@example.com";
  info.time = kTime;
  const std::string header = FormatReceived(info);
  ASSERT_TRUE(absl::EndsWith(header, "\r\n"));
  for (absl::string_view line : absl::StrSplit(header, "\r\n")) {
    EXPECT_LE(line.size(), 78u) << line;
  }
  const std::string unfolded = absl::StrReplaceAll(header, {{"\r\n\t", " "}});
  EXPECT_EQ(unfolded,
            "Received: from client.example.org ([192.0.2.7]) by mx.sluice.test (sluice) "
            "(TLSv1.3 TLS_AES_128_GCM_SHA256) with ESMTPSA id 01M8FQRDVC185G200000000000 "
            "for <user@example.com>; Sat, 28 Nov 2026 00:00:00 +0000\r\n");
}

TEST(IngestTest, ReceivedHeaderWithoutRecipientEndsTheIdClauseWithSemicolon) {
  ReceivedInfo info;
  info.client_ip = "::1";
  info.by = "mx";
  info.protocol = "ESMTP";
  info.id = "X";
  info.time = kTime;
  EXPECT_EQ(FormatReceived(info),
            "Received: from unknown ([::1]) by mx (sluice) with ESMTP id X;\r\n"
            "\tSat, 28 Nov 2026 00:00:00 +0000\r\n");
}

TEST(IngestTest, SubmissionGetsMessageIdAndDateAfterTraceLinesWhenMissing) {
  const std::string message =
      "Received: from a\r\n\tby b; Sat, 28 Nov 2026 00:00:00 +0000\r\n"
      "Subject: hi\r\n\r\nbody\r\n";
  EXPECT_EQ(AddMissingSubmissionHeaders(message, "mx.test", "ID1", kTime),
            "Received: from a\r\n\tby b; Sat, 28 Nov 2026 00:00:00 +0000\r\n"
            "Message-ID: <ID1@mx.test>\r\n"
            "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\n"
            "Subject: hi\r\n\r\nbody\r\n");
}

TEST(IngestTest, SubmissionKeepsTheClientsMessageIdAndDateInAnyCase) {
  const std::string message = "message-id: <x@y>\r\nDATE: whenever\r\n\r\nMessage-ID: body\r\n";
  EXPECT_EQ(AddMissingSubmissionHeaders(message, "mx.test", "ID1", kTime), message);
  // A header-like line in the body does not count.
  EXPECT_TRUE(absl::StrContains(
      AddMissingSubmissionHeaders("Subject: x\r\n\r\nMessage-ID: <b@c>\r\n", "h", "I", kTime),
      "Message-ID: <I@h>\r\nDate: "));
}

TEST(IngestTest, RecipientsAreSplitIntoOneEnvelopePerDomainSharingTheBody) {
  smtp::Envelope envelope;
  envelope.mail_from = {"sender", "example.org", false};
  envelope.ret = smtp::DsnRet::kHeaders;
  envelope.envid = "env-7";
  smtp::Recipient a{{"a", "one.example", false}, smtp::kNotifyFailure, "rfc822", "a@one.example"};
  smtp::Recipient b{{"b", "two.example", false}, 0, "", ""};
  smtp::Recipient c{{"c", "ONE.Example", false}, 0, "", ""};
  envelope.recipients = {a, b, c};
  common::FakeClock clock(kTime);
  common::MessageIdGenerator ids(&clock, 1, 5);
  const common::MessageId body_id = ids.Next();
  absl::flat_hash_set<std::string> bounce_domains = {"two.example"};
  queue::NewMessage message = BuildSpoolMessage(FromSmtp(envelope, "tenant-a"), "body", body_id,
                                                ids, kTime, IngestOptions{&bounce_domains, 0});

  EXPECT_EQ(message.body, "body");
  ASSERT_EQ(message.envelopes.size(), 2u);
  const queue::Envelope& one = message.envelopes[0];
  EXPECT_EQ(one.domain(), "one.example");
  ASSERT_EQ(one.recipients_size(), 2);
  EXPECT_EQ(one.recipients(0).notify(), static_cast<uint32_t>(queue::proto::NOTIFY_FAILURE));
  EXPECT_EQ(one.recipients(0).orcpt(), "rfc822;a@one.example");
  EXPECT_EQ(one.recipients(1).address(), "c@ONE.Example");
  EXPECT_EQ(one.sender(), "sender@example.org");
  EXPECT_EQ(one.ret(), queue::proto::RET_HDRS);
  EXPECT_EQ(one.envid(), "env-7");
  EXPECT_EQ(one.tenant(), "tenant-a");
  EXPECT_EQ(one.queue(), "");
  EXPECT_EQ(one.next_due_unix_ms(), absl::ToUnixMillis(kTime));
  EXPECT_EQ(one.body_id(), queue::IdKey(body_id));
  EXPECT_EQ(message.envelopes[1].domain(), "two.example");
  EXPECT_EQ(message.envelopes[1].queue(), "bounces");
  EXPECT_NE(one.id(), message.envelopes[1].id());
}

TEST(IngestTest, LargeDomainsAreChunkedAndEachRecipientLearnsItsEnvelope) {
  IngestEnvelope envelope;
  envelope.sender = "news@example.org";
  envelope.tenant = "acme";
  envelope.campaign = "spring";
  envelope.pool = "bulk";
  for (const char* address :
       {"a@big.example", "b@BIG.example", "c@big.example", "d@small.example", "e@big.example"}) {
    envelope.recipients.emplace_back().address = address;
  }
  common::FakeClock clock(kTime);
  common::MessageIdGenerator ids(&clock, 1, 5);
  std::vector<std::string> envelope_ids;
  queue::NewMessage message = BuildSpoolMessage(envelope, "body", ids.Next(), ids, kTime,
                                                IngestOptions{nullptr, 2}, &envelope_ids);

  // big.example: {a, b}, {c, e}; small.example: {d}.
  ASSERT_EQ(message.envelopes.size(), 3u);
  EXPECT_EQ(message.envelopes[0].recipients_size(), 2);
  EXPECT_EQ(message.envelopes[1].recipients_size(), 2);
  EXPECT_EQ(message.envelopes[1].recipients(1).address(), "e@big.example");
  EXPECT_EQ(message.envelopes[2].domain(), "small.example");
  for (const queue::Envelope& e : message.envelopes) {
    EXPECT_EQ(e.tenant(), "acme");
    EXPECT_EQ(e.campaign(), "spring");
    EXPECT_EQ(e.pool(), "bulk");
    EXPECT_EQ(e.queue(), "");
    EXPECT_EQ(e.size(), 4u);
  }
  ASSERT_EQ(envelope_ids.size(), 5u);
  EXPECT_EQ(queue::IdKey(*common::MessageId::Parse(envelope_ids[0])), message.envelopes[0].id());
  EXPECT_EQ(envelope_ids[0], envelope_ids[1]);
  EXPECT_EQ(envelope_ids[2], envelope_ids[4]);
  EXPECT_NE(envelope_ids[1], envelope_ids[2]);
  EXPECT_EQ(queue::IdKey(*common::MessageId::Parse(envelope_ids[3])), message.envelopes[2].id());
}

}  // namespace
}  // namespace sluice::api
