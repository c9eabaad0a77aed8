// sluice-bounce: what sluice reads in a message that came back, from the
// shell. Reads one message on stdin and prints, as one JSON object, what
// ParseBounceReport found and how the shipped rules classify each
// recipient (mail/bounce_report.h, mail/bounce_classifier.h):
//
//   sluice-bounce < bounce.eml
//   {"kind":"delivery-status","reporting_mta":"mx.example.net",
//    "recipients":[{"final_recipient":"nobody@example.net",...,
//                   "category":"bad-mailbox","hard":true}],
//    "feedback":{...},"original":{"message_id":"...",...},"reason":""}
//
//   sluice-bounce --classify "550 5.1.1 user unknown"
//     classifies one SMTP reply instead.
//
// Exit status: 0 done, 2 bad usage.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "common/json_string.h"
#include "mail/bounce_classifier.h"
#include "mail/bounce_report.h"

ABSL_FLAG(std::string, classify, "", "classify this one SMTP reply instead of reading stdin");

namespace {

using sluice::common::AppendJsonString;
using sluice::mail::BounceClass;
using sluice::mail::BounceClassifier;

void Field(std::string* out, const char* name, const std::string& value, bool first = false) {
  if (!first) out->push_back(',');
  AppendJsonString(out, name);
  out->push_back(':');
  AppendJsonString(out, value);
}

// "550 5.1.1 text" or "550-5.1.1 text" without its code.
std::string AfterCode(const std::string& text) {
  if (BounceClassifier::ReplyCodeOf(text) == 0) return text;
  return std::string(
      absl::StripLeadingAsciiWhitespace(text.substr(std::min<size_t>(4, text.size()))));
}

std::string LeadingStatus(const std::string& text) {
  const size_t end = text.find(' ');
  const std::string first = text.substr(0, end);
  const bool looks = first.size() >= 5 && (first[0] == '2' || first[0] == '4' || first[0] == '5') &&
                     first[1] == '.';
  return looks ? first : "";
}

void AppendClass(std::string* out, const BounceClass& c) {
  Field(out, "category", std::string(sluice::mail::BounceCategoryName(c.category)));
  out->append(c.hard ? ",\"hard\":true" : ",\"hard\":false");
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "usage: sluice-bounce [--classify REPLY] < message\n");
    return 2;
  }
  const BounceClassifier& classifier = BounceClassifier::Builtin();
  std::string out = "{";
  if (const std::string reply = absl::GetFlag(FLAGS_classify); !reply.empty()) {
    const int code = BounceClassifier::ReplyCodeOf(reply);
    const std::string text = AfterCode(reply);
    const std::string status = LeadingStatus(text);
    Field(&out, "status", status, /*first=*/true);
    out.append(",\"code\":").append(std::to_string(code));
    AppendClass(&out, classifier.Classify(code, status, text));
    std::cout << out << "}\n";
    return 0;
  }
  const std::string message((std::istreambuf_iterator<char>(std::cin)),
                            std::istreambuf_iterator<char>());
  const sluice::mail::BounceReport report = sluice::mail::ParseBounceReport(message);
  Field(&out, "kind", std::string(sluice::mail::BounceReportKindName(report.kind)), true);
  Field(&out, "reporting_mta", report.reporting_mta);
  out.append(",\"recipients\":[");
  for (size_t i = 0; i < report.recipients.size(); ++i) {
    const sluice::mail::ReportedRecipient& r = report.recipients[i];
    if (i > 0) out.push_back(',');
    out.push_back('{');
    Field(&out, "final_recipient", r.final_recipient, true);
    Field(&out, "original_recipient", r.original_recipient);
    Field(&out, "action", r.action);
    Field(&out, "status", r.status);
    Field(&out, "remote_mta", r.remote_mta);
    Field(&out, "diagnostic", r.diagnostic);
    AppendClass(&out, classifier.ClassifyReply(r.diagnostic, r.status));
    out.push_back('}');
  }
  out.append("],\"feedback\":{");
  Field(&out, "type", report.feedback.type, true);
  Field(&out, "original_rcpt_to", report.feedback.original_rcpt_to);
  Field(&out, "original_mail_from", report.feedback.original_mail_from);
  Field(&out, "source_ip", report.feedback.source_ip);
  Field(&out, "reported_domain", report.feedback.reported_domain);
  out.append("},\"original\":{");
  Field(&out, "message_id", report.original_message_id, true);
  Field(&out, "return_path", report.original_return_path);
  Field(&out, "from", report.original_from);
  Field(&out, "to", report.original_to);
  out.push_back('}');
  Field(&out, "reason", report.reason);
  std::cout << out << "}\n";
  return 0;
}
