// SpoolDb: the RocksDB database under RocksDbSpool, with the spool's column
// families.
//
// Column families: "bodies" (message bytes, written once), "envelopes"
// (the small record rewritten on every attempt), "schedule" (due time + id
// -> routing info, the on-disk schedule index), "quarantine" (records that
// could not be decoded), "suppression" (scope + address -> why mail to it is
// refused, queue/suppression.h; created in a spool that predates it) and
// "default" (the format version).
//
// Errors: a database that cannot be opened or read is kUnavailable, one of a
// format this sluice cannot read is kFailedPrecondition. SpoolDb does no
// locking of its own: RocksDbSpool decides who may Close() and Open() it
// while other threads read (queue/rocksdb_spool.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/message_id.h"
#include "queue/spool.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Env;
}  // namespace rocksdb

namespace sluice::queue {

struct RecoveryStats {
  uint64_t envelopes = 0;
  uint64_t bodies_shared = 0;  // bodies used by more than one envelope
  uint64_t quarantined = 0;
  absl::Duration took;
};

class SpoolDb {
 public:
  // Nothing is opened yet. `env` null means RocksDB's default; `clock` dates
  // quarantined records and times Recover().
  SpoolDb(std::string path, rocksdb::Env* env, size_t write_buffer_bytes,
          const common::Clock* clock);
  ~SpoolDb();

  SpoolDb(const SpoolDb&) = delete;
  SpoolDb& operator=(const SpoolDb&) = delete;

  // Opens (or creates) the database with every column family. A new database
  // gets the format version; an existing one must have this sluice's.
  absl::Status Open(bool read_only);
  void Close();

  // Checks every envelope (quarantining what does not decode) and rebuilds
  // the shared-body counts: *shared_bodies becomes the bodies used by two or
  // more envelopes, with their count.
  absl::StatusOr<RecoveryStats> Recover(
      absl::flat_hash_map<common::MessageId, uint32_t>* shared_bodies);

  // Before a clean stop: flushes every column family (unless closed or
  // read-only), so the write-ahead log holds nothing to replay and the next
  // start only has to scan (a crash replays it, which is slower). A failure
  // is logged.
  void Flush();

  // The envelope as stored: kNotFound if there is none, kDataLoss if it does
  // not decode.
  absl::StatusOr<Envelope> ReadEnvelope(const common::MessageId& id) const;

  bool is_open() const { return db_ != nullptr; }
  bool read_only() const { return read_only_; }  // serving reads only until writes resume
  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* bodies() const { return bodies_cf_; }
  rocksdb::ColumnFamilyHandle* envelopes() const { return envelopes_cf_; }
  rocksdb::ColumnFamilyHandle* schedule() const { return schedule_cf_; }
  rocksdb::ColumnFamilyHandle* suppression() const { return suppression_cf_; }

 private:
  const std::string path_;
  rocksdb::Env* const env_;
  const size_t write_buffer_bytes_;
  const common::Clock* const clock_;

  rocksdb::DB* db_ = nullptr;
  bool read_only_ = false;
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* bodies_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* envelopes_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* schedule_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* quarantine_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* suppression_cf_ = nullptr;
};

}  // namespace sluice::queue
