#include "api/http_injection.h"

#include <algorithm>
#include <map>
#include <set>
#include <span>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "api/http_json.h"
#include "api/ingest.h"
#include "api/injection_composer.h"
#include "queue/spool_keys.h"

namespace sluice::api {
namespace {

// The request's envelope attributes, and `recipients` of it.
IngestEnvelope EnvelopeOf(const InjectionRequest& request,
                          std::span<const InjectionRecipient> recipients) {
  IngestEnvelope envelope;
  envelope.sender = request.envelope_sender;
  envelope.tenant = request.tenant;
  envelope.campaign = request.campaign;
  envelope.pool = request.pool;
  envelope.recipients.reserve(recipients.size());
  for (const InjectionRecipient& recipient : recipients) {
    envelope.recipients.emplace_back().address = recipient.mailbox.AddrSpec();
  }
  return envelope;
}

}  // namespace

absl::StatusOr<PreparedInjection> PrepareInjection(InjectionRequestParser& parser,
                                                   std::string_view json,
                                                   common::MessageIdGenerator& ids,
                                                   const InjectionContext& context) {
  absl::StatusOr<InjectionRequest> parsed = parser.Parse(json);
  if (!parsed.ok()) return parsed.status();
  const InjectionRequest& request = *parsed;
  PreparedInjection out;
  out.rejected = request.rejected;
  if (request.recipients.empty()) {
    return absl::InvalidArgumentError("recipients: no valid recipient");
  }
  if (request.one_click_unsubscribe && context.unsubscribe == nullptr) {
    return absl::InvalidArgumentError(
        "unsubscribe: one-click unsubscribe is not configured (the [unsubscribe] section)");
  }
  absl::StatusOr<std::unique_ptr<InjectionComposer>> composer = InjectionComposer::Create(request);
  if (!composer.ok()) return composer.status();
  std::set<std::string> missing;
  out.accepted.reserve(request.recipients.size());

  if ((*composer)->shares_body()) {
    queue::NewMessage& message = out.messages.emplace_back();
    message.body_id = ids.Next();
    const std::string id_text = message.body_id.ToString();
    ComposedMessage composed =
        (*composer)->BuildShared(absl::StrCat(id_text, "@", context.hostname), context.now);
    message.body = request.content.has_value()
                       ? AddMissingSubmissionHeaders(std::move(composed.bytes), context.hostname,
                                                     id_text, context.now)
                       : std::move(composed.bytes);
    missing.insert(composed.missing_substitutions.begin(), composed.missing_substitutions.end());
    std::vector<std::string> envelope_ids;
    IngestOptions options;
    options.max_recipients_per_envelope = context.max_recipients_per_envelope;
    message = BuildSpoolMessage(EnvelopeOf(request, request.recipients), std::move(message.body),
                                message.body_id, ids, context.now, options, &envelope_ids);
    for (size_t i = 0; i < request.recipients.size(); ++i) {
      const InjectionRecipient& recipient = request.recipients[i];
      out.accepted.push_back(
          {recipient.index, recipient.mailbox.AddrSpec(), std::move(envelope_ids[i]), 0});
    }
    out.body_bytes = message.body.size();
  } else {
    out.messages.reserve(request.recipients.size());
    for (size_t i = 0; i < request.recipients.size(); ++i) {
      const InjectionRecipient& recipient = request.recipients[i];
      const common::MessageId body_id = ids.Next();
      std::string unsubscribe_url;
      if (request.one_click_unsubscribe) {
        unsubscribe_url =
            absl::StrCat(context.unsubscribe_base_url, "/unsubscribe/",
                         context.unsubscribe->Mint({.tenant = request.tenant,
                                                    .recipient = recipient.mailbox.AddrSpec(),
                                                    .campaign = request.campaign}));
      }
      ComposedMessage composed = (*composer)->BuildForRecipient(
          i, absl::StrCat(body_id.ToString(), "@", context.hostname), context.now, unsubscribe_url);
      missing.insert(composed.missing_substitutions.begin(), composed.missing_substitutions.end());
      std::vector<std::string> envelope_ids;
      out.messages.push_back(BuildSpoolMessage(EnvelopeOf(request, {&recipient, 1}),
                                               std::move(composed.bytes), body_id, ids, context.now,
                                               {}, &envelope_ids));
      out.body_bytes += out.messages.back().body.size();
      out.accepted.push_back({recipient.index, recipient.mailbox.AddrSpec(),
                              std::move(envelope_ids[0]), out.messages.size() - 1});
    }
  }
  out.missing_substitutions.assign(missing.begin(), missing.end());
  return out;
}

void RejectAccepted(PreparedInjection* prepared,
                    const std::vector<std::optional<std::string>>& reasons) {
  std::vector<PreparedRecipient> kept;
  kept.reserve(prepared->accepted.size());
  for (size_t i = 0; i < prepared->accepted.size(); ++i) {
    PreparedRecipient& recipient = prepared->accepted[i];
    if (i >= reasons.size() || !reasons[i].has_value()) {
      kept.push_back(std::move(recipient));
      continue;
    }
    prepared->rejected.push_back({recipient.index, recipient.email, *reasons[i]});
    queue::NewMessage& message = prepared->messages[recipient.message];
    for (queue::Envelope& envelope : message.envelopes) {
      const absl::StatusOr<common::MessageId> id = queue::ParseIdKey(envelope.id());
      if (!id.ok() || id->ToString() != recipient.message_id) continue;
      auto* recipients = envelope.mutable_recipients();
      for (int r = 0; r < recipients->size(); ++r) {
        if ((*recipients)[r].address() == recipient.email) {
          recipients->erase(recipients->begin() + r);
          break;
        }
      }
    }
  }
  // Drop what is left empty, renumbering the messages the kept refer to.
  std::vector<size_t> renumbered(prepared->messages.size());
  std::vector<queue::NewMessage> messages;
  for (size_t m = 0; m < prepared->messages.size(); ++m) {
    queue::NewMessage& message = prepared->messages[m];
    std::erase_if(message.envelopes,
                  [](const queue::Envelope& e) { return e.recipients_size() == 0; });
    if (message.envelopes.empty()) {
      prepared->body_bytes -= message.body.size();
      continue;
    }
    renumbered[m] = messages.size();
    messages.push_back(std::move(message));
  }
  for (PreparedRecipient& recipient : kept) recipient.message = renumbered[recipient.message];
  prepared->messages = std::move(messages);
  prepared->accepted = std::move(kept);
}

InjectionOutcome OutcomeOf(const PreparedInjection& prepared,
                           const std::vector<absl::Status>& results) {
  InjectionOutcome outcome;
  outcome.accepted.reserve(prepared.accepted.size());
  outcome.rejected = prepared.rejected;
  for (const PreparedRecipient& recipient : prepared.accepted) {
    const absl::Status& status = results[recipient.message];
    if (status.ok()) {
      outcome.accepted.push_back(&recipient);
    } else {
      outcome.rejected.push_back({recipient.index, recipient.email,
                                  absl::StrCat(status.message(), " (not accepted; retry)")});
    }
  }
  std::sort(
      outcome.rejected.begin(), outcome.rejected.end(),
      [](const RejectedRecipient& a, const RejectedRecipient& b) { return a.index < b.index; });
  return outcome;
}

std::string FormatInjectionResponse(const PreparedInjection& prepared,
                                    const std::vector<absl::Status>& results) {
  const InjectionOutcome outcome = OutcomeOf(prepared, results);
  std::string out;
  out.reserve(64 + prepared.accepted.size() * 80);
  out.append("{\"accepted\":[");
  bool first = true;
  for (const PreparedRecipient* recipient : outcome.accepted) {
    if (!first) out.push_back(',');
    first = false;
    absl::StrAppend(&out, "{\"index\":", recipient->index, ",\"email\":");
    AppendJsonString(&out, recipient->email);
    out.append(",\"message_id\":");
    AppendJsonString(&out, recipient->message_id);
    out.push_back('}');
  }
  out.append("],\"rejected\":[");
  first = true;
  for (const RejectedRecipient& recipient : outcome.rejected) {
    if (!first) out.push_back(',');
    first = false;
    absl::StrAppend(&out, "{\"index\":", recipient.index, ",\"email\":");
    AppendJsonString(&out, recipient.email);
    out.append(",\"reason\":");
    AppendJsonString(&out, recipient.reason);
    out.push_back('}');
  }
  out.append("],\"missing_substitutions\":[");
  first = true;
  for (const std::string& name : prepared.missing_substitutions) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(&out, name);
  }
  out.append("]}\n");
  return out;
}

}  // namespace sluice::api
