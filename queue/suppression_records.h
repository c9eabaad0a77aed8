// suppression_records: the suppression column family of SpoolDb, read
// (queue/suppression.h says what an entry means; SpoolBatch writes them).
// Blocking RocksDB reads: spool threads only, with the database open and
// held open (RocksDbSpool's db_mutex_) while they run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "queue/spool_db.h"
#include "queue/suppression.h"

namespace sluice::queue {

// The stored value of `entry` (its key is SuppressionKey(scope, address)).
std::string EncodeSuppression(const SuppressionEntry& entry);
// DataLoss when the key or the value does not decode.
absl::StatusOr<SuppressionEntry> DecodeSuppression(absl::string_view key, absl::string_view value);

// For each address (normalized here; one that is not an address has no
// entry), `tenant`'s live entry, else the global scope's; one MultiGet.
absl::StatusOr<std::vector<std::optional<SuppressionEntry>>> LookUpSuppressions(
    const SpoolDb& db, absl::string_view tenant, const std::vector<std::string>& addresses,
    int64_t now_unix_ms);

// Calls `visit` for each live entry of `scope` whose address starts with
// `prefix`, in address order, starting after `after`, over one snapshot,
// until it returns false.
absl::Status ScanSuppressions(const SpoolDb& db, absl::string_view scope, absl::string_view prefix,
                              absl::string_view after, int64_t now_unix_ms,
                              absl::FunctionRef<bool(const SuppressionEntry&)> visit);

// Every scope: the entries stored (live or not) and the keys of those
// expired at `now_unix_ms`.
struct SuppressionCensus {
  uint64_t entries = 0;
  std::vector<std::string> expired_keys;
};
absl::StatusOr<SuppressionCensus> TakeSuppressionCensus(const SpoolDb& db, int64_t now_unix_ms);

}  // namespace sluice::queue
