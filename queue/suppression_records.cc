#include "queue/suppression_records.h"

#include <algorithm>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "queue/rocksdb_convert.h"
#include "queue/spool_keys.h"
#include "queue/spool_record.pb.h"
#include "rocksdb/db.h"

namespace sluice::queue {
namespace {

proto::SuppressionSource ToProto(SuppressionSource source) {
  switch (source) {
    case SuppressionSource::kHardBounce:
      return proto::SUPPRESSION_HARD_BOUNCE;
    case SuppressionSource::kComplaint:
      return proto::SUPPRESSION_COMPLAINT;
    case SuppressionSource::kUnsubscribe:
      return proto::SUPPRESSION_UNSUBSCRIBE;
    case SuppressionSource::kOperator:
      break;
  }
  return proto::SUPPRESSION_OPERATOR;
}

SuppressionSource FromProto(proto::SuppressionSource source) {
  switch (source) {
    case proto::SUPPRESSION_HARD_BOUNCE:
      return SuppressionSource::kHardBounce;
    case proto::SUPPRESSION_COMPLAINT:
      return SuppressionSource::kComplaint;
    case proto::SUPPRESSION_UNSUBSCRIBE:
      return SuppressionSource::kUnsubscribe;
    default:
      break;
  }
  return SuppressionSource::kOperator;
}

absl::Status Unopened() {
  return absl::UnavailableError("spool is reopening after a write failure");
}

}  // namespace

std::string EncodeSuppression(const SuppressionEntry& entry) {
  proto::Suppression record;
  record.set_source(ToProto(entry.source));
  record.set_reason(entry.reason);
  record.set_created_unix_ms(entry.created_unix_ms);
  record.set_expires_unix_ms(entry.expires_unix_ms);
  return record.SerializeAsString();
}

absl::StatusOr<SuppressionEntry> DecodeSuppression(absl::string_view key, absl::string_view value) {
  absl::StatusOr<SuppressionKeyParts> parts = ParseSuppressionKey(key);
  if (!parts.ok()) return parts.status();
  proto::Suppression record;
  if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError("suppression record does not decode");
  }
  SuppressionEntry entry;
  entry.scope = std::string(parts->scope);
  entry.address = std::string(parts->address);
  entry.source = FromProto(record.source());
  entry.reason = record.reason();
  entry.created_unix_ms = record.created_unix_ms();
  entry.expires_unix_ms = record.expires_unix_ms();
  return entry;
}

absl::StatusOr<std::vector<std::optional<SuppressionEntry>>> LookUpSuppressions(
    const SpoolDb& db, absl::string_view tenant, const std::vector<std::string>& addresses,
    int64_t now_unix_ms) {
  if (!db.is_open()) return Unopened();
  // Two keys per address, the tenant's first; mail without a tenant has
  // only the global one.
  const int per_address = tenant.empty() ? 1 : 2;
  std::vector<std::string> keys;
  keys.reserve(addresses.size() * per_address);
  for (const std::string& address : addresses) {
    const std::string normalized = NormalizeSuppressedAddress(address);
    if (!tenant.empty()) keys.push_back(SuppressionKey(tenant, normalized));
    keys.push_back(SuppressionKey("", normalized));
  }
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const std::string& key : keys) slices.push_back(ToSlice(key));
  std::vector<std::string> values;
  const std::vector<rocksdb::Status> statuses = db.db()->MultiGet(
      rocksdb::ReadOptions(),
      std::vector<rocksdb::ColumnFamilyHandle*>(keys.size(), db.suppression()), slices, &values);
  std::vector<std::optional<SuppressionEntry>> found(addresses.size());
  for (size_t i = 0; i < addresses.size(); ++i) {
    for (int k = 0; k < per_address && !found[i].has_value(); ++k) {
      const size_t at = i * per_address + k;
      if (statuses[at].IsNotFound()) continue;
      if (!statuses[at].ok()) return FromRocks(statuses[at], "read suppression");
      absl::StatusOr<SuppressionEntry> entry = DecodeSuppression(keys[at], values[at]);
      // A record that does not decode refuses nothing; the census
      // reports it.
      if (entry.ok() && entry->Live(now_unix_ms)) found[i] = *std::move(entry);
    }
  }
  return found;
}

absl::Status ScanSuppressions(const SpoolDb& db, absl::string_view scope, absl::string_view prefix,
                              absl::string_view after, int64_t now_unix_ms,
                              absl::FunctionRef<bool(const SuppressionEntry&)> visit) {
  if (!db.is_open()) return Unopened();
  rocksdb::ReadOptions read_options;
  const rocksdb::Snapshot* snapshot = db.db()->GetSnapshot();
  read_options.snapshot = snapshot;
  read_options.fill_cache = false;
  const std::string scope_start = SuppressionKey(scope, "");
  std::string start = SuppressionKey(scope, prefix);
  if (!after.empty()) {
    // Just past `after`: the next key in bytewise order.
    std::string past = SuppressionKey(scope, after);
    past.push_back('\0');
    start = std::max(start, past);
  }
  absl::Status status;
  {
    std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(read_options, db.suppression()));
    for (it->Seek(start); it->Valid(); it->Next()) {
      const absl::string_view key = ToView(it->key());
      if (!absl::StartsWith(key, scope_start)) break;
      if (!absl::StartsWith(key.substr(scope_start.size()), prefix)) break;
      absl::StatusOr<SuppressionEntry> entry = DecodeSuppression(key, ToView(it->value()));
      if (!entry.ok() || !entry->Live(now_unix_ms)) continue;
      if (!visit(*entry)) break;
    }
    status = FromRocks(it->status(), "scan suppression");
  }
  db.db()->ReleaseSnapshot(snapshot);
  return status;
}

absl::StatusOr<SuppressionCensus> TakeSuppressionCensus(const SpoolDb& db, int64_t now_unix_ms) {
  if (!db.is_open()) return Unopened();
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  SuppressionCensus census;
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(read_options, db.suppression()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++census.entries;
    const absl::string_view key = ToView(it->key());
    absl::StatusOr<SuppressionEntry> entry = DecodeSuppression(key, ToView(it->value()));
    if (entry.ok() && !entry->Live(now_unix_ms)) census.expired_keys.emplace_back(key);
  }
  SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "scan suppression"));
  return census;
}

}  // namespace sluice::queue
