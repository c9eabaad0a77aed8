// suppression_csv: the suppression list as CSV (RFC 4180), for the admin
// API's import and export. Pure functions; any thread.
//
// The first line names the columns; "address" (or "email") is required,
// and "tenant", "source", "reason", "created" and "expires" are optional
// (other columns are ignored, so exports of other systems load as they
// are). Times are RFC 3339 ("2026-12-04T10:00:00Z") or Unix seconds, from
// 1970 to 9999; an empty "expires" never expires. A row without a tenant column gets the
// import's scope; one without a source is "operator"; one without
// "created" is made now. Lines end in CRLF or LF; fields may be quoted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "queue/suppression.h"

namespace sluice::queue {

struct ParsedSuppressionCsv {
  std::vector<SuppressionEntry> entries;
  // Rows that could not be used (a bad address, source or time), each
  // counted; the first 20 are described as "line N: problem".
  uint64_t refused = 0;
  std::vector<std::string> errors;
};

// InvalidArgument for a text that is not CSV (an unterminated quote) or
// has no address column.
absl::StatusOr<ParsedSuppressionCsv> ParseSuppressionCsv(std::string_view csv,
                                                         std::string_view scope,
                                                         int64_t now_unix_ms);

// "address,tenant,source,reason,created,expires" and one row per entry,
// CRLF line ends, times in RFC 3339 (UTC).
std::string FormatSuppressionCsvHeader();
void AppendSuppressionCsvRow(const SuppressionEntry& entry, std::string* out);

}  // namespace sluice::queue
