#include "engine/delivery_event.h"

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sluice::engine {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the well-formed UTF-8 sequence starting at text[i] (RFC
// 3629 table: no overlong forms, no surrogates, nothing above U+10FFFF), or
// 0 if there is none.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  size_t length;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

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
  }
  return "unknown";
}

void AppendJsonString(std::string* out, std::string_view text) {
  out->push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(text, i);
      if (length == 0) {
        out->append(kReplacement);
        ++i;
      } else {
        out->append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
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
  out.append("]}");
  return out;
}

}  // namespace sluice::engine
