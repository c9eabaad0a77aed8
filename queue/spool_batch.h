// SpoolBatch: the writes of one group commit of RocksDbSpool's writer, and
// what they will change in the writer's bookkeeping.
//
// Each request the writer takes adds its writes here; nothing reaches the
// database until the writer writes write_batch(), and a request sees the
// envelopes as stored with the batch's earlier requests applied. body_refs()
// and TakeDue() are for after that write succeeded; after a failed one the
// batch is dropped and the bookkeeping stays as it was. Writer thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/message_id.h"
#include "queue/spool.h"
#include "queue/spool_db.h"
#include "queue/suppression.h"
#include "rocksdb/write_batch.h"

namespace sluice::queue {

class SpoolBatch {
 public:
  // Reads go to `db`. `shared_bodies` (bodies shared by two or more live
  // envelopes, with their count) and `loader_resume_key` (where the next
  // loader pass starts) are the writer's; all three outlive the batch.
  SpoolBatch(const SpoolDb& db,
             const absl::flat_hash_map<common::MessageId, uint32_t>& shared_bodies,
             const std::string& loader_resume_key);

  // Each adds one request's writes. An enqueue or update that fails here
  // (bad input, a read error) adds nothing; a remove or reschedule of many
  // ids keeps the ids it finished before the error, counted in *affected.
  absl::Status Enqueue(const NewMessage& message);
  absl::Status Update(const Envelope& envelope);
  absl::Status Reschedule(absl::Span<const common::MessageId> ids, int64_t due_unix_ms,
                          uint64_t* affected);
  absl::Status Remove(absl::Span<const common::MessageId> ids, uint64_t* affected);
  // Suppression entries (queue/suppression.h): added or replaced, which
  // makes the batch synced; removed by key, all of them or (with
  // `expired_at` > 0) only those expired at that time, counting the
  // removed in *affected.
  absl::Status Suppress(absl::Span<const SuppressionEntry> entries);
  absl::Status Unsuppress(absl::Span<const std::string> keys, int64_t expired_at,
                          uint64_t* affected);

  rocksdb::WriteBatch* write_batch() { return &batch_; }
  // True once the batch holds an enqueue: it is written with a WAL sync.
  bool sync() const { return sync_; }
  // New reference counts of shared bodies touched by this batch.
  const absl::flat_hash_map<common::MessageId, uint32_t>& body_refs() const { return body_refs_; }
  // Envelopes written with a due time the loader has already passed.
  std::vector<ScheduledMessage> TakeDue() { return std::move(due_); }
  // How many suppression entries this batch adds (less those it removes).
  int64_t suppression_delta() const { return suppression_delta_; }

 private:
  // Reference count of a shared body as this batch leaves it.
  uint32_t& Refs(const common::MessageId& body_id);
  // Writes the envelope and its schedule entry; an entry the loader has
  // already passed is handed out with the batch instead.
  void Put(const common::MessageId& id, const Envelope& envelope);
  // The envelope as stored, with this batch's changes applied.
  absl::StatusOr<Envelope> CurrentEnvelope(const common::MessageId& id) const;
  // The suppression record under `key` as this batch leaves it; nullopt
  // when there is none.
  absl::StatusOr<std::optional<std::string>> CurrentSuppression(const std::string& key) const;

  const SpoolDb& db_;
  const absl::flat_hash_map<common::MessageId, uint32_t>& shared_bodies_;
  const std::string& loader_resume_key_;

  rocksdb::WriteBatch batch_;
  bool sync_ = false;
  absl::flat_hash_map<common::MessageId, uint32_t> body_refs_;
  std::vector<ScheduledMessage> due_;
  // Envelopes this batch rewrote (or removed: nullopt), so a later request
  // in the same batch sees them as they will be.
  absl::flat_hash_map<common::MessageId, std::optional<Envelope>> touched_;
  // The same for suppression records (their encoded values).
  absl::flat_hash_map<std::string, std::optional<std::string>> touched_suppressions_;
  int64_t suppression_delta_ = 0;
};

}  // namespace sluice::queue
