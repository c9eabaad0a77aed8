#include "engine/inbound_reports.h"

#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/event_log.h"
#include "gtest/gtest.h"
#include "queue/spool_keys.h"
#include "tests/engine/delivery_fakes.h"

namespace sluice::engine {
namespace {

using testing::RunUntil;

const char kDsn[] =
    "From: MAILER-DAEMON@mx.example.net\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nsorry\r\n"
    "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n"
    "\r\nFinal-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    "Remote-MTA: dns; mx.example.net\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: user unknown\r\n\r\n"
    "Final-Recipient: rfc822; fine@example.net\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n"
    "--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <01JORIG@sluice.test>\r\n\r\n"
    "--b--\r\n";

const char kArf[] =
    "From: fbl@provider.example\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=feedback-report; boundary=\"p\"\r\n\r\n"
    "--p\r\nContent-Type: text/plain\r\n\r\nabuse report\r\n"
    "--p\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
    "Original-Rcpt-To: <reader@provider.example>\r\nSource-IP: 192.0.2.9\r\n\r\n"
    "--p\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <01JSPAM@sluice.test>\r\n\r\nx\r\n"
    "--p--\r\n";

class InboundReportsTest : public testing::DeliveryTest {
 protected:
  InboundReportsTest() {
    path_ = std::string(getenv("TEST_TMPDIR")) + "/events-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".jsonl";
    EventLogOptions options;
    options.path = path_;
    events_ = *EventLog::Open(options);
    shared_.events = events_.get();
    inbound_ = std::make_unique<InboundReports>(*reactor_, shared_, ops_);
  }

  // Stores `body` as a message of the queue "bounces" for `recipient` and
  // processes it.
  common::MessageId Process(const std::string& body,
                            const std::string& recipient = "b@bounces.sluice.test") {
    const std::string domain = recipient.substr(recipient.rfind('@') + 1);
    const common::MessageId id = spool_.Put(domain, {recipient});
    spool_.SetBody(id, body, kInboundBouncesQueue);
    queue::ScheduledMessage message;
    message.id = id;
    message.domain = domain;
    message.queue = kInboundBouncesQueue;
    inbound_->Process(message);
    EXPECT_TRUE(RunUntil(*reactor_, [&] { return ops_.count() == 0; }));
    return id;
  }

  std::vector<std::string> EventLines() {
    events_->Flush();
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return absl::StrSplit(text.str(), '\n', absl::SkipEmpty());
  }

  std::string path_;
  std::unique_ptr<EventLog> events_;
  PendingOps ops_;
  std::unique_ptr<InboundReports> inbound_;
};

TEST_F(InboundReportsTest, ADsnBecomesAnAsyncBounceEventPerFailedRecipientAndIsRemoved) {
  const common::MessageId id = Process(kDsn);
  const std::vector<std::string> lines = EventLines();
  ASSERT_EQ(lines.size(), 1u);  // the delivered recipient is no bounce
  EXPECT_TRUE(absl::StrContains(lines[0], "\"type\":\"async_bounce\"")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "\"recipient\":\"gone@example.net\""));
  EXPECT_TRUE(absl::StrContains(lines[0], "\"status\":\"5.1.1\""));
  EXPECT_TRUE(absl::StrContains(lines[0], "\"category\":\"bad-mailbox\""));
  EXPECT_TRUE(absl::StrContains(lines[0], "\"original_message_id\":\"01JORIG@sluice.test\""));
  EXPECT_FALSE(spool_.Find(id).has_value());
}

TEST_F(InboundReportsTest, AFeedbackReportBecomesAComplaint) {
  Process(kArf);
  const std::vector<std::string> lines = EventLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], "\"type\":\"complaint\"")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "\"recipient\":\"reader@provider.example\""));
  EXPECT_TRUE(absl::StrContains(lines[0], "\"category\":\"abuse\""));
  EXPECT_TRUE(absl::StrContains(lines[0], "\"original_message_id\":\"01JSPAM@sluice.test\""));
}

TEST_F(InboundReportsTest, WhatCannotBeUnderstoodIsKeptAsideWithTheReason) {
  const common::MessageId id = Process("From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n");
  EXPECT_TRUE(EventLines().empty());
  const std::optional<queue::Envelope> kept = spool_.Find(id);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->queue(), kUnknownBouncesQueue);
  EXPECT_FALSE(kept->last_reply().empty());
  EXPECT_EQ(kept->next_due_unix_ms(), std::numeric_limits<int64_t>::max());
}

TEST_F(InboundReportsTest, AReportToAVerpAddressNamesTheEnvelopeEvenWhenMangled) {
  const mail::Verp verp = *mail::Verp::Create(std::string(32, 'v'));
  shared_.verp = &verp;
  const common::MessageId original = common::MessageId::FromParts(1'800'000'000'000, 1, 0, 5);
  const std::string address = verp.Encode(original, 3, "bounces.sluice.test");
  // A "DSN" a broken MTA wrote: no report, just words.
  const common::MessageId id =
      Process("From: postmaster@broken.example\r\nSubject: ?\r\n\r\nno\r\n", address);
  const std::vector<std::string> lines = EventLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], "\"type\":\"async_bounce\"")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "\"category\":\"other\""));
  EXPECT_TRUE(absl::StrContains(
      lines[0], absl::StrCat("\"original_envelope_id\":\"", original.ToString(), "\"")));
  EXPECT_TRUE(absl::StrContains(lines[0], "\"original_recipient_index\":3"));
  EXPECT_FALSE(spool_.Find(id).has_value());
  shared_.verp = nullptr;
}

TEST_F(InboundReportsTest, AnAutoReplyIsDroppedWithoutAnEvent) {
  const common::MessageId id = Process(
      "From: a@example.com\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n"
      "\r\naway\r\n");
  EXPECT_TRUE(EventLines().empty());
  EXPECT_FALSE(spool_.Find(id).has_value());
}

TEST_F(InboundReportsTest, HardBouncesAndComplaintsAreSuppressedAndCountedBySite) {
  testing::FakeSuppressionList list;
  shared_.suppression.list = &list;
  shared_.suppression.bounce_categories[static_cast<size_t>(mail::BounceCategory::kBadMailbox)] =
      true;
  shared_.suppression.complaints = true;
  common::MetricsRegistry registry(1);
  std::vector<common::MetricLabels> categories;
  for (size_t c = 0; c < kBounceCategories; ++c) {
    categories.push_back({{"category", std::string(mail::BounceCategoryName(
                                           static_cast<mail::BounceCategory>(c)))}});
  }
  std::unique_ptr<common::BoundedLabels> by_site = *common::BoundedLabels::Create(
      registry,
      {.name = "bounces", .help = "h", .label = "site", .columns = categories, .promote_after = 1});
  std::vector<common::MetricLabels> types;
  for (std::string_view type : kFeedbackTypes) types.push_back({{"type", std::string(type)}});
  std::unique_ptr<common::BoundedLabels> complaints = *common::BoundedLabels::Create(
      registry,
      {.name = "complaints", .help = "h", .label = "site", .columns = types, .promote_after = 1});
  shared_.metrics.bounces_by_site = by_site.get();
  shared_.metrics.complaints_by_site = complaints.get();
  std::vector<std::string> looked_up;
  inbound_ = std::make_unique<InboundReports>(
      *reactor_, shared_, ops_,
      [&](std::string_view domain,
          absl::AnyInvocable<void(absl::StatusOr<dns::Destination>)> done) {
        looked_up.emplace_back(domain);
        dns::Destination destination;
        destination.site.key = "mx:mx." + std::string(domain);
        done(std::move(destination));
      });

  Process(kDsn);
  Process(kArf);
  ASSERT_EQ(list.entries.size(), 2u);
  EXPECT_EQ(list.entries[0].address, "gone@example.net");
  EXPECT_EQ(list.entries[0].scope, "");  // the DSN names no tenant: every tenant's
  EXPECT_EQ(list.entries[0].source, queue::SuppressionSource::kHardBounce);
  EXPECT_EQ(list.entries[1].address, "reader@provider.example");
  EXPECT_EQ(list.entries[1].source, queue::SuppressionSource::kComplaint);
  EXPECT_EQ(list.entries[1].reason, "feedback report: abuse (source 192.0.2.9)");
  EXPECT_EQ(looked_up, (std::vector<std::string>{"example.net", "provider.example"}));
  const std::string text = registry.RenderPrometheus();
  int series = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "#") || !absl::EndsWith(line, " 1")) continue;
    if (absl::StartsWith(line, "complaints{") && absl::StrContains(line, "type=\"abuse\"") &&
        absl::StrContains(line, "site=\"mx:mx.provider.example\"")) {
      ++series;
    }
    if (absl::StartsWith(line, "bounces{") && absl::StrContains(line, "category=\"bad-mailbox\"") &&
        absl::StrContains(line, "site=\"mx:mx.example.net\"")) {
      ++series;
    }
  }
  EXPECT_EQ(series, 2) << text;
  // The events carry the site too.
  const std::vector<std::string> lines = EventLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(absl::StrContains(lines[0], "\"site\":\"mx:mx.example.net\"")) << lines[0];
}

TEST_F(InboundReportsTest, ADsnToATenantsBounceDomainSuppressesForThatTenant) {
  const mail::Verp verp = *mail::Verp::Create(std::string(32, 'v'));
  shared_.verp = &verp;
  shared_.verp_tenant_by_domain["bounces.acme.example"] = "acme";
  testing::FakeSuppressionList list;
  shared_.suppression.list = &list;
  shared_.suppression.bounce_categories[static_cast<size_t>(mail::BounceCategory::kBadMailbox)] =
      true;
  const common::MessageId original = common::MessageId::FromParts(1'800'000'000'000, 1, 0, 5);
  Process(kDsn, verp.Encode(original, 0, "bounces.acme.example"));
  const std::vector<std::string> lines = EventLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], "\"tenant\":\"acme\"")) << lines[0];
  ASSERT_EQ(list.entries.size(), 1u);
  EXPECT_EQ(list.entries[0].scope, "acme");
  EXPECT_EQ(list.entries[0].address, "gone@example.net");
  shared_.verp = nullptr;
}

}  // namespace
}  // namespace sluice::engine
