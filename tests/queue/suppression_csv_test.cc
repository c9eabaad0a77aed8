// CSV as operators hand it over: LF or CRLF, quoted fields, optional
// columns in any order, and rows that cannot be used named by line.
#include "queue/suppression_csv.h"

#include "gtest/gtest.h"

namespace sluice::queue {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

TEST(SuppressionCsvTest, ReadsColumnsInAnyOrderWithLfLineEnds) {
  absl::StatusOr<ParsedSuppressionCsv> parsed = ParseSuppressionCsv(
      "Reason,Source,EMAIL,created,expires,extra\n"
      "\"a \"\"quoted\"\"\nreason\",complaint, A@Example.com ,1700000000,2030-01-01T00:00:00Z,x\n"
      ",,b@example.com,,,\n",
      "acme", kNow);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->entries.size(), 2u);
  const SuppressionEntry& a = parsed->entries[0];
  EXPECT_EQ(a.scope, "acme");
  EXPECT_EQ(a.address, "a@example.com");
  EXPECT_EQ(a.source, SuppressionSource::kComplaint);
  EXPECT_EQ(a.reason, "a \"quoted\"\nreason");
  EXPECT_EQ(a.created_unix_ms, 1'700'000'000'000);
  EXPECT_EQ(a.expires_unix_ms, 1'893'456'000'000);
  const SuppressionEntry& b = parsed->entries[1];
  EXPECT_EQ(b.source, SuppressionSource::kOperator);
  EXPECT_EQ(b.created_unix_ms, kNow);
  EXPECT_EQ(b.expires_unix_ms, 0);
}

TEST(SuppressionCsvTest, NamesTheLinesItRefuses) {
  absl::StatusOr<ParsedSuppressionCsv> parsed = ParseSuppressionCsv(
      "address,source,expires\r\n"
      "ok@example.com,,\r\n"
      "no-at-sign,,\r\n"
      "\r\n"
      "c@example.com,bounced,\r\n"
      "d@example.com,,next tuesday\r\n",
      "", kNow);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->entries.size(), 1u);
  EXPECT_EQ(parsed->refused, 3u);
  ASSERT_EQ(parsed->errors.size(), 3u);
  EXPECT_EQ(parsed->errors[0], "line 3: \"no-at-sign\" is not an address");
  EXPECT_EQ(parsed->errors[1],
            "line 5: unknown source \"bounced\" (hard-bounce, complaint, unsubscribe, operator)");
  EXPECT_EQ(parsed->errors[2], "line 6: expires: \"next tuesday\" is not a time");
}

TEST(SuppressionCsvTest, RowsRoundTrip) {
  SuppressionEntry entry;
  entry.scope = "acme";
  entry.address = "x@example.com";
  entry.source = SuppressionSource::kUnsubscribe;
  entry.reason = "said \"stop\", twice";
  entry.created_unix_ms = 1'800'000'000'000;
  std::string csv = FormatSuppressionCsvHeader();
  AppendSuppressionCsvRow(entry, &csv);
  absl::StatusOr<ParsedSuppressionCsv> parsed = ParseSuppressionCsv(csv, "other", kNow);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->entries.size(), 1u);
  EXPECT_EQ(parsed->entries[0], entry);
}

TEST(SuppressionCsvTest, RefusesAnUnterminatedQuote) {
  absl::StatusOr<ParsedSuppressionCsv> parsed =
      ParseSuppressionCsv("address\n\"a@example.com\n", "", kNow);
  EXPECT_TRUE(absl::IsInvalidArgument(parsed.status())) << parsed.status();
  EXPECT_TRUE(absl::IsInvalidArgument(ParseSuppressionCsv("", "", kNow).status()));
}

}  // namespace
}  // namespace sluice::queue
