// UnsubscribeHandler: the endpoint behind the one-click unsubscribe URLs
// (RFC 8058) that injection puts in List-Unsubscribe.
//
//   POST /unsubscribe/{token}  body List-Unsubscribe=One-Click (what mailbox
//                              providers send): records an unsubscribe event
//                              ({"type":"unsubscribe", tenant, recipient,
//                              campaign} in the event log) and answers 200;
//                              a token that does not verify answers 400 and
//                              records nothing
//   GET  /unsubscribe/{token}  a page whose button makes that POST; it never
//                              unsubscribes, since link scanners follow GETs
//
// The token is the authority (UnsubscribeToken: HMAC-signed, no state);
// no API key is asked for. With a suppression list, the recipient is added
// to its tenant's scope (source "unsubscribe") and the 200 waits until that
// entry is on disk. Posting the same token twice records two events; the
// suppression list keeps one entry. Used on one shard.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "api/http1_session.h"
#include "api/http_response.h"
#include "api/unsubscribe_token.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "queue/suppression.h"

namespace sluice::api {

class UnsubscribeHandler {
 public:
  // Queues one event line (no newline); false when it could not be queued
  // (the client is told to try again).
  using Record = std::function<bool(std::string line)>;

  // Null `tokens`: one-click unsubscribe is not configured (404).
  // `unsubscribed` and `suppression` may be null; entries added to
  // `suppression` expire after `expiry` (zero: never).
  UnsubscribeHandler(std::shared_ptr<const UnsubscribeToken> tokens, Record record,
                     common::Counter* unsubscribed, const common::Clock* clock,
                     queue::SuppressionList* suppression = nullptr,
                     absl::Duration expiry = absl::ZeroDuration())
      : tokens_(std::move(tokens)),
        record_(std::move(record)),
        unsubscribed_(unsubscribed),
        clock_(clock),
        suppression_(suppression),
        expiry_(expiry) {}

  void Post(std::string_view token, const HttpRequest& request, HttpReply reply);
  void Confirm(std::string_view token, HttpReply reply);

  // The event line for `who`, at `time`.
  static std::string EventJson(const Unsubscribe& who, absl::Time time);

 private:
  // The unsubscribe `token` names, or nullopt after answering.
  std::optional<Unsubscribe> Verify(std::string_view token, HttpReply& reply) const;

  std::shared_ptr<const UnsubscribeToken> tokens_;
  Record record_;
  common::Counter* unsubscribed_;
  const common::Clock* clock_;
  queue::SuppressionList* suppression_;
  absl::Duration expiry_;
};

}  // namespace sluice::api
