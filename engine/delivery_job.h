// DeliveryJob: one envelope on its way out over one connection: the
// envelope as read from the spool, its body, and which of its recipients
// this attempt sends (those not yet final). Plain data.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "mail/verp.h"
#include "queue/spool.h"
#include "smtp/client_message.h"

namespace sluice::engine {

struct DeliveryJob {
  queue::Envelope envelope;
  std::shared_ptr<const std::string> body;
  // Indexes into envelope.recipients, in the order they are sent; the
  // attempt's DeliveryResult has one entry per index, same order.
  std::vector<int> attempted;
  bool needs_8bit = false;
  absl::Time started;
  // VERP: one envelope sender per attempted recipient (same order), each
  // sent in a transaction of its own; empty: envelope.sender() for all.
  std::vector<std::string> senders;
};

// Gives `job` VERP senders (mail/verp.h) under `bounce_domain`, naming the
// envelope and each recipient's index, unless the envelope has the null
// sender or is no outbound mail (a DSN or an inbound bounce is sent as is).
void UseVerp(DeliveryJob& job, const mail::Verp& verp, std::string_view bounce_domain);

// The bounce domain of `envelope`'s VERP senders: its tenant's (in
// `by_tenant`), else its pool's (`by_pool`), else `fallback`.
std::string_view VerpDomainFor(const queue::Envelope& envelope,
                               const absl::flat_hash_map<std::string, std::string>& by_tenant,
                               const absl::flat_hash_map<std::string, std::string>& by_pool,
                               std::string_view fallback);

// The recipients of `envelope` that still need delivering (pending or
// deferred).
std::vector<int> UnfinishedRecipients(const queue::Envelope& envelope);

// "local@domain" as an smtp::Address (split at the last '@'; "" is the
// null path).
smtp::Address ToAddress(const std::string& text);

// The SMTP message for recipients attempted[first, first + count); with
// VERP senders, `count` must be 1.
smtp::OutboundMessage ToOutbound(const DeliveryJob& job, size_t first, size_t count);

// Whether `body` has octets above 127 (it needs BODY=8BITMIME).
bool HasEightBit(const std::string& body);

}  // namespace sluice::engine
