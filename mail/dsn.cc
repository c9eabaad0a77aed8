#include "mail/dsn.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mime/message_builder.h"

namespace sluice::mail {
namespace {

absl::string_view ActionName(DsnAction action) {
  switch (action) {
    case DsnAction::kFailed:
      return "failed";
    case DsnAction::kDelayed:
      return "delayed";
    case DsnAction::kDelivered:
      return "delivered";
    case DsnAction::kExpanded:
      return "expanded";
    case DsnAction::kRelayed:
      return "relayed";
  }
  return "failed";
}

// The header lines the DSN returns for RET=HDRS.
absl::string_view HeaderSection(absl::string_view message) {
  const std::string_view section =
      mime::HeaderSection(std::string_view(message.data(), message.size()));
  return absl::string_view(section.data(), section.size());
}

// A header field value must be one line: CR and LF become spaces.
std::string OneLine(absl::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return line;
}

std::string Explanation(const DsnRequest& request) {
  std::string text =
      absl::StrCat("This is the mail system at host ", request.reporting_mta, ".\r\n\r\n");
  bool any_failed = false;
  bool any_delayed = false;
  for (const DsnRecipient& r : request.recipients) {
    any_failed |= r.action == DsnAction::kFailed;
    any_delayed |= r.action == DsnAction::kDelayed;
  }
  if (any_failed) {
    text +=
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients. It's attached below.\r\n\r\n";
  }
  if (any_delayed) {
    text +=
        "Your message could not yet be delivered to one or more recipients.\r\n"
        "It will be tried again; you do not need to send it again.\r\n\r\n";
  }
  if (!any_failed && !any_delayed) {
    text +=
        "Your message was passed on to the next mail system, which cannot\r\n"
        "send delivery reports of its own; this is the last report about it.\r\n\r\n";
  }
  for (const DsnRecipient& r : request.recipients) {
    absl::StrAppend(&text, "<", r.final_recipient, ">: ", ActionName(r.action));
    if (!r.diagnostic.empty()) absl::StrAppend(&text, ": ", OneLine(r.diagnostic));
    text += "\r\n";
  }
  return text;
}

std::string DeliveryStatus(const DsnRequest& request) {
  std::string fields = absl::StrCat("Reporting-MTA: dns; ", request.reporting_mta, "\r\n");
  if (!request.envid.empty()) {
    absl::StrAppend(&fields, "Original-Envelope-Id: ", OneLine(request.envid), "\r\n");
  }
  if (request.arrival != absl::InfinitePast()) {
    absl::StrAppend(&fields, "Arrival-Date: ", mime::FormatDate(request.arrival), "\r\n");
  }
  for (const DsnRecipient& r : request.recipients) {
    fields += "\r\n";
    if (!r.original_recipient.empty()) {
      absl::StrAppend(&fields, "Original-Recipient: ", OneLine(r.original_recipient), "\r\n");
    }
    absl::StrAppend(&fields, "Final-Recipient: rfc822; ", r.final_recipient, "\r\n");
    absl::StrAppend(&fields, "Action: ", ActionName(r.action), "\r\n");
    absl::StrAppend(&fields, "Status: ", r.status, "\r\n");
    if (!r.remote_mta.empty()) absl::StrAppend(&fields, "Remote-MTA: dns; ", r.remote_mta, "\r\n");
    if (!r.diagnostic.empty()) {
      absl::StrAppend(&fields,
                      "Diagnostic-Code: ", r.diagnostic_local ? kLocalDiagnosticType : "smtp", "; ",
                      OneLine(r.diagnostic), "\r\n");
    }
    if (r.last_attempt != absl::InfinitePast()) {
      absl::StrAppend(&fields, "Last-Attempt-Date: ", mime::FormatDate(r.last_attempt), "\r\n");
    }
    if (r.action == DsnAction::kDelayed && r.will_retry_until != absl::InfinitePast()) {
      absl::StrAppend(&fields, "Will-Retry-Until: ", mime::FormatDate(r.will_retry_until), "\r\n");
    }
  }
  return fields;
}

}  // namespace

std::string ChooseBoundary(absl::string_view content, absl::string_view seed) {
  std::string boundary = absl::StrCat("=_sluice_dsn_", seed);
  while (absl::StrContains(content, boundary)) boundary += "_x";
  return boundary;
}

// The Subject: by the worst news the report carries.
absl::string_view Subject(const DsnRequest& request) {
  bool any_failed = false;
  bool any_delayed = false;
  for (const DsnRecipient& r : request.recipients) {
    any_failed |= r.action == DsnAction::kFailed;
    any_delayed |= r.action == DsnAction::kDelayed;
  }
  if (any_failed) return "Undelivered Mail Returned to Sender";
  if (any_delayed) return "Delayed Mail (still being retried)";
  return "Successful Mail Delivery Report";
}

std::string BuildDsn(const DsnRequest& request) {
  const std::string from =
      request.from.empty() ? absl::StrCat("MAILER-DAEMON@", request.reporting_mta) : request.from;
  const std::string& b = request.boundary;
  std::string message =
      absl::StrCat("From: Mail Delivery System <", from, ">\r\n", "To: <", request.to, ">\r\n",
                   "Subject: ", Subject(request), "\r\n", "Date: ", mime::FormatDate(request.now),
                   "\r\n", "Message-ID: ", request.message_id, "\r\n",
                   "Auto-Submitted: auto-replied\r\n", "MIME-Version: 1.0\r\n",
                   "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"",
                   b, "\"\r\n", "\r\n", "This is a MIME-encapsulated message.\r\n\r\n");
  absl::StrAppend(&message, "--", b, "\r\n", "Content-Type: text/plain; charset=utf-8\r\n",
                  "Content-Description: Notification\r\n", "\r\n", Explanation(request), "\r\n");
  absl::StrAppend(&message, "--", b, "\r\n", "Content-Type: message/delivery-status\r\n",
                  "Content-Description: Delivery report\r\n", "\r\n", DeliveryStatus(request),
                  "\r\n");
  if (request.return_headers_only) {
    absl::StrAppend(&message, "--", b, "\r\n", "Content-Type: text/rfc822-headers\r\n",
                    "Content-Description: Undelivered Message Headers\r\n", "\r\n",
                    HeaderSection(request.original), "\r\n");
  } else {
    absl::StrAppend(&message, "--", b, "\r\n", "Content-Type: message/rfc822\r\n",
                    "Content-Description: Undelivered Message\r\n", "\r\n", request.original);
    if (!absl::EndsWith(request.original, "\r\n")) message += "\r\n";
    message += "\r\n";
  }
  absl::StrAppend(&message, "--", b, "--\r\n");
  return message;
}

}  // namespace sluice::mail
