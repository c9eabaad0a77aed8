// attempt_outcome: what happens to an envelope after a delivery attempt.
// Pure and sans-IO: the delivery engine passes the envelope, the body, the
// SMTP result and facts about the attempt (time, peer, TLS), and gets back
// the envelope to store (or the decision to remove it), the DSN messages to
// enqueue and the events to log. No clock, no I/O, no threads; the random
// source (retry jitter) and the id source (DSN ids) are passed in, so the
// result is reproducible.
//
// Per recipient of the attempt (RecipientStatus from smtp::DeliveryResult):
//   kDelivered         -> DELIVERED
//   kPermanentFailure  -> BOUNCED
//   kTemporaryFailure  -> DEFERRED
// and its attempts + 1 and last_reply = the reply ("550 5.1.1 no such
// user"). The message's attempts + 1 and last_reply = result.final_reply
// (the deciding reply when there was none). When a recipient was deferred,
// next_due comes from RetrySchedule::Next(created, now, message attempts);
// if it says the message expired, every unfinished (PENDING or DEFERRED)
// recipient becomes EXPIRED. Recipients left PENDING without a deferral
// (the engine sent only some of them) make the envelope due again at once.
// `remove` is true when no recipient is unfinished.
//
// DSNs (RFC 3461, 3464), never for a null sender (that covers DSNs
// themselves) nor for a message in queue "bounces":
//   failure  one per call for every BOUNCED or EXPIRED recipient whose
//            NOTIFY is absent or has FAILURE (not NEVER). Status: the
//            reply's enhanced code when its class fits (5.x.x for a bounce,
//            4.x.x for an expiry), else 5.0.0 / 4.4.7 (RFC 3463). Returns
//            headers only for RET=HDRS, else the whole message.
//   delay    once per envelope (delay_notified_unix_ms records it): when a
//            recipient with NOTIFY=DELAY is still DEFERRED, now - created >=
//            DsnPolicy::delay_notice_after and policy.send_delay_notices;
//            reports every DEFERRED recipient that asked for it, with
//            Will-Retry-Until = created + max_age. Headers only.
//   relayed  for DELIVERED recipients with NOTIFY=SUCCESS when the next hop
//            did not offer DSN, so it cannot report success itself (RFC
//            3461 5.2.2). Headers only.
// Each DSN is a queue::NewMessage from the null sender to the original
// sender: body_id = new_id(), then envelope id = new_id(); one PENDING
// recipient with NOTIFY=NEVER, domain = the sender's domain lowercased,
// created = next_due = now, tenant copied (not the campaign: a notice is not campaign mail), queue
// "".
//
// Events: one per recipient whose state this call set (in the order of
// `attempted`, then expired recipients that were not attempted, by index),
// then one per DSN.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/message_id.h"
#include "engine/delivery_event.h"
#include "engine/retry_schedule.h"
#include "mail/bounce_classifier.h"
#include "queue/spool.h"
#include "smtp/client_message.h"

namespace sluice::engine {

// About the attempt, from the engine.
struct AttemptInfo {
  absl::Time now;
  std::string site;
  std::string remote_host;  // "" if no server answered
  std::string remote_ip;
  std::string tls_version;  // "" for clear text
  std::string tls_cipher;
  absl::Duration connect_time;
  absl::Duration tls_time;
  absl::Duration transaction_time;
  // The server advertised DSN (RFC 3461), so NOTIFY went on with the
  // recipients and success reports are its business.
  bool remote_offers_dsn = false;
  std::string reporting_mta;  // our host name, for DSNs
  // Classifies failures for the events; null: the shipped rules.
  const mail::BounceClassifier* classifier = nullptr;
};

struct DsnPolicy {
  // A delay DSN goes out once a deferred message is at least this old.
  absl::Duration delay_notice_after = absl::Hours(4);
  bool send_delay_notices = true;
  bool send_relayed_notices = true;
};

struct AttemptOutcome {
  queue::Envelope envelope;             // the updated envelope to Update() (if !remove)
  bool remove = false;                  // every recipient is final: Remove() instead
  std::vector<queue::NewMessage> dsns;  // DSN messages to Enqueue
  std::vector<DeliveryEvent> events;
};

// `attempted` holds the indexes into envelope.recipients() that were sent,
// in the order of result.recipients. InvalidArgument (nothing decided) when
// the sizes differ, an index is out of range, repeated or names a recipient
// that is already final, or the envelope's id is not a MessageId.
absl::StatusOr<AttemptOutcome> ApplyAttempt(const queue::Envelope& envelope, std::string_view body,
                                            absl::Span<const int> attempted,
                                            const smtp::DeliveryResult& result,
                                            const AttemptInfo& info, const RetryPolicy& retry,
                                            absl::BitGenRef random, const DsnPolicy& policy,
                                            absl::FunctionRef<common::MessageId()> new_id);

// For an operator's "bounce" or "expire" (and for failures the engine
// decides without SMTP): every unfinished recipient becomes `final_state`
// (BOUNCED or EXPIRED, else InvalidArgument) with last_reply = `reason`,
// attempts unchanged, and failure DSNs and events follow the rules above.
// `remove` is always true.
absl::StatusOr<AttemptOutcome> FailUnfinished(const queue::Envelope& envelope,
                                              std::string_view body,
                                              const smtp::ServerReply& reason,
                                              queue::proto::RecipientState final_state,
                                              const AttemptInfo& info,
                                              absl::FunctionRef<common::MessageId()> new_id);

// A DeliveryResult giving every one of `count` recipients the same status
// and reply: for attempts that ended before any recipient was answered
// (connection refused, TLS policy, a 5xx greeting), to pass to ApplyAttempt.
smtp::DeliveryResult UniformResult(size_t count, smtp::RecipientStatus status,
                                   const smtp::ServerReply& reply);

}  // namespace sluice::engine
