// http_injection: the CPU-heavy half of POST /api/v1/messages, with no I/O.
//
// PrepareInjection() parses the JSON body (injection_request.h), composes
// the messages (injection_composer.h) and turns them into what the spool
// stores: one queue::NewMessage per recipient when each recipient gets its
// own body, or one NewMessage whose envelopes (one per recipient domain, at
// most `max_recipients_per_envelope` recipients each) share one body. It
// runs on a worker thread for large requests; the HTTP server then enqueues
// the result on its shard. FormatInjectionResponse() writes the 200 body
// once the spool has answered for every message.
//
// Errors: InvalidArgument "field: problem" for a request that cannot be
// accepted (the 400 body names the field); a request whose every recipient
// was rejected is an error too ("recipients: no valid recipient").
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/injection_request.h"
#include "api/unsubscribe_token.h"
#include "common/message_id.h"
#include "queue/spool.h"

namespace sluice::api {

struct InjectionContext {
  std::string hostname;  // right side of generated Message-IDs
  absl::Time now;
  size_t max_recipients_per_envelope = 1000;
  // One-click unsubscribe: tokens minted with `unsubscribe`, in URLs
  // `unsubscribe_base_url` "/unsubscribe/" TOKEN. Without it a request
  // asking for one-click unsubscribe is refused.
  std::shared_ptr<const UnsubscribeToken> unsubscribe;
  std::string unsubscribe_base_url;  // "https://mail.example.com"
};

struct PreparedRecipient {
  size_t index = 0;        // position in the request's "recipients"
  std::string email;       // envelope address
  std::string message_id;  // the envelope's id, as ToString()
  size_t message = 0;      // index into PreparedInjection::messages
};

struct PreparedInjection {
  std::vector<queue::NewMessage> messages;
  std::vector<PreparedRecipient> accepted;  // in request order
  std::vector<RejectedRecipient> rejected;
  std::vector<std::string> missing_substitutions;  // sorted, unique
  size_t body_bytes = 0;                           // all message bodies
};

absl::StatusOr<PreparedInjection> PrepareInjection(InjectionRequestParser& parser,
                                                   std::string_view json,
                                                   common::MessageIdGenerator& ids,
                                                   const InjectionContext& context);

// Moves the accepted recipients that `reasons` refuses (reasons[i] for
// prepared->accepted[i]; nullopt keeps it) to "rejected" with that reason,
// and out of the envelopes that would have delivered them. Envelopes and
// messages left without a recipient are dropped.
void RejectAccepted(PreparedInjection* prepared,
                    const std::vector<std::optional<std::string>>& reasons);

// Who got in and who did not, once the spool has answered: `results[i]`
// for prepared.messages[i]. Recipients of a message that failed move to
// `rejected` with that status's message (which says what failed: "spool:
// ..." or "dkim: ..."); `rejected` is in request order.
struct InjectionOutcome {
  std::vector<const PreparedRecipient*> accepted;
  std::vector<RejectedRecipient> rejected;
};
InjectionOutcome OutcomeOf(const PreparedInjection& prepared,
                           const std::vector<absl::Status>& results);

// The JSON answer: {"accepted":[{"index","email","message_id"}...],
// "rejected":[{"index","email","reason"}...], "missing_substitutions":[...]}.
// `results[i]` is the spool's answer for prepared.messages[i]; recipients of
// a message that failed move to "rejected" with that status's message
// (which says what failed: "spool: ..." or "dkim: ...").
std::string FormatInjectionResponse(const PreparedInjection& prepared,
                                    const std::vector<absl::Status>& results);

}  // namespace sluice::api
