#include "queue/spool_keys.h"

#include "absl/strings/str_cat.h"

namespace sluice::queue {
namespace {

void AppendBigEndian64(std::string* out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

uint64_t ReadBigEndian64(absl::string_view bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

}  // namespace

std::string IdKey(const common::MessageId& id) {
  const auto bytes = id.ToBytes();
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

absl::StatusOr<common::MessageId> ParseIdKey(absl::string_view key) {
  return common::MessageId::FromBytes(
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(key.data()), key.size()));
}

std::string ScheduleKey(int64_t due_unix_ms, const common::MessageId& id) {
  std::string key;
  key.reserve(24);
  AppendBigEndian64(&key, static_cast<uint64_t>(due_unix_ms < 0 ? 0 : due_unix_ms));
  key += IdKey(id);
  return key;
}

absl::StatusOr<ScheduleKeyParts> ParseScheduleKey(absl::string_view key) {
  if (key.size() != 24) {
    return absl::DataLossError(absl::StrCat("schedule key has ", key.size(), " bytes, not 24"));
  }
  ScheduleKeyParts parts;
  parts.due_unix_ms = static_cast<int64_t>(ReadBigEndian64(key));
  absl::StatusOr<common::MessageId> id = ParseIdKey(key.substr(8));
  if (!id.ok()) return id.status();
  parts.id = *id;
  return parts;
}

std::string SuppressionKey(absl::string_view scope, absl::string_view address) {
  std::string key;
  key.reserve(scope.size() + 1 + address.size());
  absl::StrAppend(&key, scope, absl::string_view("\0", 1), address);
  return key;
}

absl::StatusOr<SuppressionKeyParts> ParseSuppressionKey(absl::string_view key) {
  const size_t nul = key.find('\0');
  if (nul == absl::string_view::npos) {
    return absl::DataLossError("suppression key has no scope separator");
  }
  return SuppressionKeyParts{key.substr(0, nul), key.substr(nul + 1)};
}

}  // namespace sluice::queue
