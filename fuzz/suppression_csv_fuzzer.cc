// libFuzzer target: the suppression list's CSV import
// (queue/suppression_csv.h) on arbitrary text. Checks, besides the
// sanitizers:
//  - every entry it keeps has a normalized address (lower case, with an @);
//  - what it keeps survives a round trip: written back as CSV and read
//    again, the same entries come out and nothing is refused.
#include <cstddef>
#include <cstdint>
#include <string>

#include "queue/suppression_csv.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

constexpr int64_t kNow = 1'800'000'000'000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string csv(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<sluice::queue::ParsedSuppressionCsv> parsed =
      sluice::queue::ParseSuppressionCsv(csv, "scope", kNow);
  if (!parsed.ok()) {
    Check(!parsed.status().message().empty());
    return 0;
  }
  Check(parsed->errors.size() <= parsed->refused);
  std::string again = sluice::queue::FormatSuppressionCsvHeader();
  for (const sluice::queue::SuppressionEntry& entry : parsed->entries) {
    Check(!entry.address.empty());
    Check(sluice::queue::NormalizeSuppressedAddress(entry.address) == entry.address);
    sluice::queue::AppendSuppressionCsvRow(entry, &again);
  }
  const absl::StatusOr<sluice::queue::ParsedSuppressionCsv> reread =
      sluice::queue::ParseSuppressionCsv(again, "other", kNow);
  Check(reread.ok());
  Check(reread->refused == 0);
  Check(reread->entries.size() == parsed->entries.size());
  for (size_t i = 0; i < parsed->entries.size(); ++i) {
    const sluice::queue::SuppressionEntry& a = parsed->entries[i];
    const sluice::queue::SuppressionEntry& b = reread->entries[i];
    Check(a.address == b.address && a.scope == b.scope && a.source == b.source &&
          a.reason == b.reason);
    // Times are written in whole seconds.
    Check(a.created_unix_ms / 1000 == b.created_unix_ms / 1000);
    Check(a.expires_unix_ms / 1000 == b.expires_unix_ms / 1000);
  }
  return 0;
}
