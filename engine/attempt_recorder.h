// AttemptRecorder: turns the result of a delivery attempt into what follows
// from it, on the shard that made the attempt: the envelope's next state
// (ApplyAttempt, engine/attempt_outcome.h), the DSNs, the events for the
// event log, the metrics and the log lines, and the spool writes.
//
// Spool writes go out DSNs first: the spool's writer commits in order, so a
// bounce is never recorded without its DSN. A write that fails is logged;
// the message then stays due as it was and goes again (at least once).
//
// An operator's bounce that arrived while the attempt was on its way is
// applied to the envelope as the attempt left it (then_bounce), so a
// recipient the attempt delivered is never also bounced.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log_limiter.h"
#include "common/message_id.h"
#include "engine/attempt_outcome.h"
#include "engine/delivery_event.h"
#include "engine/delivery_job.h"
#include "engine/delivery_shared.h"
#include "engine/failure_digest.h"
#include "engine/pending_ops.h"
#include "engine/suppression_feed.h"
#include "queue/spool.h"
#include "smtp/client_session.h"

namespace sluice::engine {

class AttemptRecorder {
 public:
  // `shard` and the clock seed the DSN ids; spool calls count in `ops`.
  AttemptRecorder(const common::Clock& clock, int shard, const DeliveryShared& shared,
                  PendingOps& ops);
  AttemptRecorder(const AttemptRecorder&) = delete;
  AttemptRecorder& operator=(const AttemptRecorder&) = delete;

  // Records `result` for the recipients `job` attempted. With `then_bounce`
  // the recipients still unfinished afterwards are bounced with that reason;
  // returns whether any was.
  bool Record(const DeliveryJob& job, const smtp::DeliveryResult& result, const AttemptInfo& info,
              const smtp::ServerReply* then_bounce = nullptr);

  // An operator's bounce of a message at rest: every unfinished recipient of
  // `stored` fails with `reason`. False if none was unfinished.
  bool Bounce(const queue::StoredMessage& stored, const smtp::ServerReply& reason,
              const AttemptInfo& info);

  const std::string& reporting_mta() const { return shared_.reporting_mta; }
  // The recent failures recorded here, grouped.
  const FailureDigest& failures() const { return failures_; }

 private:
  void Commit(AttemptOutcome outcome);
  void CountEvents(const std::vector<DeliveryEvent>& events);
  // One log line per deferral, bounce, expiry and DSN (rate-limited);
  // deliveries only at debug.
  void LogEvents(const std::vector<DeliveryEvent>& events);

  const DeliveryShared& shared_;
  PendingOps& ops_;
  DsnPolicy dsn_policy_;
  absl::BitGen random_;
  common::MessageIdGenerator ids_;
  common::LogLimiter log_limit_{/*per_second=*/50, /*burst=*/200};
  SuppressionFeed suppression_;
  FailureDigest failures_;
};

}  // namespace sluice::engine
