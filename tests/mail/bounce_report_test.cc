#include "mail/bounce_report.h"

#include <string>

#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace sluice::mail {
namespace {

// What Postfix 3.7's bounce(8) sends, trimmed.
const char kPostfixDsn[] =
    "Return-Path: <>\r\n"
    "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "To: b+01JABC@bounces.sluice.test\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
    "\tboundary=\"4F1C2.1700000000/mx.example.net\"\r\n"
    "\r\n"
    "This is a MIME-encapsulated message.\r\n"
    "\r\n"
    "--4F1C2.1700000000/mx.example.net\r\n"
    "Content-Description: Notification\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "This is the mail system at host mx.example.net.\r\n"
    "\r\n"
    "<nobody@example.net>: unknown user: \"nobody\"\r\n"
    "\r\n"
    "--4F1C2.1700000000/mx.example.net\r\n"
    "Content-Description: Delivery report\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.example.net\r\n"
    "X-Postfix-Queue-ID: 4F1C2\r\n"
    "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000 (UTC)\r\n"
    "\r\n"
    "Final-Recipient: rfc822; nobody@example.net\r\n"
    "Original-Recipient: rfc822;Nobody@Example.net\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Diagnostic-Code: X-Postfix; unknown user: \"nobody\"\r\n"
    "\r\n"
    "Final-Recipient: rfc822; later@example.net\r\n"
    "Action: delayed\r\n"
    "Status: 4.4.1 (persistent transient failure)\r\n"
    "Remote-MTA: dns; mx2.example.net\r\n"
    "Diagnostic-Code: smtp; 421 4.4.1 try again\r\n"
    "    later, please\r\n"
    "\r\n"
    "--4F1C2.1700000000/mx.example.net\r\n"
    "Content-Description: Undelivered Message Headers\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "Return-Path: <b+01JABC@bounces.sluice.test>\r\n"
    "From: News <news@sluice.test>\r\n"
    "To: nobody@example.net\r\n"
    "Message-ID: <01JABC@sluice.test>\r\n"
    "Subject: Weekly\r\n"
    "\r\n"
    "--4F1C2.1700000000/mx.example.net--\r\n";

TEST(BounceReportTest, ReadsEveryRecipientOfAPostfixDsnAndTheReturnedHeaders) {
  const BounceReport report = ParseBounceReport(kPostfixDsn);
  ASSERT_EQ(report.kind, BounceReportKind::kDeliveryStatus) << report.reason;
  EXPECT_EQ(report.reporting_mta, "mx.example.net");
  ASSERT_EQ(report.recipients.size(), 2u);
  const ReportedRecipient& failed = report.recipients[0];
  EXPECT_EQ(failed.final_recipient, "nobody@example.net");
  EXPECT_EQ(failed.original_recipient, "Nobody@Example.net");
  EXPECT_EQ(failed.action, "failed");
  EXPECT_EQ(failed.status, "5.1.1");
  EXPECT_EQ(failed.diagnostic, "unknown user: \"nobody\"");
  const ReportedRecipient& delayed = report.recipients[1];
  EXPECT_EQ(delayed.action, "delayed");
  EXPECT_EQ(delayed.status, "4.4.1");
  EXPECT_EQ(delayed.remote_mta, "mx2.example.net");
  EXPECT_EQ(delayed.diagnostic, "421 4.4.1 try again later, please");
  EXPECT_EQ(report.original_message_id, "01JABC@sluice.test");
  EXPECT_EQ(report.original_return_path, "b+01JABC@bounces.sluice.test");
  EXPECT_EQ(report.original_to, "nobody@example.net");
}

TEST(BounceReportTest, LineEndingsDoNotMatter) {
  for (const char* ending : {"\n", "\r"}) {
    const std::string message = absl::StrReplaceAll(kPostfixDsn, {{"\r\n", ending}});
    const BounceReport report = ParseBounceReport(message);
    ASSERT_EQ(report.kind, BounceReportKind::kDeliveryStatus);
    ASSERT_EQ(report.recipients.size(), 2u);
    EXPECT_EQ(report.recipients[0].status, "5.1.1");
    EXPECT_EQ(report.original_message_id, "01JABC@sluice.test");
  }
}

TEST(BounceReportTest, ATruncatedReportStillGivesWhatItHas) {
  std::string message = kPostfixDsn;
  message.resize(message.find("Final-Recipient: rfc822; later@"));
  const BounceReport report = ParseBounceReport(message);
  ASSERT_EQ(report.kind, BounceReportKind::kDeliveryStatus);
  ASSERT_EQ(report.recipients.size(), 1u);
  EXPECT_EQ(report.recipients[0].final_recipient, "nobody@example.net");
}

TEST(BounceReportTest, ReadsAFeedbackReportAndTheReportedMessage) {
  const char kArf[] =
      "From: <staff@hotmail.example>\r\n"
      "Subject: complaint about message from 192.0.2.1\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=\"part1\"\r\n"
      "\r\n"
      "--part1\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "This is an email abuse report.\r\n"
      "--part1\r\n"
      "Content-Type: message/feedback-report\r\n"
      "\r\n"
      "Feedback-Type: abuse\r\n"
      "User-Agent: SomeGenerator/1.0\r\n"
      "Version: 1\r\n"
      "Original-Mail-From: <b+01JXYZ@bounces.sluice.test>\r\n"
      "Original-Rcpt-To: <reader@hotmail.example>\r\n"
      "Source-IP: 192.0.2.1\r\n"
      "Reported-Domain: sluice.test\r\n"
      "\r\n"
      "--part1\r\n"
      "Content-Type: message/rfc822\r\n"
      "Content-Disposition: inline\r\n"
      "\r\n"
      "From: <news@sluice.test>\r\n"
      "To: <reader@hotmail.example>\r\n"
      "Message-ID: <01JXYZ@sluice.test>\r\n"
      "\r\n"
      "Spam spam spam\r\n"
      "--part1--\r\n";
  const BounceReport report = ParseBounceReport(kArf);
  ASSERT_EQ(report.kind, BounceReportKind::kFeedback);
  EXPECT_EQ(report.feedback.type, "abuse");
  EXPECT_EQ(report.feedback.original_rcpt_to, "reader@hotmail.example");
  EXPECT_EQ(report.feedback.original_mail_from, "b+01JXYZ@bounces.sluice.test");
  EXPECT_EQ(report.feedback.source_ip, "192.0.2.1");
  EXPECT_EQ(report.feedback.reported_domain, "sluice.test");
  EXPECT_EQ(report.original_message_id, "01JXYZ@sluice.test");
}

TEST(BounceReportTest, ReadsAQmailBounce) {
  const char kQmail[] =
      "From: MAILER-DAEMON@mail.example.org\r\n"
      "Subject: failure notice\r\n"
      "\r\n"
      "Hi. This is the qmail-send program at mail.example.org.\r\n"
      "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
      "This is a permanent error; I've given up. Sorry it didn't work out.\r\n"
      "\r\n"
      "<gone@example.org>:\r\n"
      "Sorry, no mailbox here by that name. (#5.1.1)\r\n"
      "\r\n"
      "--- Below this line is a copy of the message.\r\n"
      "\r\n"
      "Return-Path: <b+01JQ@bounces.sluice.test>\r\n"
      "Message-ID: <01JQ@sluice.test>\r\n"
      "\r\n"
      "hello\r\n";
  const BounceReport report = ParseBounceReport(kQmail);
  ASSERT_EQ(report.kind, BounceReportKind::kPlainBounce) << report.reason;
  ASSERT_EQ(report.recipients.size(), 1u);
  EXPECT_EQ(report.recipients[0].final_recipient, "gone@example.org");
  EXPECT_EQ(report.recipients[0].status, "5.1.1");
  EXPECT_EQ(report.recipients[0].action, "failed");
  EXPECT_EQ(report.original_message_id, "01JQ@sluice.test");
  EXPECT_EQ(report.original_return_path, "b+01JQ@bounces.sluice.test");
}

TEST(BounceReportTest, ReadsAnEximBounce) {
  const char kExim[] =
      "From: Mail Delivery System <Mailer-Daemon@mx.example.com>\r\n"
      "Subject: Mail delivery failed: returning message to sender\r\n"
      "Auto-Submitted: auto-replied\r\n"
      "\r\n"
      "This message was created automatically by mail delivery software.\r\n"
      "\r\n"
      "A message that you sent could not be delivered to one or more of its\r\n"
      "recipients. This is a permanent error. The following address(es) failed:\r\n"
      "\r\n"
      "  missing@example.com\r\n"
      "    host mx.example.com [192.0.2.7]\r\n"
      "    SMTP error from remote mail server after RCPT TO:<missing@example.com>:\r\n"
      "    550 5.1.1 <missing@example.com>: Recipient address rejected: User unknown\r\n"
      "\r\n"
      "------ This is a copy of the message, including all the headers. ------\r\n"
      "\r\n"
      "Message-ID: <01JE@sluice.test>\r\n"
      "\r\n"
      "body\r\n";
  const BounceReport report = ParseBounceReport(kExim);
  ASSERT_EQ(report.kind, BounceReportKind::kPlainBounce) << report.reason;
  ASSERT_EQ(report.recipients.size(), 1u);
  EXPECT_EQ(report.recipients[0].final_recipient, "missing@example.com");
  EXPECT_EQ(report.recipients[0].status, "5.1.1");
  EXPECT_NE(report.recipients[0].diagnostic.find("User unknown"), std::string::npos);
  EXPECT_EQ(report.original_message_id, "01JE@sluice.test");
}

TEST(BounceReportTest, AnOutOfOfficeReplyIsNotABounce) {
  const BounceReport report = ParseBounceReport(
      "From: boss@example.com\r\nSubject: Out of Office: Weekly\r\nAuto-Submitted: "
      "auto-replied\r\n\r\nI am away until Monday.\r\n");
  EXPECT_EQ(report.kind, BounceReportKind::kAutoReply);
  EXPECT_TRUE(report.recipients.empty());
}

TEST(BounceReportTest, SomethingElseIsUnknownWithAReason) {
  const BounceReport report =
      ParseBounceReport("From: someone@example.com\r\nSubject: hello\r\n\r\njust mail\r\n");
  EXPECT_EQ(report.kind, BounceReportKind::kUnknown);
  EXPECT_FALSE(report.reason.empty());
  EXPECT_EQ(ParseBounceReport("").kind, BounceReportKind::kUnknown);
  EXPECT_EQ(ParseBounceReport("\r\n\r\n--\r\n").kind, BounceReportKind::kUnknown);
}

TEST(BounceReportTest, DeepNestingAndManyPartsAreBounded) {
  std::string message;
  for (int i = 0; i < 200; ++i) {
    message += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
               std::to_string(i) + "\r\n";
  }
  EXPECT_EQ(ParseBounceReport(message).kind, BounceReportKind::kUnknown);
  std::string wide = "Content-Type: multipart/mixed; boundary=\"w\"\r\n\r\n";
  for (int i = 0; i < 10000; ++i) wide += "--w\r\n\r\nx\r\n";
  EXPECT_EQ(ParseBounceReport(wide).kind, BounceReportKind::kUnknown);
}

}  // namespace
}  // namespace sluice::mail
