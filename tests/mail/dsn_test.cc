#include "mail/dsn.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace sluice::mail {
namespace {

constexpr char kOriginal[] =
    "From: a@example.org\r\nTo: b@example.com\r\nSubject: hello\r\n\r\nthe body\r\n";

DsnRequest Request() {
  DsnRequest request;
  request.reporting_mta = "mx.sluice.test";
  request.to = "a@example.org";
  request.envid = "env-1";
  request.arrival = absl::FromUnixSeconds(1'795'824'000);
  request.now = request.arrival + absl::Hours(1);
  request.original = kOriginal;
  request.message_id = "<dsn1@mx.sluice.test>";
  request.boundary = ChooseBoundary(kOriginal, "b1");
  DsnRecipient failed;
  failed.final_recipient = "b@example.com";
  failed.original_recipient = "rfc822;b@example.com";
  failed.action = DsnAction::kFailed;
  failed.status = "5.1.1";
  failed.remote_mta = "mx.example.com";
  failed.diagnostic = "550 5.1.1 <b@example.com>: no such user";
  failed.last_attempt = request.now;
  request.recipients.push_back(failed);
  return request;
}

TEST(DsnTest, FailedRecipientReportHasTheRfc3464FieldsAndTheWholeMessage) {
  const std::string dsn = BuildDsn(Request());
  EXPECT_TRUE(absl::StartsWith(dsn, "From: Mail Delivery System <MAILER-DAEMON@mx.sluice.test>"));
  EXPECT_TRUE(absl::StrContains(dsn, "To: <a@example.org>\r\n"));
  EXPECT_TRUE(absl::StrContains(dsn, "Subject: Undelivered Mail Returned to Sender\r\n"));
  EXPECT_TRUE(absl::StrContains(dsn, "Auto-Submitted: auto-replied\r\n"));
  EXPECT_TRUE(absl::StrContains(dsn, "multipart/report; report-type=delivery-status;"));
  for (const char* field :
       {"Reporting-MTA: dns; mx.sluice.test\r\n", "Original-Envelope-Id: env-1\r\n",
        "Arrival-Date: Sat, 28 Nov 2026 00:00:00 +0000\r\n",
        "Original-Recipient: rfc822;b@example.com\r\n",
        "Final-Recipient: rfc822; b@example.com\r\n", "Action: failed\r\n", "Status: 5.1.1\r\n",
        "Remote-MTA: dns; mx.example.com\r\n",
        "Diagnostic-Code: smtp; 550 5.1.1 <b@example.com>: no such user\r\n",
        "Last-Attempt-Date: Sat, 28 Nov 2026 01:00:00 +0000\r\n"}) {
    EXPECT_TRUE(absl::StrContains(dsn, field)) << field;
  }
  EXPECT_TRUE(absl::StrContains(dsn, "Content-Type: message/rfc822\r\n"));
  EXPECT_TRUE(absl::StrContains(dsn, std::string(kOriginal)));
  EXPECT_TRUE(absl::EndsWith(dsn, "--" + Request().boundary + "--\r\n"));
  for (absl::string_view line : absl::StrSplit(dsn, "\r\n")) {
    EXPECT_FALSE(absl::StrContains(line, "\n")) << "bare LF in " << line;
  }
}

TEST(DsnTest, OurOwnDiagnosticIsNotTypedAsAServerReply) {
  DsnRequest request = Request();
  DsnRecipient& r = request.recipients[0];
  r.remote_mta.clear();
  r.status = "5.1.2";
  r.diagnostic = "550 5.1.2 no such domain: nowhere.example";
  r.diagnostic_local = true;
  const std::string dsn = BuildDsn(request);
  EXPECT_TRUE(absl::StrContains(
      dsn, "Diagnostic-Code: X-Sluice; 550 5.1.2 no such domain: nowhere.example\r\n"))
      << dsn;
  EXPECT_FALSE(absl::StrContains(dsn, "Diagnostic-Code: smtp;")) << dsn;
  EXPECT_FALSE(absl::StrContains(dsn, "Remote-MTA:")) << dsn;
}

TEST(DsnTest, RetHeadersReturnsOnlyTheHeaderSection) {
  DsnRequest request = Request();
  request.return_headers_only = true;
  const std::string dsn = BuildDsn(request);
  EXPECT_TRUE(absl::StrContains(dsn, "Content-Type: text/rfc822-headers\r\n"));
  EXPECT_TRUE(absl::StrContains(dsn, "Subject: hello\r\n"));
  EXPECT_FALSE(absl::StrContains(dsn, "the body"));
}

TEST(DsnTest, DelayNoticeSaysItWillRetryAndUntilWhen) {
  DsnRequest request = Request();
  request.recipients[0].action = DsnAction::kDelayed;
  request.recipients[0].status = "4.4.1";
  request.recipients[0].will_retry_until = request.arrival + absl::Hours(120);
  const std::string dsn = BuildDsn(request);
  EXPECT_TRUE(absl::StrContains(dsn, "Subject: Delayed Mail (still being retried)\r\n"));
  EXPECT_TRUE(absl::StrContains(dsn, "Action: delayed\r\n"));
  EXPECT_TRUE(absl::StrContains(dsn, "Will-Retry-Until: Thu, 03 Dec 2026 00:00:00 +0000\r\n"));
}

TEST(DsnTest, DiagnosticWithLineBreaksCannotInjectFields) {
  DsnRequest request = Request();
  request.recipients[0].diagnostic = "550 no\r\nAction: delivered";
  const std::string dsn = BuildDsn(request);
  EXPECT_FALSE(absl::StrContains(dsn, "\r\nAction: delivered"));
}

TEST(DsnTest, BoundaryNeverOccursInTheReturnedMessage) {
  const std::string content = "x=_sluice_dsn_b1 and =_sluice_dsn_b1_x";
  const std::string boundary = ChooseBoundary(content, "b1");
  EXPECT_FALSE(absl::StrContains(content, boundary));
}

}  // namespace
}  // namespace sluice::mail
