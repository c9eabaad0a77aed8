// ParseBounceReport: what a message that arrived at a bounce domain says.
//
//   - RFC 3464 delivery status notifications (multipart/report;
//     report-type=delivery-status): per recipient Final-Recipient,
//     Original-Recipient, Action, Status, Remote-MTA, Diagnostic-Code.
//   - RFC 5965 feedback reports (multipart/report;
//     report-type=feedback-report): Feedback-Type (abuse, fraud, opt-out,
//     virus, other...), Original-Rcpt-To, Original-Mail-From, Source-IP,
//     Arrival-Date, Reported-Domain.
//   - Bounces in plain text, as qmail ("Hi. This is the qmail-send
//     program", "<addr>:" paragraphs) and Exim ("The following
//     address(es) failed:", indented addresses) write them, and other
//     mailer-daemon notices that quote an SMTP reply.
//   - Auto-replies (RFC 3834 Auto-Submitted: auto-replied, vacation and
//     out-of-office notices), which are not bounces.
//
// Each keeps the returned original's Message-ID, sender and recipients
// when the report encloses the message or its headers, so the bounce can
// be tied to what sluice sent. Broken MIME, odd line endings and truncated
// parts are read as far as they go; a message that is none of the above
// comes back kUnknown with the reason. Never fails; pure; any thread.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace sluice::mail {

enum class BounceReportKind {
  kDeliveryStatus,
  kFeedback,
  kPlainBounce,
  kAutoReply,
  kUnknown,
};

struct ReportedRecipient {
  std::string final_recipient;     // "user@example.com", without its type
  std::string original_recipient;  // the same, from Original-Recipient, or ""
  std::string action;              // lowercase: failed, delayed, delivered, relayed, expanded
  std::string status;              // "5.1.1", or "" when none was given
  std::string remote_mta;          // without its type
  std::string diagnostic;          // the reply as the remote MTA gave it, without "smtp;"
};

struct FeedbackReport {
  std::string type;  // lowercase: abuse, fraud, opt-out, virus, not-spam, auth-failure, other
  std::string user_agent;
  std::string original_rcpt_to;
  std::string original_mail_from;
  std::string source_ip;
  std::string arrival_date;
  std::string reported_domain;
};

struct BounceReport {
  BounceReportKind kind = BounceReportKind::kUnknown;
  std::vector<ReportedRecipient> recipients;  // DSN and plain bounces
  FeedbackReport feedback;                    // kFeedback
  std::string reporting_mta;
  // From the enclosed original message (or its headers), when present.
  std::string original_message_id;  // without angle brackets
  std::string original_from;
  std::string original_to;
  std::string original_return_path;  // the VERP address sluice sent from
  std::string reason;                // kUnknown: why
};

BounceReport ParseBounceReport(absl::string_view message);

absl::string_view BounceReportKindName(BounceReportKind kind);

}  // namespace sluice::mail
