#include "engine/delivery_job.h"

#include <algorithm>

#include "queue/spool_keys.h"

namespace sluice::engine {

std::vector<int> UnfinishedRecipients(const queue::Envelope& envelope) {
  std::vector<int> unfinished;
  for (int i = 0; i < envelope.recipients_size(); ++i) {
    const queue::proto::RecipientState state = envelope.recipients(i).state();
    if (state == queue::proto::PENDING || state == queue::proto::DEFERRED ||
        state == queue::proto::RECIPIENT_STATE_UNSPECIFIED) {
      unfinished.push_back(i);
    }
  }
  return unfinished;
}

smtp::Address ToAddress(const std::string& text) {
  smtp::Address address;
  const size_t at = text.rfind('@');
  if (at == std::string::npos) {
    address.local_part = text;
  } else {
    address.local_part = text.substr(0, at);
    address.domain = text.substr(at + 1);
  }
  address.utf8 = std::any_of(text.begin(), text.end(),
                             [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  return address;
}

smtp::OutboundMessage ToOutbound(const DeliveryJob& job, size_t first, size_t count) {
  const queue::Envelope& envelope = job.envelope;
  smtp::OutboundMessage message;
  message.sender = ToAddress(
      job.senders.empty() || first >= job.senders.size() ? envelope.sender() : job.senders[first]);
  for (size_t i = first; i < first + count && i < job.attempted.size(); ++i) {
    const queue::proto::Recipient& stored = envelope.recipients(job.attempted[i]);
    smtp::Recipient& recipient = message.recipients.emplace_back();
    recipient.address = ToAddress(stored.address());
    recipient.notify = static_cast<uint8_t>(stored.notify());
    // Stored as received: "rfc822;user@example.com".
    if (const size_t semicolon = stored.orcpt().find(';'); semicolon != std::string::npos) {
      recipient.orcpt_type = stored.orcpt().substr(0, semicolon);
      recipient.orcpt = stored.orcpt().substr(semicolon + 1);
    }
  }
  message.envid = envelope.envid();
  message.ret = envelope.ret() == queue::proto::RET_FULL   ? smtp::DsnRet::kFull
                : envelope.ret() == queue::proto::RET_HDRS ? smtp::DsnRet::kHeaders
                                                           : smtp::DsnRet::kUnspecified;
  message.body = *job.body;
  message.body_owner = job.body;
  message.needs_8bit = job.needs_8bit;
  return message;
}

void UseVerp(DeliveryJob& job, const mail::Verp& verp, std::string_view bounce_domain) {
  const queue::Envelope& envelope = job.envelope;
  if (envelope.sender().empty() || !envelope.queue().empty()) return;
  const absl::StatusOr<common::MessageId> id = queue::ParseIdKey(envelope.id());
  if (!id.ok()) return;
  job.senders.clear();
  for (const int index : job.attempted) {
    job.senders.push_back(
        verp.Encode(*id, static_cast<uint32_t>(index),
                    absl::string_view(bounce_domain.data(), bounce_domain.size())));
  }
}

std::string_view VerpDomainFor(const queue::Envelope& envelope,
                               const absl::flat_hash_map<std::string, std::string>& by_tenant,
                               const absl::flat_hash_map<std::string, std::string>& by_pool,
                               std::string_view fallback) {
  if (auto it = by_tenant.find(envelope.tenant()); it != by_tenant.end()) return it->second;
  if (auto it = by_pool.find(envelope.pool()); it != by_pool.end()) return it->second;
  return fallback;
}

bool HasEightBit(const std::string& body) {
  return std::any_of(body.begin(), body.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace sluice::engine
