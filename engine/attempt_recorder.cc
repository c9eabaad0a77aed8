#include "engine/attempt_recorder.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "mail/bounce_classifier.h"
#include "queue/spool_keys.h"

namespace sluice::engine {
namespace {

// A different id stream from the SMTP listeners' on the same shard.
constexpr uint16_t kIdStream = 16;

// Appends `more` (an operator's bounce after an attempt) to `outcome`.
void Merge(AttemptOutcome& outcome, AttemptOutcome more) {
  outcome.envelope = std::move(more.envelope);
  outcome.remove = more.remove;
  for (queue::NewMessage& dsn : more.dsns) outcome.dsns.push_back(std::move(dsn));
  for (DeliveryEvent& event : more.events) outcome.events.push_back(std::move(event));
}

}  // namespace

AttemptRecorder::AttemptRecorder(const common::Clock& clock, int shard,
                                 const DeliveryShared& shared, PendingOps& ops)
    : shared_(shared),
      ops_(ops),
      ids_(&clock, shard, common::MessageIdGenerator::StreamNode(kIdStream)),
      suppression_(&shared.suppression, ops) {
  dsn_policy_.delay_notice_after = shared.policy->delay_notice_after();
}

bool AttemptRecorder::Record(const DeliveryJob& job, const smtp::DeliveryResult& result,
                             const AttemptInfo& info, const smtp::ServerReply* then_bounce) {
  auto new_id = [this] { return ids_.Next(); };
  absl::StatusOr<AttemptOutcome> outcome =
      ApplyAttempt(job.envelope, *job.body, job.attempted, result, info, shared_.policy->retry(),
                   random_, dsn_policy_, new_id);
  if (!outcome.ok()) {
    // A bug, not a delivery problem: the message stays due as it was.
    SLUICE_LOG(kError, "cannot apply a delivery result").Field("error", outcome.status());
    return false;
  }
  bool bounced = false;
  if (then_bounce != nullptr && !outcome->remove) {
    absl::StatusOr<AttemptOutcome> bounce = FailUnfinished(
        outcome->envelope, *job.body, *then_bounce, queue::proto::BOUNCED, info, new_id);
    if (bounce.ok()) {
      Merge(*outcome, *std::move(bounce));
      bounced = true;
    }
  }
  Commit(*std::move(outcome));
  return bounced;
}

bool AttemptRecorder::Bounce(const queue::StoredMessage& stored, const smtp::ServerReply& reason,
                             const AttemptInfo& info) {
  if (UnfinishedRecipients(stored.envelope).empty()) return false;
  absl::StatusOr<AttemptOutcome> outcome =
      FailUnfinished(stored.envelope, stored.body, reason, queue::proto::BOUNCED, info,
                     [this] { return ids_.Next(); });
  if (!outcome.ok()) return false;
  Commit(*std::move(outcome));
  return true;
}

void AttemptRecorder::Commit(AttemptOutcome outcome) {
  CountEvents(outcome.events);
  LogEvents(outcome.events);
  if (shared_.events != nullptr) {
    for (const DeliveryEvent& event : outcome.events) shared_.events->Log(event);
  }
  // DSNs first: the writer commits in order, so the bounce is never
  // recorded without its DSN.
  for (queue::NewMessage& dsn : outcome.dsns) {
    if (shared_.metrics.dsns) shared_.metrics.dsns->Add(1);
    ops_.Begin();
    shared_.spool->Enqueue(std::move(dsn), [this](absl::Status status) {
      if (!status.ok()) {
        SLUICE_LOG(kError, "cannot spool a delivery status notification").Field("error", status);
      }
      ops_.End();
    });
  }
  absl::StatusOr<common::MessageId> id = queue::ParseIdKey(outcome.envelope.id());
  if (!id.ok()) return;
  ops_.Begin();
  auto done = [this, id = *id](absl::Status status) {
    if (!status.ok() && !absl::IsNotFound(status)) {
      SLUICE_LOG(kError, "cannot record a delivery attempt")
          .Field("id", id.ToString())
          .Field("error", status);
    }
    ops_.End();
  };
  if (outcome.remove) {
    shared_.spool->Remove(*id, std::move(done));
  } else {
    shared_.spool->Update(std::move(outcome.envelope), std::move(done));
  }
}

void AttemptRecorder::CountEvents(const std::vector<DeliveryEvent>& events) {
  const DeliveryMetrics& m = shared_.metrics;
  for (const DeliveryEvent& event : events) {
    common::Counter* counter = nullptr;
    int column = -1;  // in m.by_site and m.by_tenant
    switch (event.type) {
      case DeliveryEventType::kDelivered:
        counter = m.delivered;
        column = 0;
        break;
      case DeliveryEventType::kDeferred:
        counter = m.deferred;
        column = 1;
        break;
      case DeliveryEventType::kBounced:
        counter = m.bounced;
        column = 2;
        break;
      case DeliveryEventType::kExpired:
        counter = m.expired;
        column = 3;
        break;
      default:
        break;
    }
    if (counter != nullptr) counter->Add(1);
    if (column < 0) continue;
    failures_.Record(event);
    if (column > 0) {
      if (absl::StatusOr<mail::BounceCategory> category = mail::ParseBounceCategory(event.category);
          category.ok()) {
        common::Counter* failures = m.failures[column - 1][static_cast<size_t>(*category)];
        if (failures != nullptr) failures->Add(1);
        if (event.type == DeliveryEventType::kBounced) {
          const int by_category = static_cast<int>(*category);
          if (m.bounces_by_site != nullptr) m.bounces_by_site->Add(by_category, event.site);
          if (m.bounces_by_tenant != nullptr) m.bounces_by_tenant->Add(by_category, event.tenant);
          suppression_.HardBounce(event, *category);
        }
      }
    }
    if (m.by_site != nullptr) m.by_site->Add(column, event.site);
    if (m.by_tenant != nullptr) m.by_tenant->Add(column, event.tenant);
  }
}

void AttemptRecorder::LogEvents(const std::vector<DeliveryEvent>& events) {
  for (const DeliveryEvent& event : events) {
    const std::string_view type = EventTypeName(event.type);
    // Called only for lines that are written: no string is built for a
    // delivery while debug is off.
    auto remote = [&event] {
      return event.remote_host.empty() ? std::string()
                                       : absl::StrCat(event.remote_host, "[", event.remote_ip, "]");
    };
    switch (event.type) {
      case DeliveryEventType::kDelivered:
        SLUICE_LOG(kDebug, "delivered")
            .Field("id", event.message_id.ToString())
            .Field("recipient", event.recipient)
            .Field("site", event.site)
            .Field("remote", remote())
            .Field("reply", event.reply);
        continue;
      case DeliveryEventType::kDeferred:
        // Routine, so info; bounces and expiries lose mail for somebody.
        if (!log_limit_.Allow(event.time, "delivery results")) continue;
        SLUICE_LOG(kInfo, "deferred")
            .Field("id", event.message_id.ToString())
            .Field("recipient", event.recipient)
            .Field("site", event.site)
            .Field("remote", remote())
            .Field("attempt", event.attempt)
            .Field("reply", event.reply);
        continue;
      case DeliveryEventType::kBounced:
      case DeliveryEventType::kExpired:
        if (!log_limit_.Allow(event.time, "delivery results")) continue;
        SLUICE_LOG(kWarning, absl::string_view(type.data(), type.size()))
            .Field("id", event.message_id.ToString())
            .Field("recipient", event.recipient)
            .Field("sender", event.sender)
            .Field("site", event.site)
            .Field("remote", remote())
            .Field("attempt", event.attempt)
            .Field("reply", event.reply);
        continue;
      case DeliveryEventType::kDsnFailure:
      case DeliveryEventType::kDsnDelay:
      case DeliveryEventType::kDsnRelayed:
        if (!log_limit_.Allow(event.time, "delivery results")) continue;
        SLUICE_LOG(kInfo, "dsn generated")
            .Field("type", absl::string_view(type.data(), type.size()))
            .Field("id", event.message_id.ToString())
            .Field("dsn_id", event.dsn_id.ToString())
            .Field("to", event.sender)
            .Field("recipients", event.dsn_recipients.size());
        continue;
      case DeliveryEventType::kAsyncBounce:
      case DeliveryEventType::kComplaint:
        continue;  // InboundReports logs its own
    }
  }
}

}  // namespace sluice::engine
