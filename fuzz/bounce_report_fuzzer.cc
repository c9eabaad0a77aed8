// libFuzzer target: the bounce and feedback-report parser
// (mail/bounce_report.h) on arbitrary messages. Checks, besides the
// sanitizers:
//  - it never fails and always says what it found;
//  - line endings do not matter: the same message with every CRLF made LF
//    parses to the same kind and recipients;
//  - a report always names a recipient or a feedback type it read, and an
//    unknown message always comes with a reason.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mail/bounce_report.h"

namespace {

using sluice::mail::BounceReport;
using sluice::mail::BounceReportKind;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

std::string WithLf(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out.push_back(text[i]);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string message(reinterpret_cast<const char*>(data), size);
  const BounceReport report = sluice::mail::ParseBounceReport(message);
  if (report.kind == BounceReportKind::kUnknown) Check(!report.reason.empty());
  if (report.kind == BounceReportKind::kDeliveryStatus ||
      report.kind == BounceReportKind::kPlainBounce) {
    Check(!report.recipients.empty());
  }
  if (message.find('\r') == std::string::npos || message.find("\r\n") == std::string::npos) {
    return 0;
  }
  // Only when every CR is part of a CRLF, so the LF form is the same text.
  const std::string lf = WithLf(message);
  if (lf.find('\r') != std::string::npos) return 0;
  const BounceReport again = sluice::mail::ParseBounceReport(lf);
  Check(again.kind == report.kind);
  Check(again.recipients.size() == report.recipients.size());
  for (size_t i = 0; i < report.recipients.size(); ++i) {
    Check(again.recipients[i].final_recipient == report.recipients[i].final_recipient);
    Check(again.recipients[i].status == report.recipients[i].status);
  }
  return 0;
}
