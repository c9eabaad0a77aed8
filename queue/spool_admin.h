// SpoolAdmin: what operators may ask of the spool as a whole (the admin API
// uses it): counts, listings, purge and reschedule-now over the envelopes a
// SpoolFilter selects.
//
// An interface, so its users (api/) compile against neither RocksDB nor
// RocksDbSpool; RocksDbSpool implements it (queue/rocksdb_spool.h says how:
// over a snapshot, on its own operations thread). Every method may be called
// from a shard thread and never blocks; each answers once, on the calling
// shard (or, for a caller that is not a shard, on the spool's thread), with
// kUnavailable when the spool is too busy to take the request.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "common/message_id.h"
#include "queue/spool.h"

namespace sluice::queue {

// Selects envelopes for operations; an empty field matches anything.
struct SpoolFilter {
  std::string site;
  std::string domain;
  std::string tenant;
  std::string campaign;
  std::string queue;

  bool Matches(const Envelope& envelope) const;
  // True when every field is empty (the filter matches everything).
  bool Empty() const;
};

enum class SpoolGroupBy { kSite, kDomain, kTenant, kCampaign };

// The upper bounds, in minutes, of the age buckets Count() sorts envelopes
// into (Postfix's qshape): an envelope created less than 5 minutes ago is
// in the first bucket, one older than the last bound in the extra last one.
inline constexpr std::array<int64_t, 9> kSpoolAgeBucketsMinutes = {5,   10,  20,  40,  80,
                                                                   160, 320, 640, 1280};

// One row of Count(): a site, domain, tenant or campaign and how many
// envelopes and undelivered recipients it has in the spool, and the
// envelopes by age (kSpoolAgeBucketsMinutes, then older).
struct SpoolCount {
  std::string key;
  uint64_t envelopes = 0;
  uint64_t recipients = 0;
  std::array<uint64_t, kSpoolAgeBucketsMinutes.size() + 1> ages{};
};

// The index into SpoolCount::ages of an envelope `age_ms` old.
size_t SpoolAgeBucket(int64_t age_ms);

class SpoolAdmin {
 public:
  using CountDone = absl::AnyInvocable<void(absl::StatusOr<std::vector<SpoolCount>>)>;
  using ListDone = absl::AnyInvocable<void(absl::StatusOr<std::vector<Envelope>>)>;
  using AffectedDone = absl::AnyInvocable<void(absl::StatusOr<uint64_t>)>;

  virtual ~SpoolAdmin() = default;

  // Envelopes matching `filter`, grouped, largest group first.
  virtual void Count(SpoolFilter filter, SpoolGroupBy group_by, CountDone done) = 0;
  // Up to `limit` envelopes matching `filter` with ids after `after`, in id
  // (arrival) order; pass the last id of a page to get the next one.
  virtual void List(SpoolFilter filter, common::MessageId after, size_t limit, ListDone done) = 0;
  // Removes every matching envelope (no delivery, no bounce: the admin API
  // generates DSNs first where it wants them). Answers with how many.
  virtual void Purge(SpoolFilter filter, AffectedDone done) = 0;
  // Makes every matching envelope due now. Answers with how many moved.
  virtual void RescheduleNow(SpoolFilter filter, AffectedDone done) = 0;
};

}  // namespace sluice::queue
