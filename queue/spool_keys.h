// spool_keys: how spool records are keyed in RocksDB.
//
// Every key starts with fixed-width big-endian numbers, so RocksDB's
// bytewise order is the order we want: envelopes and bodies by message id
// (ids are time-ordered, so by arrival), schedule entries by due time, then
// id. Pure functions; callable anywhere.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/message_id.h"

namespace sluice::queue {

// 16 bytes: the id itself. Used by the envelope and body column families.
std::string IdKey(const common::MessageId& id);
absl::StatusOr<common::MessageId> ParseIdKey(absl::string_view key);

// 24 bytes: due time in Unix milliseconds (clamped at 0), then the id.
std::string ScheduleKey(int64_t due_unix_ms, const common::MessageId& id);

struct ScheduleKeyParts {
  int64_t due_unix_ms = 0;
  common::MessageId id;
};
absl::StatusOr<ScheduleKeyParts> ParseScheduleKey(absl::string_view key);

// The suppression column family: scope, a NUL, the address (scopes hold no
// NUL), so one scope's entries are contiguous and in address order.
std::string SuppressionKey(absl::string_view scope, absl::string_view address);

struct SuppressionKeyParts {
  absl::string_view scope;
  absl::string_view address;
};
// Views into `key`; DataLoss without the NUL.
absl::StatusOr<SuppressionKeyParts> ParseSuppressionKey(absl::string_view key);

}  // namespace sluice::queue
