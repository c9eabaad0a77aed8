#include "queue/spool_db.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "queue/rocksdb_convert.h"
#include "queue/spool_keys.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace sluice::queue {
namespace {

// Bumped only for a change that an older sluice could not read; adding
// protobuf fields is not such a change.
constexpr absl::string_view kFormatKey = "format";
constexpr absl::string_view kFormatVersion = "1";

constexpr absl::string_view kBodies = "bodies";
constexpr absl::string_view kEnvelopes = "envelopes";
constexpr absl::string_view kSchedule = "schedule";
constexpr absl::string_view kQuarantine = "quarantine";
constexpr absl::string_view kSuppression = "suppression";

}  // namespace

SpoolDb::SpoolDb(std::string path, rocksdb::Env* env, size_t write_buffer_bytes,
                 const common::Clock* clock)
    : path_(std::move(path)), env_(env), write_buffer_bytes_(write_buffer_bytes), clock_(clock) {}

SpoolDb::~SpoolDb() { Close(); }

absl::Status SpoolDb::Open(bool read_only) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.db_write_buffer_size = write_buffer_bytes_ * 2;
  if (env_ != nullptr) db_options.env = env_;

  rocksdb::ColumnFamilyOptions small_records;
  small_records.write_buffer_size = write_buffer_bytes_;
  // Bodies go to blob files: compaction then moves only small references,
  // not the message bytes, and a deleted body is reclaimed by blob GC.
  rocksdb::ColumnFamilyOptions bodies = small_records;
  bodies.enable_blob_files = true;
  bodies.min_blob_size = 512;
  bodies.enable_blob_garbage_collection = true;

  // Ingest looks up every recipient here, and nearly all are absent: a
  // Bloom filter answers those without reading a block.
  rocksdb::ColumnFamilyOptions suppression = small_records;
  rocksdb::BlockBasedTableOptions suppression_table;
  suppression_table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  suppression.table_factory.reset(rocksdb::NewBlockBasedTableFactory(suppression_table));
  // And the same for what is still in the memtable (a fresh import).
  suppression.memtable_whole_key_filtering = true;
  suppression.memtable_prefix_bloom_size_ratio = 0.05;

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, small_records}, {std::string(kBodies), bodies},
      {std::string(kEnvelopes), small_records},           {std::string(kSchedule), small_records},
      {std::string(kQuarantine), small_records},          {std::string(kSuppression), suppression},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status status =
      read_only ? rocksdb::DB::OpenForReadOnly(db_options, path_, families, &handles, &db_)
                : rocksdb::DB::Open(db_options, path_, families, &handles, &db_);
  read_only_ = read_only;
  if (!status.ok()) {
    db_ = nullptr;
    return absl::UnavailableError(
        absl::StrCat("cannot open spool at '", path_, "': ", status.ToString()));
  }
  default_cf_ = handles[0];
  bodies_cf_ = handles[1];
  envelopes_cf_ = handles[2];
  schedule_cf_ = handles[3];
  quarantine_cf_ = handles[4];
  suppression_cf_ = handles[5];

  std::string format;
  status = db_->Get(rocksdb::ReadOptions(), default_cf_, ToSlice(kFormatKey), &format);
  if (status.IsNotFound() && !read_only) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    return FromRocks(db_->Put(sync, default_cf_, ToSlice(kFormatKey), ToSlice(kFormatVersion)),
                     "write spool format");
  }
  SLUICE_RETURN_IF_ERROR(FromRocks(status, "read spool format"));
  if (format != kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("spool at '", path_, "' has format ", format,
                                                      ", which this sluice (format ",
                                                      kFormatVersion, ") cannot read"));
  }
  return absl::OkStatus();
}

void SpoolDb::Close() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle** cf : {&default_cf_, &bodies_cf_, &envelopes_cf_, &schedule_cf_,
                                           &quarantine_cf_, &suppression_cf_}) {
    if (*cf != nullptr) db_->DestroyColumnFamilyHandle(*cf);
    *cf = nullptr;
  }
  db_->Close();
  delete db_;
  db_ = nullptr;
}

absl::StatusOr<RecoveryStats> SpoolDb::Recover(
    absl::flat_hash_map<common::MessageId, uint32_t>* shared_bodies) {
  const common::SteadyTime start = clock_->SteadyNow();
  RecoveryStats stats;
  absl::flat_hash_map<common::MessageId, uint32_t> body_refs;
  rocksdb::WriteBatch quarantine;
  {
    rocksdb::ReadOptions scan;
    scan.fill_cache = false;  // one pass over everything: keep the cache for delivery
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan, envelopes_cf_));
    Envelope envelope;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const absl::string_view key = ToView(it->key());
      const absl::string_view value = ToView(it->value());
      std::string reason;
      absl::StatusOr<common::MessageId> id = ParseIdKey(key);
      absl::StatusOr<common::MessageId> body_id = absl::InvalidArgumentError("unparsed");
      if (!id.ok()) {
        reason = absl::StrCat("bad key: ", id.status().message());
      } else if (!envelope.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        reason = "envelope record does not decode";
      } else if (envelope.id() != key) {
        reason = "envelope id does not match its key";
      } else if (body_id = ParseIdKey(envelope.body_id()); !body_id.ok()) {
        reason = absl::StrCat("bad body id: ", body_id.status().message());
      }
      if (!reason.empty()) {
        // Never dropped, never fatal: kept aside for an operator.
        proto::Quarantined record;
        record.set_column_family(std::string(kEnvelopes));
        record.set_key(std::string(key));
        record.set_value(std::string(value));
        record.set_reason(reason);
        record.set_quarantined_unix_ms(absl::ToUnixMillis(clock_->Now()));
        quarantine.Put(quarantine_cf_, it->key(), record.SerializeAsString());
        quarantine.Delete(envelopes_cf_, it->key());
        SLUICE_LOG(kError, "spool record quarantined")
            .Field("key_bytes", static_cast<int64_t>(key.size()))
            .Field("reason", reason);
        ++stats.quarantined;
        continue;
      }
      ++body_refs[*body_id];
      ++stats.envelopes;
    }
    SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "scan envelopes"));
  }
  if (quarantine.Count() > 0) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    SLUICE_RETURN_IF_ERROR(FromRocks(db_->Write(sync, &quarantine), "write quarantine"));
  }
  shared_bodies->clear();
  for (const auto& [body_id, refs] : body_refs) {
    if (refs > 1) (*shared_bodies)[body_id] = refs;
  }
  stats.bodies_shared = shared_bodies->size();
  stats.took = absl::FromChrono(clock_->SteadyNow() - start);
  SLUICE_LOG(kInfo, "spool recovered")
      .Field("path", path_)
      .Field("envelopes", static_cast<int64_t>(stats.envelopes))
      .Field("quarantined", static_cast<int64_t>(stats.quarantined))
      .Field("took", stats.took);
  return stats;
}

void SpoolDb::Flush() {
  if (db_ == nullptr || read_only_) return;
  rocksdb::FlushOptions flush;
  const std::vector<rocksdb::ColumnFamilyHandle*> families = {
      default_cf_, bodies_cf_, envelopes_cf_, schedule_cf_, quarantine_cf_, suppression_cf_};
  if (rocksdb::Status flushed = db_->Flush(flush, families); !flushed.ok()) {
    SLUICE_LOG(kWarning, "spool flush at shutdown failed").Field("error", flushed.ToString());
  }
}

absl::StatusOr<Envelope> SpoolDb::ReadEnvelope(const common::MessageId& id) const {
  std::string value;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), envelopes_cf_, IdKey(id), &value);
  SLUICE_RETURN_IF_ERROR(FromRocks(status, "read envelope"));
  Envelope envelope;
  if (!envelope.ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("envelope ", id.ToString(), " does not decode"));
  }
  return envelope;
}

}  // namespace sluice::queue
