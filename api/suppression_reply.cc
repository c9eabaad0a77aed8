#include "api/suppression_reply.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace sluice::api {

std::string DescribeSuppression(const queue::SuppressionEntry& entry) {
  std::string text = entry.scope.empty() ? "suppressed for every tenant: " : "suppressed: ";
  const std::string_view source = queue::SuppressionSourceName(entry.source);
  absl::StrAppend(&text, absl::string_view(source.data(), source.size()), " on ",
                  absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(entry.created_unix_ms),
                                   absl::UTCTimeZone()));
  if (!entry.reason.empty()) {
    // One line, and not the whole of a long diagnostic.
    std::string reason = entry.reason.substr(0, 200);
    for (char& c : reason) {
      if (c == '\r' || c == '\n') c = ' ';
    }
    absl::StrAppend(&text, " (", reason, ")");
  }
  return text;
}

}  // namespace sluice::api
