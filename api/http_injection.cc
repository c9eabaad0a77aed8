#include "api/http_injection.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "api/http_json.h"
#include "api/injection_composer.h"
#include "api/smtp_ingest.h"
#include "queue/spool_keys.h"

namespace sluice::api {
namespace {

queue::Envelope NewEnvelope(const InjectionRequest& request, const common::MessageId& id,
                            const common::MessageId& body_id, const std::string& domain,
                            size_t size, int64_t now_ms) {
  queue::Envelope envelope;
  envelope.set_id(queue::IdKey(id));
  envelope.set_body_id(queue::IdKey(body_id));
  envelope.set_sender(request.envelope_sender);
  envelope.set_created_unix_ms(now_ms);
  envelope.set_next_due_unix_ms(now_ms);
  envelope.set_size(size);
  envelope.set_tenant(request.tenant);
  envelope.set_campaign(request.campaign);
  envelope.set_pool(request.pool);
  envelope.set_domain(domain);
  return envelope;
}

void AddRecipient(queue::Envelope& envelope, const InjectionRecipient& recipient) {
  queue::proto::Recipient* r = envelope.add_recipients();
  r->set_address(recipient.mailbox.AddrSpec());
  r->set_state(queue::proto::PENDING);
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
  absl::StatusOr<std::unique_ptr<InjectionComposer>> composer = InjectionComposer::Create(request);
  if (!composer.ok()) return composer.status();
  const int64_t now_ms = absl::ToUnixMillis(context.now);
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
    // Envelopes per domain (in order of the domain names), chunked.
    std::map<std::string, std::vector<size_t>> by_domain;
    for (size_t i = 0; i < request.recipients.size(); ++i) {
      by_domain[absl::AsciiStrToLower(request.recipients[i].mailbox.domain)].push_back(i);
    }
    std::vector<std::pair<size_t, std::string>> recipient_ids(request.recipients.size());
    for (const auto& [domain, members] : by_domain) {
      for (size_t start = 0; start < members.size(); start += context.max_recipients_per_envelope) {
        const common::MessageId id = ids.Next();
        queue::Envelope envelope =
            NewEnvelope(request, id, message.body_id, domain, message.body.size(), now_ms);
        const std::string text = id.ToString();
        const size_t end = std::min(members.size(), start + context.max_recipients_per_envelope);
        for (size_t k = start; k < end; ++k) {
          AddRecipient(envelope, request.recipients[members[k]]);
          recipient_ids[members[k]] = {0, text};
        }
        message.envelopes.push_back(std::move(envelope));
      }
    }
    for (size_t i = 0; i < request.recipients.size(); ++i) {
      const InjectionRecipient& recipient = request.recipients[i];
      out.accepted.push_back(
          {recipient.index, recipient.mailbox.AddrSpec(), std::move(recipient_ids[i].second), 0});
    }
    out.body_bytes = message.body.size();
  } else {
    out.messages.reserve(request.recipients.size());
    for (size_t i = 0; i < request.recipients.size(); ++i) {
      const InjectionRecipient& recipient = request.recipients[i];
      queue::NewMessage& message = out.messages.emplace_back();
      message.body_id = ids.Next();
      const common::MessageId id = ids.Next();
      ComposedMessage composed = (*composer)->BuildForRecipient(
          i, absl::StrCat(message.body_id.ToString(), "@", context.hostname), context.now);
      message.body = std::move(composed.bytes);
      missing.insert(composed.missing_substitutions.begin(), composed.missing_substitutions.end());
      queue::Envelope envelope =
          NewEnvelope(request, id, message.body_id, absl::AsciiStrToLower(recipient.mailbox.domain),
                      message.body.size(), now_ms);
      AddRecipient(envelope, recipient);
      message.envelopes.push_back(std::move(envelope));
      out.body_bytes += message.body.size();
      out.accepted.push_back(
          {recipient.index, recipient.mailbox.AddrSpec(), id.ToString(), out.messages.size() - 1});
    }
  }
  out.missing_substitutions.assign(missing.begin(), missing.end());
  return out;
}

std::string FormatInjectionResponse(const PreparedInjection& prepared,
                                    const std::vector<absl::Status>& results) {
  std::string out;
  out.reserve(64 + prepared.accepted.size() * 80);
  out.append("{\"accepted\":[");
  std::vector<RejectedRecipient> rejected = prepared.rejected;
  bool first = true;
  for (const PreparedRecipient& recipient : prepared.accepted) {
    const absl::Status& status = results[recipient.message];
    if (!status.ok()) {
      rejected.push_back({recipient.index, recipient.email,
                          absl::StrCat("spool: ", status.message(), " (not accepted; retry)")});
      continue;
    }
    if (!first) out.push_back(',');
    first = false;
    absl::StrAppend(&out, "{\"index\":", recipient.index, ",\"email\":");
    AppendJsonString(&out, recipient.email);
    out.append(",\"message_id\":");
    AppendJsonString(&out, recipient.message_id);
    out.push_back('}');
  }
  std::sort(
      rejected.begin(), rejected.end(),
      [](const RejectedRecipient& a, const RejectedRecipient& b) { return a.index < b.index; });
  out.append("],\"rejected\":[");
  first = true;
  for (const RejectedRecipient& recipient : rejected) {
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
