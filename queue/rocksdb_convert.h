// rocksdb_convert: RocksDB's Slice and Status in abseil's terms, for the
// spool's files that talk to RocksDB. Pure functions; callable anywhere.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/slice.h"
#include "rocksdb/status.h"

namespace sluice::queue {

rocksdb::Slice ToSlice(absl::string_view s);
absl::string_view ToView(const rocksdb::Slice& s);

// OK for OK; otherwise `what` and RocksDB's text, as kNotFound, kDataLoss
// (corruption) or kUnavailable (everything else: I/O errors, a full disk, a
// read-only database).
absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what);

}  // namespace sluice::queue
