#include "engine/delivery_event.h"

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sluice::engine {
namespace {

void AppendKey(std::string* out, std::string_view key) {
  if (out->size() > 1) out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

void AppendStringField(std::string* out, std::string_view key, std::string_view value) {
  AppendKey(out, key);
  AppendJsonString(out, value);
}

void AppendMillisField(std::string* out, std::string_view key, absl::Duration duration) {
  AppendKey(out, key);
  // JSON has no infinity; an unmeasured (infinite) duration reads as 0.
  if (duration == absl::InfiniteDuration() || duration == -absl::InfiniteDuration()) {
    duration = absl::ZeroDuration();
  }
  // Fixed three decimals, then trailing zeros dropped: "12.5", "0", "3.001".
  std::string number = absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(duration));
  while (number.back() == '0') number.pop_back();
  if (number.back() == '.') number.pop_back();
  if (number == "-0") number = "0";
  out->append(number);
}

std::string IdText(const common::MessageId& id) {
  return id == common::MessageId() ? std::string() : id.ToString();
}

}  // namespace

std::string_view EventTypeName(DeliveryEventType type) {
  switch (type) {
    case DeliveryEventType::kDelivered:
      return "delivered";
    case DeliveryEventType::kDeferred:
      return "deferred";
    case DeliveryEventType::kBounced:
      return "bounced";
    case DeliveryEventType::kExpired:
      return "expired";
    case DeliveryEventType::kDsnFailure:
      return "dsn_failure";
    case DeliveryEventType::kDsnDelay:
      return "dsn_delay";
    case DeliveryEventType::kDsnRelayed:
      return "dsn_relayed";
    case DeliveryEventType::kAsyncBounce:
      return "async_bounce";
    case DeliveryEventType::kComplaint:
      return "complaint";
  }
  return "unknown";
}

std::string FormatEventJson(const DeliveryEvent& e) {
  std::string out;
  out.reserve(512);
  out.push_back('{');
  AppendStringField(&out, "type", EventTypeName(e.type));
  AppendStringField(&out, "time",
                    absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", e.time, absl::UTCTimeZone()));
  AppendStringField(&out, "message_id", IdText(e.message_id));
  AppendStringField(&out, "recipient", e.recipient);
  AppendStringField(&out, "sender", e.sender);
  AppendStringField(&out, "domain", e.domain);
  AppendStringField(&out, "site", e.site);
  AppendStringField(&out, "remote_host", e.remote_host);
  AppendStringField(&out, "remote_ip", e.remote_ip);
  AppendStringField(&out, "tls_version", e.tls_version);
  AppendStringField(&out, "tls_cipher", e.tls_cipher);
  AppendStringField(&out, "reply", e.reply);
  AppendStringField(&out, "status", e.status);
  AppendKey(&out, "attempt");
  absl::StrAppend(&out, e.attempt);
  AppendMillisField(&out, "connect_ms", e.connect_time);
  AppendMillisField(&out, "tls_ms", e.tls_time);
  AppendMillisField(&out, "transaction_ms", e.transaction_time);
  AppendStringField(&out, "tenant", e.tenant);
  AppendStringField(&out, "campaign", e.campaign);
  AppendStringField(&out, "pool", e.pool);
  AppendStringField(&out, "queue", e.queue);
  AppendStringField(&out, "dsn_id", IdText(e.dsn_id));
  AppendKey(&out, "dsn_recipients");
  out.push_back('[');
  for (size_t i = 0; i < e.dsn_recipients.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(&out, e.dsn_recipients[i]);
  }
  out.push_back(']');
  AppendStringField(&out, "category", e.category);
  AppendStringField(&out, "original_message_id", e.original_message_id);
  AppendStringField(&out, "original_envelope_id", IdText(e.original_envelope_id));
  AppendKey(&out, "original_recipient_index");
  absl::StrAppend(&out, e.original_recipient_index);
  out.push_back('}');
  return out;
}

}  // namespace sluice::engine
