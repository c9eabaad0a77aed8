// SuppressionFeed: what delivery learns that means "do not mail this
// address again", added to the suppression list (queue/suppression.h) as
// the [suppression] section says: hard bounces of the configured
// categories (synchronous, or reported by a DSN) and complaints, each in
// the tenant's scope of the message it is about (the global scope when the
// tenant is unknown, as for a DSN that names no envelope we still hold).
//
// Fire and forget: the add is written by the spool's writer; a failure is
// logged (at most 20 lines a second), since the bounce or complaint itself
// is already in the event log. Used on one shard.
#pragma once

#include <array>

#include "absl/time/time.h"
#include "common/log_limiter.h"
#include "common/metrics.h"
#include "engine/delivery_event.h"
#include "engine/pending_ops.h"
#include "mail/bounce_classifier.h"
#include "queue/suppression.h"

namespace sluice::engine {

inline constexpr size_t kSuppressionCategories =
    static_cast<size_t>(mail::BounceCategory::kOther) + 1;

struct SuppressionFeedOptions {
  queue::SuppressionList* list = nullptr;  // null: nothing is added
  // Indexed by mail::BounceCategory: which hard bounces suppress.
  std::array<bool, kSuppressionCategories> bounce_categories{};
  bool complaints = false;
  absl::Duration bounce_expiry;  // zero: for ever
  absl::Duration complaint_expiry;
  // Entries added, by source (hard-bounce, complaint); may be null.
  common::Counter* added_bounces = nullptr;
  common::Counter* added_complaints = nullptr;
};

class SuppressionFeed {
 public:
  // `options` may be null (nothing is added); `ops` counts the adds in
  // flight, so the engine outlives their answers.
  SuppressionFeed(const SuppressionFeedOptions* options, PendingOps& ops)
      : options_(options), ops_(ops) {}

  // A recipient that failed for good (`event` names it, its tenant, the
  // reply) in `category`.
  void HardBounce(const DeliveryEvent& event, mail::BounceCategory category);
  // A feedback report about `event.recipient`.
  void Complaint(const DeliveryEvent& event);

 private:
  void Add(queue::SuppressionEntry entry, common::Counter* added);

  const SuppressionFeedOptions* options_;
  PendingOps& ops_;
  common::LogLimiter log_{/*per_second=*/20, /*burst=*/100};
};

}  // namespace sluice::engine
