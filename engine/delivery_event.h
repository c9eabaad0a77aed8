// DeliveryEvent: one line of the delivery event log, what happened to one
// recipient in one attempt (delivered, deferred, bounced, expired) or a DSN
// sluice generated. Plain data, built by ApplyAttempt (attempt_outcome.h)
// and written by EventLog (event_log.h) as one JSON object per line.
//
// FormatEventJson's keys are stable (consumers parse them; never rename
// one, only add), always present and in this order:
//
//   "type"              EventTypeName(): "delivered", "deferred", "bounced",
//                       "expired", "dsn_failure", "dsn_delay", "dsn_relayed"
//   "time"              RFC 3339 UTC with milliseconds, "2026-01-02T03:04:05.678Z"
//   "message_id"        the envelope's id (26 characters), "" if none
//   "recipient"         the recipient address; "" for DSN events
//   "sender"            the envelope sender ("" = null sender)
//   "domain", "site"    the recipient domain and the MX rollup site
//   "remote_host", "remote_ip"   the server that answered, "" if none did
//   "tls_version", "tls_cipher"  "" for a clear-text connection
//   "reply"             the SMTP reply, "550 5.1.1 no such user", or our own
//   "status"            RFC 3463 enhanced status code, "5.1.1", or ""
//   "attempt"           attempts of the recipient so far (of the message for
//                       DSN events), a number
//   "connect_ms", "tls_ms", "transaction_ms"  durations, numbers with up
//                       to 3 decimals
//   "tenant", "campaign", "pool", "queue"
//   "dsn_id"            the generated DSN's id for dsn_* events, else ""
//   "dsn_recipients"    the recipients a DSN reports on, an array of
//                       strings (empty for other events)
//   "category"          what a failure means (mail/bounce_classifier.h):
//                       "bad-mailbox", "throttled", ... for deferred and
//                       bounced events, "message-expired" for expired
//                       ones; for async_bounce events that of the reported
//                       status and diagnostic; for complaint events the
//                       feedback type ("abuse", "fraud", "opt-out", ...);
//                       "" otherwise
//   "original_message_id"  async_bounce and complaint events: the
//                       Message-ID (without <>) of the message the report
//                       returns, "" when it returned none
//   "original_envelope_id", "original_recipient_index"  async_bounce and
//                       complaint events that came back to a VERP address
//                       (mail/verp.h): the envelope id and the index of the
//                       recipient it names; "" and -1 otherwise
//
// Strings are escaped per RFC 8259: quote, backslash and control characters
// (\n, \r, \t, \b, \f, else \u00XX, and DEL as \u007f); bytes that are not
// well-formed UTF-8 become U+FFFD, one per byte, so every line is valid
// UTF-8 JSON whatever a remote server sent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "common/json_string.h"
#include "common/message_id.h"

namespace sluice::engine {

enum class DeliveryEventType {
  kDelivered,    // the next hop took responsibility
  kDeferred,     // temporary failure; will be retried
  kBounced,      // permanent failure
  kExpired,      // gave up after the queue lifetime
  kDsnFailure,   // a failure DSN (bounced/expired recipients) was generated
  kDsnDelay,     // a delay DSN (RFC 3461 NOTIFY=DELAY) was generated
  kDsnRelayed,   // a "relayed" DSN (NOTIFY=SUCCESS, next hop without DSN)
  kAsyncBounce,  // a DSN or bounce notice that came back names a recipient
  kComplaint,    // a feedback report (RFC 5965) came back
};

// "delivered", "deferred", "bounced", "expired", "dsn_failure",
// "dsn_delay", "dsn_relayed", "async_bounce", "complaint".
std::string_view EventTypeName(DeliveryEventType type);

struct DeliveryEvent {
  DeliveryEventType type = DeliveryEventType::kDeferred;
  absl::Time time;
  common::MessageId message_id;
  std::string recipient;
  std::string sender;
  std::string domain;
  std::string site;
  std::string remote_host;
  std::string remote_ip;
  std::string tls_version;
  std::string tls_cipher;
  std::string reply;
  std::string status;  // enhanced status code
  uint32_t attempt = 0;
  absl::Duration connect_time;
  absl::Duration tls_time;
  absl::Duration transaction_time;
  std::string tenant;
  std::string campaign;
  std::string pool;
  std::string queue;
  common::MessageId dsn_id;                 // dsn_* events
  std::vector<std::string> dsn_recipients;  // dsn_* events
  std::string category;                     // failures: BounceCategoryName()
  std::string original_message_id;          // async_bounce, complaint
  common::MessageId original_envelope_id;   // from VERP; zero: none
  int64_t original_recipient_index = -1;    // from VERP; -1: none
};

// One JSON object, no trailing newline; see the key list above.
std::string FormatEventJson(const DeliveryEvent& event);

// Strings in the event JSON are written by common::AppendJsonString.
using common::AppendJsonString;

}  // namespace sluice::engine
