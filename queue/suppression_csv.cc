#include "queue/suppression_csv.h"

#include <csv.h>

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace sluice::queue {
namespace {

constexpr size_t kMaxErrors = 20;

// What libcsv's callbacks build: the rows, one vector of fields each.
struct Rows {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> current;
  std::vector<uint64_t> lines;  // the line each row started on
  uint64_t line = 1;
  uint64_t row_line = 1;
};

void OnField(void* data, size_t size, void* rows_ptr) {
  auto* rows = static_cast<Rows*>(rows_ptr);
  if (rows->current.empty()) rows->row_line = rows->line;
  rows->current.emplace_back(static_cast<const char*>(data), size);
}

void OnRow(int /*terminator*/, void* rows_ptr) {
  auto* rows = static_cast<Rows*>(rows_ptr);
  rows->rows.push_back(std::move(rows->current));
  rows->lines.push_back(rows->row_line);
  rows->current.clear();
}

// Times from 1970 to the end of 9999, which every format here can write.
constexpr int64_t kLastSecond = 253'402'300'799;  // 9999-12-31T23:59:59Z

// Unix milliseconds of an RFC 3339 time or a count of Unix seconds.
std::optional<int64_t> ParseTime(absl::string_view text) {
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) {
    if (seconds < 0 || seconds > kLastSecond) return std::nullopt;
    return seconds * 1000;
  }
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &time, &error)) return std::nullopt;
  if (time < absl::UnixEpoch() || time > absl::FromUnixSeconds(kLastSecond)) return std::nullopt;
  return absl::ToUnixMillis(time);
}

std::string FormatTime(int64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
}

void AppendField(std::string_view field, bool last, std::string* out) {
  // csv_write quotes every field and doubles the quotes in it: at most
  // 2 * size + 2 bytes.
  const size_t at = out->size();
  out->resize(at + 2 * field.size() + 2);
  const size_t written = csv_write(out->data() + at, out->size() - at, field.data(), field.size());
  out->resize(at + written);
  out->append(last ? "\r\n" : ",");
}

}  // namespace

absl::StatusOr<ParsedSuppressionCsv> ParseSuppressionCsv(std::string_view csv,
                                                         std::string_view scope,
                                                         int64_t now_unix_ms) {
  csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
    return absl::ResourceExhaustedError("csv: out of memory");
  }
  Rows rows;
  // Fed line by line, so errors can name the line they are on.
  size_t pos = 0;
  bool failed = false;
  while (pos < csv.size() && !failed) {
    size_t end = csv.find('\n', pos);
    end = end == std::string_view::npos ? csv.size() : end + 1;
    const std::string_view chunk = csv.substr(pos, end - pos);
    failed = csv_parse(&parser, chunk.data(), chunk.size(), OnField, OnRow, &rows) != chunk.size();
    pos = end;
    ++rows.line;
  }
  if (!failed) failed = csv_fini(&parser, OnField, OnRow, &rows) != 0;
  const std::string problem = failed ? csv_strerror(csv_error(&parser)) : "";
  csv_free(&parser);
  if (failed) {
    return absl::InvalidArgumentError(absl::StrCat("csv: line ", rows.line - 1, ": ", problem));
  }
  if (rows.rows.empty()) return absl::InvalidArgumentError("csv: empty; a header line is needed");

  int address = -1, tenant = -1, source = -1, reason = -1, created = -1, expires = -1;
  const std::vector<std::string>& header = rows.rows[0];
  for (int i = 0; i < static_cast<int>(header.size()); ++i) {
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(header[i]));
    if (name == "address" || name == "email") address = i;
    if (name == "tenant") tenant = i;
    if (name == "source") source = i;
    if (name == "reason") reason = i;
    if (name == "created") created = i;
    if (name == "expires") expires = i;
  }
  if (address < 0) {
    return absl::InvalidArgumentError("csv: the header line has no \"address\" column");
  }

  ParsedSuppressionCsv out;
  out.entries.reserve(rows.rows.size() - 1);
  for (size_t r = 1; r < rows.rows.size(); ++r) {
    const std::vector<std::string>& row = rows.rows[r];
    auto field = [&row](int column) -> absl::string_view {
      return column >= 0 && column < static_cast<int>(row.size())
                 ? absl::StripAsciiWhitespace(row[column])
                 : absl::string_view();
    };
    auto refuse = [&](std::string problem) {
      ++out.refused;
      if (out.errors.size() < kMaxErrors) {
        out.errors.push_back(absl::StrCat("line ", rows.lines[r], ": ", problem));
      }
    };
    if (row.size() == 1 && row[0].empty()) continue;  // a blank line
    SuppressionEntry entry;
    const absl::string_view address_field = field(address);
    entry.address =
        NormalizeSuppressedAddress(std::string_view(address_field.data(), address_field.size()));
    if (entry.address.empty()) {
      refuse(absl::StrCat("\"", field(address), "\" is not an address"));
      continue;
    }
    entry.scope = tenant >= 0 ? std::string(field(tenant)) : std::string(scope);
    if (entry.scope.find('\0') != std::string::npos) {
      refuse("the tenant holds a NUL");
      continue;
    }
    if (!field(source).empty()) {
      const absl::string_view name = field(source);
      std::optional<SuppressionSource> parsed =
          ParseSuppressionSource(std::string_view(name.data(), name.size()));
      if (!parsed.has_value()) {
        refuse(absl::StrCat("unknown source \"", field(source),
                            "\" (hard-bounce, complaint, unsubscribe, operator)"));
        continue;
      }
      entry.source = *parsed;
    }
    entry.reason = std::string(field(reason));
    entry.created_unix_ms = now_unix_ms;
    if (!field(created).empty()) {
      std::optional<int64_t> time = ParseTime(field(created));
      if (!time.has_value()) {
        refuse(absl::StrCat("created: \"", field(created), "\" is not a time"));
        continue;
      }
      entry.created_unix_ms = *time;
    }
    if (!field(expires).empty()) {
      std::optional<int64_t> time = ParseTime(field(expires));
      if (!time.has_value()) {
        refuse(absl::StrCat("expires: \"", field(expires), "\" is not a time"));
        continue;
      }
      entry.expires_unix_ms = *time;
    }
    out.entries.push_back(std::move(entry));
  }
  return out;
}

std::string FormatSuppressionCsvHeader() {
  return "address,tenant,source,reason,created,expires\r\n";
}

void AppendSuppressionCsvRow(const SuppressionEntry& entry, std::string* out) {
  AppendField(entry.address, false, out);
  AppendField(entry.scope, false, out);
  AppendField(SuppressionSourceName(entry.source), false, out);
  AppendField(entry.reason, false, out);
  AppendField(FormatTime(entry.created_unix_ms), false, out);
  AppendField(entry.expires_unix_ms == 0 ? std::string() : FormatTime(entry.expires_unix_ms), true,
              out);
}

}  // namespace sluice::queue
