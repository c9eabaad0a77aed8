#include "queue/spool_batch.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "queue/rocksdb_convert.h"
#include "queue/spool_keys.h"
#include "queue/spool_record.pb.h"
#include "queue/suppression_records.h"
#include "rocksdb/db.h"

namespace sluice::queue {
namespace {

std::string EncodeScheduleEntry(const Envelope& envelope) {
  proto::ScheduleEntry entry;
  entry.set_domain(envelope.domain());
  entry.set_queue(envelope.queue());
  entry.set_pool(envelope.pool());
  entry.set_tenant(envelope.tenant());
  entry.set_campaign(envelope.campaign());
  return entry.SerializeAsString();
}

}  // namespace

SpoolBatch::SpoolBatch(const SpoolDb& db,
                       const absl::flat_hash_map<common::MessageId, uint32_t>& shared_bodies,
                       const std::string& loader_resume_key)
    : db_(db), shared_bodies_(shared_bodies), loader_resume_key_(loader_resume_key) {}

absl::Status SpoolBatch::Enqueue(const NewMessage& message) {
  // Synced: this is the write a client's acknowledgement waits for.
  sync_ = true;
  std::vector<common::MessageId> ids;
  for (const Envelope& envelope : message.envelopes) {
    SLUICE_ASSIGN_OR_RETURN(common::MessageId id, ParseIdKey(envelope.id()));
    if (envelope.body_id() != IdKey(message.body_id)) {
      return absl::InvalidArgumentError("envelope does not name the message's body");
    }
    ids.push_back(id);
  }
  if (ids.empty()) return absl::InvalidArgumentError("message has no envelopes");
  batch_.Put(db_.bodies(), IdKey(message.body_id), message.body);
  for (size_t i = 0; i < ids.size(); ++i) Put(ids[i], message.envelopes[i]);
  if (ids.size() > 1) Refs(message.body_id) = static_cast<uint32_t>(ids.size());
  return absl::OkStatus();
}

absl::Status SpoolBatch::Update(const Envelope& envelope) {
  // Not synced on its own: if a crash loses it, the envelope comes back
  // with its previous state and is simply tried again.
  SLUICE_ASSIGN_OR_RETURN(common::MessageId id, ParseIdKey(envelope.id()));
  // kNotFound when purged meanwhile: an update must not bring it back.
  SLUICE_ASSIGN_OR_RETURN(Envelope stored, CurrentEnvelope(id));
  if (stored.next_due_unix_ms() != envelope.next_due_unix_ms()) {
    batch_.Delete(db_.schedule(), ScheduleKey(stored.next_due_unix_ms(), id));
  }
  Put(id, envelope);
  touched_[id] = envelope;
  return absl::OkStatus();
}

absl::Status SpoolBatch::Reschedule(absl::Span<const common::MessageId> ids, int64_t due_unix_ms,
                                    uint64_t* affected) {
  // Not synced: losing it leaves the envelope on its old schedule.
  for (const common::MessageId& id : ids) {
    absl::StatusOr<Envelope> stored = CurrentEnvelope(id);
    if (absl::IsNotFound(stored.status())) continue;
    SLUICE_RETURN_IF_ERROR(stored.status());
    if (stored->next_due_unix_ms() <= due_unix_ms) continue;
    batch_.Delete(db_.schedule(), ScheduleKey(stored->next_due_unix_ms(), id));
    stored->set_next_due_unix_ms(due_unix_ms);
    Put(id, *stored);
    touched_[id] = *std::move(stored);
    ++*affected;
  }
  return absl::OkStatus();
}

absl::Status SpoolBatch::Remove(absl::Span<const common::MessageId> ids, uint64_t* affected) {
  // Not synced on its own: a lost delete means one more delivery
  // attempt of an already delivered message (at least once), never a
  // lost message. Removing what is already gone changes nothing, so a
  // body shared by several envelopes is released exactly once per
  // envelope.
  for (const common::MessageId& id : ids) {
    absl::StatusOr<Envelope> stored = CurrentEnvelope(id);
    if (absl::IsNotFound(stored.status())) continue;
    SLUICE_RETURN_IF_ERROR(stored.status());
    SLUICE_ASSIGN_OR_RETURN(common::MessageId body_id, ParseIdKey(stored->body_id()));
    batch_.Delete(db_.envelopes(), IdKey(id));
    batch_.Delete(db_.schedule(), ScheduleKey(stored->next_due_unix_ms(), id));
    uint32_t& count = Refs(body_id);
    if (count > 0) --count;
    if (count == 0) batch_.Delete(db_.bodies(), IdKey(body_id));
    touched_[id] = std::nullopt;
    ++*affected;
  }
  return absl::OkStatus();
}

uint32_t& SpoolBatch::Refs(const common::MessageId& body_id) {
  auto [it, inserted] = body_refs_.try_emplace(body_id, 1);
  if (inserted) {
    auto shared = shared_bodies_.find(body_id);
    if (shared != shared_bodies_.end()) it->second = shared->second;
  }
  return it->second;
}

void SpoolBatch::Put(const common::MessageId& id, const Envelope& envelope) {
  batch_.Put(db_.envelopes(), IdKey(id), envelope.SerializeAsString());
  const std::string key = ScheduleKey(envelope.next_due_unix_ms(), id);
  batch_.Put(db_.schedule(), key, EncodeScheduleEntry(envelope));
  if (key < loader_resume_key_) {
    due_.push_back({id, envelope.next_due_unix_ms(), envelope.domain(), envelope.queue(),
                    envelope.pool(), envelope.tenant(), envelope.campaign()});
  }
}

absl::StatusOr<Envelope> SpoolBatch::CurrentEnvelope(const common::MessageId& id) const {
  if (auto it = touched_.find(id); it != touched_.end()) {
    if (!it->second.has_value()) {
      return absl::NotFoundError(absl::StrCat("message ", id.ToString(), " is not spooled"));
    }
    return *it->second;
  }
  return db_.ReadEnvelope(id);
}

absl::Status SpoolBatch::Suppress(absl::Span<const SuppressionEntry> entries) {
  sync_ = true;  // an operator's add, or what a bounce taught us, outlives a crash
  for (const SuppressionEntry& entry : entries) {
    if (entry.scope.find('\0') != std::string::npos || entry.address.empty()) {
      return absl::InvalidArgumentError(
          "suppression entry without an address, or a NUL in its scope");
    }
  }
  for (const SuppressionEntry& entry : entries) {
    std::string key = SuppressionKey(entry.scope, entry.address);
    SLUICE_ASSIGN_OR_RETURN(std::optional<std::string> current, CurrentSuppression(key));
    if (!current.has_value()) ++suppression_delta_;
    std::string value = EncodeSuppression(entry);
    batch_.Put(db_.suppression(), key, value);
    touched_suppressions_[std::move(key)] = std::move(value);
  }
  return absl::OkStatus();
}

absl::Status SpoolBatch::Unsuppress(absl::Span<const std::string> keys, int64_t expired_at,
                                    uint64_t* affected) {
  for (const std::string& key : keys) {
    SLUICE_ASSIGN_OR_RETURN(std::optional<std::string> current, CurrentSuppression(key));
    if (!current.has_value()) continue;
    if (expired_at > 0) {
      // A sweep: only what is still expired (it may have been renewed).
      absl::StatusOr<SuppressionEntry> entry = DecodeSuppression(key, *current);
      if (entry.ok() && entry->Live(expired_at)) continue;
    }
    batch_.Delete(db_.suppression(), key);
    touched_suppressions_[key] = std::nullopt;
    --suppression_delta_;
    ++*affected;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> SpoolBatch::CurrentSuppression(
    const std::string& key) const {
  if (auto it = touched_suppressions_.find(key); it != touched_suppressions_.end()) {
    return it->second;
  }
  std::string value;
  const rocksdb::Status status =
      db_.db()->Get(rocksdb::ReadOptions(), db_.suppression(), key, &value);
  if (status.IsNotFound()) return std::nullopt;
  SLUICE_RETURN_IF_ERROR(FromRocks(status, "read suppression"));
  return value;
}

}  // namespace sluice::queue
