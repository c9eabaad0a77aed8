#include "engine/inbound_reports.h"

#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "mail/bounce_classifier.h"
#include "mail/bounce_report.h"
#include "mail/verp.h"
#include "queue/spool_keys.h"

namespace sluice::engine {
namespace {

std::string DomainOf(absl::string_view address) {
  const size_t at = address.rfind('@');
  return at == absl::string_view::npos ? std::string()
                                       : absl::AsciiStrToLower(address.substr(at + 1));
}

void Count(common::Counter* counter) {
  if (counter != nullptr) counter->Add(1);
}

}  // namespace

size_t FeedbackTypeColumn(std::string_view type) {
  for (size_t i = 0; i < std::size(kFeedbackTypes); ++i) {
    if (kFeedbackTypes[i] == type) return i;
  }
  return std::size(kFeedbackTypes) - 1;
}

void InboundReports::Process(const queue::ScheduledMessage& message) {
  ops_.Begin();
  const common::MessageId id = message.id;
  shared_.spool->Read(id, [this, id](absl::StatusOr<queue::StoredMessage> stored) {
    if (stored.ok()) {
      Understand(id, *std::move(stored));
    } else if (!absl::IsNotFound(stored.status())) {
      SLUICE_LOG(kWarning, "inbound report not read; it stays queued")
          .Field("id", id.ToString())
          .Field("error", stored.status());
    }
    ops_.End();
  });
}

void InboundReports::Understand(const common::MessageId& id, queue::StoredMessage stored) {
  if (stored.body.size() > kMaxParseBytes) {
    Keep(std::move(stored.envelope),
         absl::StrCat("not read: ", stored.body.size(), " bytes, more than a report needs"));
    return;
  }
  const mail::BounceReport report = mail::ParseBounceReport(stored.body);
  const DeliveryMetrics& m = shared_.metrics;
  Count(m.inbound_reports[static_cast<size_t>(report.kind)]);
  const queue::Envelope& envelope = stored.envelope;
  DeliveryEvent base;
  base.time = reactor_.clock().Now();
  base.message_id = id;
  base.sender = envelope.sender();
  base.tenant = envelope.tenant();
  base.queue = envelope.queue();
  base.original_message_id = report.original_message_id;
  // Sent to a VERP address: it names the envelope and the recipient, even
  // when the report itself says nothing usable.
  std::optional<mail::VerpTarget> verp;
  if (shared_.verp != nullptr) {
    for (const queue::proto::Recipient& r : envelope.recipients()) {
      if (absl::StatusOr<mail::VerpTarget> target = shared_.verp->Decode(r.address());
          target.ok()) {
        verp = *std::move(target);
        base.original_envelope_id = verp->message_id;
        base.original_recipient_index = verp->recipient;
        // Came back to a tenant's own bounce domain: that tenant's mail.
        if (auto tenant = shared_.verp_tenant_by_domain.find(verp->domain);
            tenant != shared_.verp_tenant_by_domain.end()) {
          base.tenant = tenant->second;
        }
        break;
      }
    }
  }
  switch (report.kind) {
    case mail::BounceReportKind::kDeliveryStatus:
    case mail::BounceReportKind::kPlainBounce:
      for (const mail::ReportedRecipient& r : report.recipients) {
        if (r.action != "failed" && r.action != "delayed") continue;
        DeliveryEvent event = base;
        event.type = DeliveryEventType::kAsyncBounce;
        event.recipient = r.final_recipient;
        event.domain = DomainOf(r.final_recipient);
        event.remote_host = r.remote_mta;
        event.reply = r.diagnostic;
        event.status = r.status;
        const mail::BounceClass c =
            (shared_.classifier != nullptr ? *shared_.classifier
                                           : mail::BounceClassifier::Builtin())
                .ClassifyReply(r.diagnostic, r.status);
        event.category = mail::BounceCategoryName(c.category);
        Count(m.async_bounces[static_cast<size_t>(c.category)]);
        SLUICE_LOG(kInfo, "async bounce")
            .Field("id", id.ToString())
            .Field("recipient", event.recipient)
            .Field("status", event.status)
            .Field("category", event.category)
            .Field("original", report.original_message_id);
        // A delay is reported, but it is not a bounce (yet).
        Emit(std::move(event),
             r.action == "failed" ? std::optional<mail::BounceClass>(c) : std::nullopt);
      }
      break;
    case mail::BounceReportKind::kFeedback: {
      DeliveryEvent event = base;
      event.type = DeliveryEventType::kComplaint;
      event.recipient = report.feedback.original_rcpt_to;
      event.domain = DomainOf(event.recipient);
      event.remote_ip = report.feedback.source_ip;
      event.category = report.feedback.type;
      SLUICE_LOG(kInfo, "complaint")
          .Field("id", id.ToString())
          .Field("recipient", event.recipient)
          .Field("type", event.category)
          .Field("original", report.original_message_id);
      Emit(std::move(event), std::nullopt);
      break;
    }
    case mail::BounceReportKind::kAutoReply:
      break;
    case mail::BounceReportKind::kUnknown:
      if (verp.has_value()) {
        // Mangled beyond reading, but VERP says which message it is about.
        DeliveryEvent event = base;
        event.type = DeliveryEventType::kAsyncBounce;
        event.reply = report.reason;
        event.category = mail::BounceCategoryName(mail::BounceCategory::kOther);
        Count(m.async_bounces[static_cast<size_t>(mail::BounceCategory::kOther)]);
        SLUICE_LOG(kInfo, "async bounce")
            .Field("id", id.ToString())
            .Field("original_envelope", verp->message_id.ToString())
            .Field("recipient_index", static_cast<int64_t>(verp->recipient))
            .Field("reason", report.reason);
        // Its recipient is unknown: logged and counted, not suppressed.
        if (shared_.events != nullptr) shared_.events->Log(event);
        break;
      }
      Keep(std::move(stored.envelope), report.reason);
      return;
  }
  Retire(id);
}

void InboundReports::Emit(DeliveryEvent event, std::optional<mail::BounceClass> bounce) {
  if (!lookup_ || event.domain.empty()) {
    Publish(event, bounce);
    return;
  }
  ops_.Begin();
  const std::string domain = event.domain;
  lookup_(domain, [this, event = std::move(event),
                   bounce](absl::StatusOr<dns::Destination> destination) mutable {
    // A domain that no longer resolves still gets its event, under no site.
    if (destination.ok()) event.site = destination->site.key;
    Publish(event, bounce);
    ops_.End();
  });
}

void InboundReports::Publish(const DeliveryEvent& event,
                             const std::optional<mail::BounceClass>& bounce) {
  if (shared_.events != nullptr) shared_.events->Log(event);
  const DeliveryMetrics& m = shared_.metrics;
  if (event.type == DeliveryEventType::kComplaint) {
    const int column = static_cast<int>(FeedbackTypeColumn(event.category));
    if (m.complaints_by_site != nullptr) m.complaints_by_site->Add(column, event.site);
    if (m.complaints_by_tenant != nullptr) m.complaints_by_tenant->Add(column, event.tenant);
    suppression_.Complaint(event);
    return;
  }
  if (!bounce.has_value()) return;
  const int column = static_cast<int>(bounce->category);
  if (m.bounces_by_site != nullptr) m.bounces_by_site->Add(column, event.site);
  if (m.bounces_by_tenant != nullptr) m.bounces_by_tenant->Add(column, event.tenant);
  if (bounce->hard) suppression_.HardBounce(event, bounce->category);
}

void InboundReports::Keep(queue::Envelope envelope, std::string reason) {
  SLUICE_LOG(kWarning, "inbound message not understood; kept")
      .Field("id", queue::ParseIdKey(envelope.id()).value_or(common::MessageId()).ToString())
      .Field("queue", kUnknownBouncesQueue)
      .Field("reason", reason);
  envelope.set_queue(kUnknownBouncesQueue);
  envelope.set_last_reply(std::move(reason));
  envelope.set_next_due_unix_ms(std::numeric_limits<int64_t>::max());
  ops_.Begin();
  shared_.spool->Update(std::move(envelope), [this](absl::Status status) {
    if (!status.ok()) {
      SLUICE_LOG(kWarning, "inbound message not moved aside").Field("error", status);
    }
    ops_.End();
  });
}

void InboundReports::Retire(const common::MessageId& id) {
  ops_.Begin();
  shared_.spool->Remove(id, [this, id](absl::Status status) {
    if (!status.ok() && !absl::IsNotFound(status)) {
      SLUICE_LOG(kWarning, "inbound report not removed; it will be read again")
          .Field("id", id.ToString())
          .Field("error", status);
    }
    ops_.End();
  });
}

}  // namespace sluice::engine
