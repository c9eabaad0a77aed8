// InboundReports: what the relay listener accepted for the bounce domains
// (smtp.bounce_domains, spooled in the queue "bounces"), read and turned
// into events on the shard that owns the bounce domain.
//
//   - a DSN or plain-text bounce (mail/bounce_report.h): one
//     "async_bounce" event per recipient it reports as failed or delayed,
//     with the status, the diagnostic as the reply, the remote MTA and the
//     category of the shipped bounce rules (mail/bounce_classifier.h);
//   - a feedback report (RFC 5965): one "complaint" event, the feedback
//     type as its category, the complaining address as the recipient;
//   - an auto-reply: nothing (it is not a bounce).
//
// Hard bounces of the configured categories and complaints also go to the
// suppression list (engine/suppression_feed.h).
//
// Each event names the returned message's Message-ID when the report
// encloses it. The message is then removed from the spool. One that cannot
// be understood is kept: moved to the queue "bounces-unknown" with the
// reason as its last reply and never scheduled again, for an operator to
// look at (GET /api/v1/messages/{id}). The parse runs on the shard: a
// report costs microseconds (bench/bounce_report_bench); messages larger
// than `max_parse_bytes` are kept unread as unknown.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/message_id.h"
#include "dns/site.h"
#include "engine/delivery_shared.h"
#include "engine/pending_ops.h"
#include "engine/suppression_feed.h"
#include "mail/bounce_classifier.h"
#include "queue/spool.h"
#include "reactor/reactor.h"

namespace sluice::engine {

// The feedback types of RFC 5965 and 6650 (mail/bounce_report.h), the
// columns of complaints counted by site and tenant; any other counts as
// "other".
inline constexpr std::string_view kFeedbackTypes[] = {
    "abuse", "fraud", "opt-out", "virus", "not-spam", "auth-failure", "other"};
size_t FeedbackTypeColumn(std::string_view type);

inline constexpr char kInboundBouncesQueue[] = "bounces";
inline constexpr char kUnknownBouncesQueue[] = "bounces-unknown";

class InboundReports {
 public:
  static constexpr size_t kMaxParseBytes = 4 << 20;

  // Finds the site of a recipient's domain, so bounces and complaints count
  // by the site their mail went to (null: they count under "none").
  using Lookup = absl::AnyInvocable<void(
      std::string_view domain, absl::AnyInvocable<void(absl::StatusOr<dns::Destination>)> done)>;

  InboundReports(reactor::Reactor& reactor, const DeliveryShared& shared, PendingOps& ops,
                 Lookup lookup = nullptr)
      : reactor_(reactor),
        shared_(shared),
        ops_(ops),
        lookup_(std::move(lookup)),
        suppression_(&shared.suppression, ops) {}

  // Reads, understands and retires one message of the queue "bounces".
  void Process(const queue::ScheduledMessage& message);

 private:
  void Understand(const common::MessageId& id, queue::StoredMessage stored);
  void Keep(queue::Envelope envelope, std::string reason);
  // Finds the event's site, then Publish()es it. `bounce`: the class of an
  // async bounce; nullopt for a complaint.
  void Emit(DeliveryEvent event, std::optional<mail::BounceClass> bounce);
  // The event log, the metrics by site and tenant, the suppression list.
  void Publish(const DeliveryEvent& event, const std::optional<mail::BounceClass>& bounce);
  void Retire(const common::MessageId& id);

  reactor::Reactor& reactor_;
  const DeliveryShared& shared_;
  PendingOps& ops_;
  Lookup lookup_;
  SuppressionFeed suppression_;
};

}  // namespace sluice::engine
