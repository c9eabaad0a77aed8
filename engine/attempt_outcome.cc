#include "engine/attempt_outcome.h"

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mail/bounce_classifier.h"
#include "mail/dsn.h"
#include "queue/spool_keys.h"

namespace sluice::engine {
namespace {

using queue::Envelope;
using queue::proto::Recipient;
using queue::proto::RecipientState;

constexpr std::string_view kBouncesQueue = "bounces";

bool IsFinal(RecipientState state) {
  return state == queue::proto::DELIVERED || state == queue::proto::BOUNCED ||
         state == queue::proto::EXPIRED;
}

bool WantsFailureDsn(uint32_t notify) {
  if ((notify & queue::proto::NOTIFY_NEVER) != 0) return false;
  return notify == 0 || (notify & queue::proto::NOTIFY_FAILURE) != 0;
}

bool WantsDelayDsn(uint32_t notify) {
  return (notify & queue::proto::NOTIFY_NEVER) == 0 && (notify & queue::proto::NOTIFY_DELAY) != 0;
}

bool WantsSuccessDsn(uint32_t notify) {
  return (notify & queue::proto::NOTIFY_NEVER) == 0 && (notify & queue::proto::NOTIFY_SUCCESS) != 0;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The RFC 3463 code in a reply as ServerReply::ToString() writes it,
// "550 5.1.1 text" -> "5.1.1"; "" if there is none.
std::string EnhancedFromReplyText(std::string_view reply) {
  if (reply.size() < 4 || !IsDigit(reply[0]) || !IsDigit(reply[1]) || !IsDigit(reply[2]) ||
      reply[3] != ' ') {
    return "";
  }
  const std::string_view rest = reply.substr(4);
  const size_t end = std::min(rest.find(' '), rest.size());
  const std::string_view code = rest.substr(0, end);
  // class "." subject(1-3 digits) "." detail(1-3 digits)
  if (code.size() < 5 || (code[0] != '2' && code[0] != '4' && code[0] != '5') || code[1] != '.') {
    return "";
  }
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    size_t digits = 0;
    while (i < code.size() && IsDigit(code[i])) ++i, ++digits;
    if (digits == 0 || digits > 3) return "";
    if (part == 0) {
      if (i >= code.size() || code[i] != '.') return "";
      ++i;
    }
  }
  return i == code.size() ? std::string(code) : "";
}

// The reply's enhanced code if its class is `klass`, else `fallback`.
std::string StatusOfClass(std::string_view reply, char klass, std::string_view fallback) {
  std::string code = EnhancedFromReplyText(reply);
  return !code.empty() && code[0] == klass ? code : std::string(fallback);
}

std::string FailureStatus(std::string_view reply, RecipientState state) {
  return state == queue::proto::EXPIRED ? StatusOfClass(reply, '4', "4.4.7")
                                        : StatusOfClass(reply, '5', "5.0.0");
}

std::string SenderDomain(std::string_view sender) {
  const size_t at = sender.rfind('@');
  return at == std::string_view::npos ? std::string()
                                      : absl::AsciiStrToLower(absl::string_view(
                                            sender.data() + at + 1, sender.size() - at - 1));
}

int64_t ToMillis(absl::Time time) { return absl::ToUnixMillis(time); }

// Builds one outcome; the shared part of ApplyAttempt and FailUnfinished.
class OutcomeBuilder {
 public:
  OutcomeBuilder(const Envelope& original, std::string_view body, const common::MessageId& id,
                 const AttemptInfo& info, absl::FunctionRef<common::MessageId()> new_id)
      : original_(original), body_(body), id_(id), info_(info), new_id_(new_id) {
    outcome_.envelope = original;
  }

  Envelope& envelope() { return outcome_.envelope; }

  // An event for recipient `index` in its current state. `this_attempt`:
  // the recipient was sent in this attempt (so the connection facts apply).
  void AddRecipientEvent(int index, bool this_attempt) {
    const Recipient& r = outcome_.envelope.recipients(index);
    DeliveryEvent event = BaseEvent();
    switch (r.state()) {
      case queue::proto::DELIVERED:
        event.type = DeliveryEventType::kDelivered;
        event.status = StatusOfClass(r.last_reply(), '2', "");
        break;
      case queue::proto::BOUNCED:
        event.type = DeliveryEventType::kBounced;
        event.status = FailureStatus(r.last_reply(), r.state());
        break;
      case queue::proto::EXPIRED:
        event.type = DeliveryEventType::kExpired;
        event.status = FailureStatus(r.last_reply(), r.state());
        break;
      default:
        event.type = DeliveryEventType::kDeferred;
        event.status = EnhancedFromReplyText(r.last_reply());
        break;
    }
    event.recipient = r.address();
    event.reply = r.last_reply();
    event.attempt = r.attempts();
    if (event.type == DeliveryEventType::kExpired) {
      event.category = mail::BounceCategoryName(mail::BounceCategory::kMessageExpired);
    } else if (event.type != DeliveryEventType::kDelivered) {
      const mail::BounceClassifier& classifier =
          info_.classifier != nullptr ? *info_.classifier : mail::BounceClassifier::Builtin();
      event.category =
          mail::BounceCategoryName(classifier.ClassifyReply(event.reply, event.status).category);
    }
    if (!this_attempt) {
      event.remote_host.clear();
      event.remote_ip.clear();
      event.tls_version.clear();
      event.tls_cipher.clear();
      event.connect_time = event.tls_time = event.transaction_time = absl::ZeroDuration();
    }
    outcome_.events.push_back(std::move(event));
  }

  // A DSN recipient entry for recipient `index` as it now stands.
  mail::DsnRecipient DsnEntry(int index, mail::DsnAction action, bool this_attempt) const {
    const Recipient& r = outcome_.envelope.recipients(index);
    mail::DsnRecipient entry;
    entry.final_recipient = r.address();
    entry.original_recipient = r.orcpt();
    entry.action = action;
    switch (action) {
      case mail::DsnAction::kFailed:
        entry.status = FailureStatus(r.last_reply(), r.state());
        break;
      case mail::DsnAction::kDelayed:
        entry.status = StatusOfClass(r.last_reply(), '4', "4.0.0");
        break;
      default:
        entry.status = StatusOfClass(r.last_reply(), '2', "2.0.0");
        break;
    }
    if (this_attempt) {
      entry.remote_mta = info_.remote_host;
      entry.last_attempt = info_.now;
    }
    entry.diagnostic = r.last_reply();
    entry.diagnostic_local = r.last_reply_local();
    return entry;
  }

  bool MayGenerateDsn() const {
    return !original_.sender().empty() && original_.queue() != kBouncesQueue;
  }

  // Generates a DSN reporting `recipients` (none: nothing to do).
  void AddDsn(DeliveryEventType type, std::vector<mail::DsnRecipient> recipients, bool headers_only,
              absl::Time will_retry_until = absl::InfinitePast()) {
    if (recipients.empty() || !MayGenerateDsn()) return;
    const common::MessageId body_id = new_id_();
    const common::MessageId dsn_id = new_id_();
    const std::string dsn_text = dsn_id.ToString();

    mail::DsnRequest request;
    request.reporting_mta = info_.reporting_mta;
    request.to = original_.sender();
    request.envid = original_.envid();
    request.arrival = absl::FromUnixMillis(original_.created_unix_ms());
    request.now = info_.now;
    request.return_headers_only = headers_only;
    request.original = absl::string_view(body_.data(), body_.size());
    request.message_id = absl::StrCat("<", dsn_text, "@", info_.reporting_mta, ">");
    request.boundary = mail::ChooseBoundary(request.original, dsn_text);
    DeliveryEvent event = BaseEvent();
    event.type = type;
    event.attempt = outcome_.envelope.attempts();
    event.dsn_id = dsn_id;
    for (mail::DsnRecipient& r : recipients) {
      r.will_retry_until = will_retry_until;
      event.dsn_recipients.push_back(r.final_recipient);
    }
    request.recipients = std::move(recipients);

    queue::NewMessage message;
    message.body_id = body_id;
    message.body = mail::BuildDsn(request);
    Envelope& dsn = message.envelopes.emplace_back();
    const auto id_bytes = dsn_id.ToBytes();
    const auto body_bytes = body_id.ToBytes();
    dsn.set_id(id_bytes.data(), id_bytes.size());
    dsn.set_body_id(body_bytes.data(), body_bytes.size());
    dsn.set_sender("");
    Recipient* to = dsn.add_recipients();
    to->set_address(original_.sender());
    to->set_state(queue::proto::PENDING);
    to->set_notify(queue::proto::NOTIFY_NEVER);
    dsn.set_domain(SenderDomain(original_.sender()));
    dsn.set_created_unix_ms(ToMillis(info_.now));
    dsn.set_next_due_unix_ms(ToMillis(info_.now));
    dsn.set_size(message.body.size());
    // The tenant's pool carries it; it is not part of the campaign, so
    // suspending or bouncing the campaign leaves the notices alone.
    dsn.set_tenant(original_.tenant());
    dsn.set_queue("");
    outcome_.dsns.push_back(std::move(message));
    outcome_.events.push_back(std::move(event));
  }

  // One failure DSN for `indexes` (bounced or expired) that asked for one.
  void AddFailureDsn(const std::vector<std::pair<int, bool>>& indexes) {
    std::vector<mail::DsnRecipient> entries;
    for (const auto& [index, this_attempt] : indexes) {
      if (!WantsFailureDsn(outcome_.envelope.recipients(index).notify())) continue;
      entries.push_back(DsnEntry(index, mail::DsnAction::kFailed, this_attempt));
    }
    AddDsn(DeliveryEventType::kDsnFailure, std::move(entries),
           original_.ret() == queue::proto::RET_HDRS);
  }

  bool AnyUnfinished() const {
    for (const Recipient& r : outcome_.envelope.recipients()) {
      if (!IsFinal(r.state())) return true;
    }
    return false;
  }

  AttemptOutcome Finish() {
    outcome_.remove = !AnyUnfinished();
    return std::move(outcome_);
  }

 private:
  DeliveryEvent BaseEvent() const {
    DeliveryEvent event;
    event.time = info_.now;
    event.message_id = id_;
    event.sender = original_.sender();
    event.domain = original_.domain();
    event.site = info_.site.empty() ? original_.site() : info_.site;
    event.remote_host = info_.remote_host;
    event.remote_ip = info_.remote_ip;
    event.tls_version = info_.tls_version;
    event.tls_cipher = info_.tls_cipher;
    event.connect_time = info_.connect_time;
    event.tls_time = info_.tls_time;
    event.transaction_time = info_.transaction_time;
    event.tenant = original_.tenant();
    event.campaign = original_.campaign();
    event.pool = original_.pool();
    event.queue = original_.queue();
    return event;
  }

  const Envelope& original_;
  const std::string_view body_;
  const common::MessageId id_;
  const AttemptInfo& info_;
  const absl::FunctionRef<common::MessageId()> new_id_;
  AttemptOutcome outcome_;
};

absl::StatusOr<common::MessageId> EnvelopeId(const Envelope& envelope) {
  absl::StatusOr<common::MessageId> id = queue::ParseIdKey(envelope.id());
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("envelope id is not a message id: ", id.status().message()));
  }
  return id;
}

}  // namespace

absl::StatusOr<AttemptOutcome> ApplyAttempt(const queue::Envelope& envelope, std::string_view body,
                                            absl::Span<const int> attempted,
                                            const smtp::DeliveryResult& result,
                                            const AttemptInfo& info, const RetryPolicy& retry,
                                            absl::BitGenRef random, const DsnPolicy& policy,
                                            absl::FunctionRef<common::MessageId()> new_id) {
  absl::StatusOr<common::MessageId> id = EnvelopeId(envelope);
  if (!id.ok()) return id.status();
  if (attempted.size() != result.recipients.size()) {
    return absl::InvalidArgumentError(absl::StrCat(attempted.size(), " recipients attempted but ",
                                                   result.recipients.size(), " results"));
  }
  std::vector<bool> seen(envelope.recipients_size(), false);
  for (const int index : attempted) {
    if (index < 0 || index >= envelope.recipients_size()) {
      return absl::InvalidArgumentError(absl::StrCat("recipient index ", index, " out of range"));
    }
    if (seen[index]) {
      return absl::InvalidArgumentError(absl::StrCat("recipient index ", index, " repeated"));
    }
    seen[index] = true;
    if (IsFinal(envelope.recipients(index).state())) {
      return absl::InvalidArgumentError(
          absl::StrCat("recipient index ", index, " was already final"));
    }
  }

  OutcomeBuilder builder(envelope, body, *id, info, new_id);
  Envelope& updated = builder.envelope();
  updated.set_attempts(updated.attempts() + 1);

  bool any_deferred = false;
  std::vector<int> delivered;
  for (size_t i = 0; i < attempted.size(); ++i) {
    const smtp::RecipientResult& rr = result.recipients[i];
    Recipient* r = updated.mutable_recipients(attempted[i]);
    r->set_attempts(r->attempts() + 1);
    r->set_last_reply(rr.reply.ToString());
    r->set_last_reply_local(rr.reply.local);
    switch (rr.status) {
      case smtp::RecipientStatus::kDelivered:
        r->set_state(queue::proto::DELIVERED);
        delivered.push_back(attempted[i]);
        break;
      case smtp::RecipientStatus::kPermanentFailure:
        r->set_state(queue::proto::BOUNCED);
        break;
      case smtp::RecipientStatus::kTemporaryFailure:
        r->set_state(queue::proto::DEFERRED);
        any_deferred = true;
        break;
    }
  }
  if (result.final_reply.code != 0) {
    updated.set_last_reply(result.final_reply.ToString());
  } else if (!result.recipients.empty()) {
    updated.set_last_reply(result.recipients.back().reply.ToString());
  }

  // Schedule, or expire.
  bool expired = false;
  if (any_deferred) {
    const std::optional<absl::Time> next = RetrySchedule(retry).Next(
        absl::FromUnixMillis(envelope.created_unix_ms()), info.now, updated.attempts(), random);
    if (next.has_value()) {
      updated.set_next_due_unix_ms(ToMillis(*next));
    } else {
      expired = true;
    }
  } else if (builder.AnyUnfinished()) {
    updated.set_next_due_unix_ms(ToMillis(info.now));
  }
  std::vector<int> expired_unattempted;
  if (expired) {
    for (int index = 0; index < updated.recipients_size(); ++index) {
      Recipient* r = updated.mutable_recipients(index);
      if (IsFinal(r->state())) continue;
      r->set_state(queue::proto::EXPIRED);
      if (!seen[index]) {
        if (r->last_reply().empty()) {
          r->set_last_reply(smtp::ServerReply::Local(
                                421, "4.4.7", "message expired before this recipient was tried")
                                .ToString());
          r->set_last_reply_local(true);
        }
        expired_unattempted.push_back(index);
      }
    }
  }

  // Events, then DSNs (whose events follow).
  std::vector<std::pair<int, bool>> failed;  // index, tried in this attempt
  for (const int index : attempted) {
    builder.AddRecipientEvent(index, /*this_attempt=*/true);
    const RecipientState state = updated.recipients(index).state();
    if (state == queue::proto::BOUNCED || state == queue::proto::EXPIRED) {
      failed.emplace_back(index, true);
    }
  }
  for (const int index : expired_unattempted) {
    builder.AddRecipientEvent(index, /*this_attempt=*/false);
    failed.emplace_back(index, false);
  }
  builder.AddFailureDsn(failed);

  if (builder.MayGenerateDsn() && policy.send_delay_notices && !expired &&
      envelope.delay_notified_unix_ms() == 0 &&
      info.now - absl::FromUnixMillis(envelope.created_unix_ms()) >= policy.delay_notice_after) {
    std::vector<mail::DsnRecipient> entries;
    for (int index = 0; index < updated.recipients_size(); ++index) {
      const Recipient& r = updated.recipients(index);
      if (r.state() != queue::proto::DEFERRED || !WantsDelayDsn(r.notify())) continue;
      entries.push_back(builder.DsnEntry(index, mail::DsnAction::kDelayed, seen[index]));
    }
    if (!entries.empty()) {
      updated.set_delay_notified_unix_ms(ToMillis(info.now));
      builder.AddDsn(DeliveryEventType::kDsnDelay, std::move(entries), /*headers_only=*/true,
                     absl::FromUnixMillis(envelope.created_unix_ms()) + retry.max_age);
    }
  }

  if (policy.send_relayed_notices && !info.remote_offers_dsn) {
    std::vector<mail::DsnRecipient> entries;
    for (const int index : delivered) {
      if (!WantsSuccessDsn(updated.recipients(index).notify())) continue;
      entries.push_back(builder.DsnEntry(index, mail::DsnAction::kRelayed, true));
    }
    builder.AddDsn(DeliveryEventType::kDsnRelayed, std::move(entries), /*headers_only=*/true);
  }
  return builder.Finish();
}

absl::StatusOr<AttemptOutcome> FailUnfinished(const queue::Envelope& envelope,
                                              std::string_view body,
                                              const smtp::ServerReply& reason,
                                              queue::proto::RecipientState final_state,
                                              const AttemptInfo& info,
                                              absl::FunctionRef<common::MessageId()> new_id) {
  if (final_state != queue::proto::BOUNCED && final_state != queue::proto::EXPIRED) {
    return absl::InvalidArgumentError("final state must be BOUNCED or EXPIRED");
  }
  absl::StatusOr<common::MessageId> id = EnvelopeId(envelope);
  if (!id.ok()) return id.status();
  OutcomeBuilder builder(envelope, body, *id, info, new_id);
  Envelope& updated = builder.envelope();
  const std::string reply = reason.ToString();
  updated.set_last_reply(reply);
  std::vector<std::pair<int, bool>> failed;
  for (int index = 0; index < updated.recipients_size(); ++index) {
    Recipient* r = updated.mutable_recipients(index);
    if (IsFinal(r->state())) continue;
    r->set_state(final_state);
    r->set_last_reply(reply);
    r->set_last_reply_local(reason.local);
    builder.AddRecipientEvent(index, /*this_attempt=*/true);
    // Remote-MTA and Last-Attempt-Date only when a server was involved.
    failed.emplace_back(index, !info.remote_host.empty());
  }
  builder.AddFailureDsn(failed);
  return builder.Finish();
}

smtp::DeliveryResult UniformResult(size_t count, smtp::RecipientStatus status,
                                   const smtp::ServerReply& reply) {
  smtp::DeliveryResult result;
  result.recipients.assign(count, smtp::RecipientResult{status, reply});
  result.final_reply = reply;
  return result;
}

}  // namespace sluice::engine
