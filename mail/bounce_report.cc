#include "mail/bounce_report.h"

#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "mime/mime_entity.h"
#include "re2/re2.h"

namespace sluice::mail {
namespace {

using mime::MimeEntity;
using mime::MimeHeader;

std::string Lower(absl::string_view text) { return absl::AsciiStrToLower(text); }

bool ContainsIgnoreCase(absl::string_view haystack, absl::string_view needle) {
  return absl::StrContains(absl::AsciiStrToLower(haystack), absl::AsciiStrToLower(needle));
}

// "rfc822; <User@Example.com>" -> "User@Example.com"
std::string StripTypeAndBrackets(absl::string_view value) {
  const size_t semicolon = value.find(';');
  if (semicolon != absl::string_view::npos) value = value.substr(semicolon + 1);
  value = absl::StripAsciiWhitespace(value);
  if (absl::ConsumePrefix(&value, "<")) absl::ConsumeSuffix(&value, ">");
  return std::string(absl::StripAsciiWhitespace(value));
}

std::string MessageIdOf(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  const size_t open = value.find('<');
  const size_t close = value.find('>', open == absl::string_view::npos ? 0 : open);
  if (open != absl::string_view::npos && close != absl::string_view::npos) {
    return std::string(value.substr(open + 1, close - open - 1));
  }
  return std::string(value);
}

const std::string* Field(const std::vector<MimeHeader>& fields, std::string_view name) {
  for (const MimeHeader& field : fields) {
    if (absl::EqualsIgnoreCase(absl::string_view(field.name.data(), field.name.size()),
                               absl::string_view(name.data(), name.size()))) {
      return &field.value;
    }
  }
  return nullptr;
}

std::string FieldOr(const std::vector<MimeHeader>& fields, std::string_view name) {
  const std::string* value = Field(fields, name);
  return value == nullptr ? std::string() : *value;
}

// The first entity of the tree (depth first) for which `match` holds.
template <typename Match>
const MimeEntity* Find(const MimeEntity& entity, const Match& match) {
  if (match(entity)) return &entity;
  for (const MimeEntity& part : entity.parts) {
    if (const MimeEntity* found = Find(part, match)) return found;
  }
  return nullptr;
}

// The message a report (or a plain bounce) encloses: message/rfc822,
// message/global or text/rfc822-headers.
void TakeOriginal(const MimeEntity& enclosed, BounceReport* report) {
  report->original_message_id = MessageIdOf(FieldOr(enclosed.headers, "Message-ID"));
  report->original_from = FieldOr(enclosed.headers, "From");
  report->original_to = FieldOr(enclosed.headers, "To");
  report->original_return_path = StripTypeAndBrackets(FieldOr(enclosed.headers, "Return-Path"));
}

void TakeOriginalFrom(const MimeEntity& report_entity, BounceReport* report) {
  const MimeEntity* original = Find(report_entity, [](const MimeEntity& e) {
    return !e.parts.empty() &&
           (e.Is("message", "rfc822") || e.Is("message", "global") ||
            e.Is("text", "rfc822-headers") || e.Is("message", "global-headers"));
  });
  if (original != nullptr) TakeOriginal(original->parts[0], report);
}

// The groups of a message/delivery-status body, each parsed as fields.
std::vector<std::vector<MimeHeader>> StatusGroups(const std::string& body) {
  std::vector<std::vector<MimeHeader>> groups;
  for (absl::string_view group : absl::StrSplit(body, "\r\n\r\n")) {
    std::vector<MimeHeader> fields =
        mime::ParseHeaderSection(std::string_view(group.data(), group.size()));
    if (!fields.empty()) groups.push_back(std::move(fields));
  }
  return groups;
}

void ReadDeliveryStatus(const MimeEntity& status_part, BounceReport* report) {
  const std::vector<std::vector<MimeHeader>> groups = StatusGroups(status_part.DecodedBody());
  for (const std::vector<MimeHeader>& group : groups) {
    const std::string* final_recipient = Field(group, "Final-Recipient");
    const std::string* original_recipient = Field(group, "Original-Recipient");
    if (final_recipient == nullptr && original_recipient == nullptr) {
      if (const std::string* mta = Field(group, "Reporting-MTA")) {
        report->reporting_mta = StripTypeAndBrackets(*mta);
      }
      continue;
    }
    ReportedRecipient& r = report->recipients.emplace_back();
    if (final_recipient != nullptr) r.final_recipient = StripTypeAndBrackets(*final_recipient);
    if (original_recipient != nullptr) {
      r.original_recipient = StripTypeAndBrackets(*original_recipient);
      if (r.final_recipient.empty()) r.final_recipient = r.original_recipient;
    }
    r.action = Lower(absl::StripAsciiWhitespace(FieldOr(group, "Action")));
    // "5.1.1 (bad destination mailbox address)": the code alone.
    const std::string status = FieldOr(group, "Status");
    r.status = std::string(absl::StripAsciiWhitespace(
        absl::string_view(status).substr(0, status.find_first_of(" \t("))));
    r.remote_mta = StripTypeAndBrackets(FieldOr(group, "Remote-MTA"));
    std::string diagnostic = FieldOr(group, "Diagnostic-Code");
    const size_t semicolon = diagnostic.find(';');
    if (semicolon != std::string::npos) diagnostic = diagnostic.substr(semicolon + 1);
    r.diagnostic = std::string(absl::StripAsciiWhitespace(diagnostic));
  }
}

void ReadFeedback(const MimeEntity& feedback_part, BounceReport* report) {
  const std::vector<std::vector<MimeHeader>> groups = StatusGroups(feedback_part.DecodedBody());
  if (groups.empty()) return;
  const std::vector<MimeHeader>& fields = groups[0];
  FeedbackReport& f = report->feedback;
  f.type = Lower(absl::StripAsciiWhitespace(FieldOr(fields, "Feedback-Type")));
  f.user_agent = FieldOr(fields, "User-Agent");
  f.original_rcpt_to = StripTypeAndBrackets(FieldOr(fields, "Original-Rcpt-To"));
  f.original_mail_from = StripTypeAndBrackets(FieldOr(fields, "Original-Mail-From"));
  f.source_ip = FieldOr(fields, "Source-IP");
  f.arrival_date = FieldOr(fields, "Arrival-Date");
  f.reported_domain = FieldOr(fields, "Reported-Domain");
}

// The readable text of a message: its body, or its first text/plain part.
std::string TextOf(const MimeEntity& entity) {
  if (entity.type == "text") return entity.DecodedBody();
  const MimeEntity* text = Find(entity, [](const MimeEntity& e) { return e.Is("text", "plain"); });
  return text == nullptr ? std::string() : text->DecodedBody();
}

std::string StatusIn(absl::string_view text) {
  static const re2::RE2* const kStatus = new re2::RE2(R"(\b([245]\.\d{1,3}\.\d{1,3})\b)");
  std::string status;
  re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *kStatus, &status);
  return status;
}

std::string ActionFor(absl::string_view diagnostic, absl::string_view status) {
  static const re2::RE2* const kTemporary = new re2::RE2(R"((^|\D)4\d\d[ -])");
  if (!status.empty()) return status[0] == '4' ? "delayed" : "failed";
  return re2::RE2::PartialMatch(re2::StringPiece(diagnostic.data(), diagnostic.size()), *kTemporary)
             ? "delayed"
             : "failed";
}

void AddPlainRecipient(std::string address, std::string diagnostic, BounceReport* report) {
  ReportedRecipient& r = report->recipients.emplace_back();
  r.final_recipient = std::move(address);
  r.diagnostic = std::string(absl::StripAsciiWhitespace(diagnostic));
  r.status = StatusIn(r.diagnostic);
  r.action = ActionFor(r.diagnostic, r.status);
}

// The message quoted after `marker` in a plain bounce, if any.
void TakeQuotedOriginal(absl::string_view text, absl::string_view marker, BounceReport* report) {
  const size_t at = text.find(marker);
  if (at == absl::string_view::npos) return;
  absl::string_view rest = text.substr(at + marker.size());
  const size_t line_end = rest.find("\r\n");
  if (line_end == absl::string_view::npos) return;
  rest = rest.substr(line_end + 2);
  while (absl::ConsumePrefix(&rest, "\r\n")) {
  }
  TakeOriginal(mime::ParseMime(rest), report);
}

// qmail: "<addr>:" starts a paragraph whose lines are the reason.
bool ReadQmail(absl::string_view text, BounceReport* report) {
  if (!absl::StrContains(text, "This is the qmail-send program")) return false;
  std::string address, diagnostic;
  for (absl::string_view line : absl::StrSplit(text, "\r\n")) {
    if (absl::StartsWith(line, "--- Below this line is a copy of the message")) break;
    if (absl::StartsWith(line, "<") && absl::EndsWith(line, ">:")) {
      if (!address.empty()) AddPlainRecipient(std::move(address), std::move(diagnostic), report);
      address = std::string(line.substr(1, line.size() - 3));
      diagnostic.clear();
    } else if (!address.empty() && !line.empty()) {
      absl::StrAppend(&diagnostic, diagnostic.empty() ? "" : " ", absl::StripAsciiWhitespace(line));
    } else if (!address.empty() && line.empty() && !diagnostic.empty()) {
      AddPlainRecipient(std::move(address), std::move(diagnostic), report);
      address.clear();
      diagnostic.clear();
    }
  }
  if (!address.empty()) AddPlainRecipient(std::move(address), std::move(diagnostic), report);
  TakeQuotedOriginal(text, "--- Below this line is a copy of the message.", report);
  return !report->recipients.empty();
}

// Exim: after "The following address(es) failed:", each address indented
// by two spaces, its reason indented further.
bool ReadExim(absl::string_view text, BounceReport* report) {
  const size_t start = text.find("following address(es) failed:");
  if (start == absl::string_view::npos) return false;
  std::string address, diagnostic;
  for (absl::string_view line : absl::StrSplit(text.substr(start), "\r\n")) {
    if (absl::StartsWith(line, "------ This is a copy of the message")) break;
    const bool reason = absl::StartsWith(line, "    ");
    if (!reason && absl::StartsWith(line, "  ") && absl::StrContains(line, "@")) {
      if (!address.empty()) AddPlainRecipient(std::move(address), std::move(diagnostic), report);
      address = std::string(absl::StripAsciiWhitespace(line));
      if (absl::EndsWith(address, ":")) address.pop_back();
      diagnostic.clear();
    } else if (reason && !address.empty()) {
      absl::StrAppend(&diagnostic, diagnostic.empty() ? "" : " ", absl::StripAsciiWhitespace(line));
    }
  }
  if (!address.empty()) AddPlainRecipient(std::move(address), std::move(diagnostic), report);
  TakeQuotedOriginal(text, "------ This is a copy of the message", report);
  return !report->recipients.empty();
}

// Other mailer-daemon notices: each line quoting an SMTP reply, with the
// address it names ("<user@example.com>: host mx said: 550 5.1.1 ...").
bool ReadQuotedReplies(absl::string_view text, BounceReport* report) {
  static const re2::RE2* const kReply =
      new re2::RE2(R"(<?([^\s<>"]+@[^\s<>"]+?)>?:?\s.*?\b([45]\d\d[ -].*)$)");
  for (absl::string_view line : absl::StrSplit(text, "\r\n")) {
    std::string address, reply;
    if (re2::RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *kReply, &address,
                               &reply)) {
      AddPlainRecipient(std::move(address), std::move(reply), report);
    }
  }
  return !report->recipients.empty();
}

bool FromMailerDaemon(const MimeEntity& message) {
  const std::string from = FieldOr(message.headers, "From");
  const std::string subject = FieldOr(message.headers, "Subject");
  return ContainsIgnoreCase(from, "mailer-daemon") || ContainsIgnoreCase(from, "postmaster") ||
         ContainsIgnoreCase(subject, "undeliver") || ContainsIgnoreCase(subject, "delivery fail") ||
         ContainsIgnoreCase(subject, "delivery status notification") ||
         ContainsIgnoreCase(subject, "returned mail") ||
         ContainsIgnoreCase(subject, "failure notice");
}

bool IsAutoReply(const MimeEntity& message) {
  const std::string submitted = Lower(FieldOr(message.headers, "Auto-Submitted"));
  if (!submitted.empty() && !absl::StartsWith(submitted, "no")) return true;
  if (Field(message.headers, "X-Autoreply") != nullptr ||
      Field(message.headers, "X-Autorespond") != nullptr) {
    return true;
  }
  if (Lower(FieldOr(message.headers, "Precedence")) == "auto_reply") return true;
  const std::string subject = Lower(FieldOr(message.headers, "Subject"));
  for (absl::string_view prefix :
       {"auto:", "automatic reply", "autoreply", "auto-reply", "out of office", "away from"}) {
    if (absl::StartsWith(subject, prefix)) return true;
  }
  return false;
}

}  // namespace

absl::string_view BounceReportKindName(BounceReportKind kind) {
  switch (kind) {
    case BounceReportKind::kDeliveryStatus:
      return "delivery-status";
    case BounceReportKind::kFeedback:
      return "feedback";
    case BounceReportKind::kPlainBounce:
      return "plain-bounce";
    case BounceReportKind::kAutoReply:
      return "auto-reply";
    case BounceReportKind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

BounceReport ParseBounceReport(absl::string_view message) {
  BounceReport report;
  const MimeEntity root = mime::ParseMime(message);

  const MimeEntity* multipart_report =
      Find(root, [](const MimeEntity& e) { return e.Is("multipart", "report"); });
  if (multipart_report != nullptr) {
    const std::string type = Lower(multipart_report->Param("report-type"));
    const MimeEntity* status = Find(*multipart_report, [](const MimeEntity& e) {
      return e.Is("message", "delivery-status") || e.Is("message", "global-delivery-status");
    });
    const MimeEntity* feedback = Find(
        *multipart_report, [](const MimeEntity& e) { return e.Is("message", "feedback-report"); });
    if (status != nullptr && type != "feedback-report") {
      report.kind = BounceReportKind::kDeliveryStatus;
      ReadDeliveryStatus(*status, &report);
      TakeOriginalFrom(*multipart_report, &report);
      if (!report.recipients.empty()) return report;
      report.recipients.clear();
    } else if (feedback != nullptr) {
      report.kind = BounceReportKind::kFeedback;
      ReadFeedback(*feedback, &report);
      TakeOriginalFrom(*multipart_report, &report);
      return report;
    }
  }

  const std::string text = TextOf(root);
  if (ReadQmail(text, &report) || ReadExim(text, &report) ||
      (FromMailerDaemon(root) && ReadQuotedReplies(text, &report))) {
    report.kind = BounceReportKind::kPlainBounce;
    if (report.original_message_id.empty()) TakeOriginalFrom(root, &report);
    return report;
  }
  report = BounceReport();
  if (IsAutoReply(root)) {
    report.kind = BounceReportKind::kAutoReply;
    return report;
  }
  report.kind = BounceReportKind::kUnknown;
  report.reason =
      multipart_report != nullptr
          ? "a multipart/report without a readable delivery-status or feedback part"
          : "neither a report (RFC 3464, RFC 5965) nor a bounce notice in a known shape";
  return report;
}

}  // namespace sluice::mail
