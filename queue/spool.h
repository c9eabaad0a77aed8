// Spool: where accepted mail waits until it is delivered or bounced.
//
// The interface the rest of sluice uses; RocksDbSpool implements it. Every
// method may be called from a shard thread and never blocks: the work is
// handed to the spool's own threads, and `done` runs later on the calling
// shard (or, for a caller that is not a shard, on a spool thread).
//
// Durability contract. Enqueue's `done` with OK means the message is synced
// to disk: only then may a listener acknowledge it (SMTP 250, HTTP 200).
// Update, Reschedule and Remove are written in order after everything
// submitted before them but are not synced on their own (they become durable
// with the next synced write or the operating system's write-back): losing
// one after a crash can only mean an extra delivery attempt, never a lost
// message. Write failures (disk full, I/O errors, a read-only database) come
// back as kUnavailable, and nothing of the failed call is stored.
//
// The spool, not the caller, knows an envelope's current due time: Update
// and Remove apply to what is stored, and report kNotFound for an envelope
// that is gone (purged by an operator while it was being delivered), so a
// late update never brings a purged message back. A schedule entry whose due
// time no longer matches its envelope (rescheduled meanwhile) is stale: the
// delivery side skips it when the envelope it reads says otherwise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/message_id.h"
#include "queue/spool_record.pb.h"

namespace sluice::queue {

using Envelope = proto::Envelope;

// A message as ingest hands it over: one body and the envelopes that
// deliver it (one per recipient domain). Each envelope's body_id must be
// `body_id`, and its next_due_unix_ms says when it is first due.
struct NewMessage {
  common::MessageId body_id;
  std::string body;
  std::vector<Envelope> envelopes;
};

struct StoredMessage {
  Envelope envelope;
  std::string body;
};

// An envelope whose due time falls inside the scheduling window, as the
// spool hands it to the delivery side.
struct ScheduledMessage {
  common::MessageId id;
  int64_t due_unix_ms = 0;
  std::string domain;
  std::string queue;
  std::string pool;  // the egress pool the message asked for, "" if none
  std::string tenant;
  std::string campaign;
};

class Spool {
 public:
  using Done = absl::AnyInvocable<void(absl::Status)>;

  virtual ~Spool() = default;

  virtual void Enqueue(NewMessage message, Done done) = 0;

  // Rewrites an envelope after an attempt (recipient states, attempts, last
  // reply, next due time) and moves its schedule entry to the new due time.
  virtual void Update(Envelope envelope, Done done) = 0;

  // Removes an envelope whose recipients are all final, and its body with
  // the last envelope that uses it.
  virtual void Remove(common::MessageId id, Done done) = 0;

  // Reads an envelope and its body. kNotFound if it is gone (delivered,
  // purged); kDataLoss if it cannot be decoded.
  virtual void Read(common::MessageId id,
                    absl::AnyInvocable<void(absl::StatusOr<StoredMessage>)> done) = 0;
};

}  // namespace sluice::queue
