// BoundedLabels: a counter family with one label whose values are unbounded
// (a destination site, a tenant) kept to at most `max_values` series per
// column; every other value is counted under the label value "other".
//
// The rule, which README.md repeats for operators:
//   - Each shard keeps a Misra-Gries heavy-hitter summary of the values it
//     has seen that have no series yet (at most 4 * max_values entries). Its
//     count never overestimates a value's true count on that shard, and any
//     value with more than 1/(4 * max_values + 1) of the shard's traffic is
//     always in it.
//   - A value gets its own series ("is promoted") once its summary count on
//     one shard reaches `promote_after`, as long as fewer than `max_values`
//     values have been promoted. So the series go to the first values that
//     prove real volume, which for a bulk sender are the big sites and
//     tenants; a one-off domain never gets one.
//   - A promotion is for the life of the process: a series never
//     disappears, and neither it nor "other" ever goes down (counts made
//     under "other" before the promotion stay there). Prometheus counters
//     therefore stay monotonic. A restart learns the set afresh.
//   - "" is reported as "none"; the value "other" itself, values longer
//     than 128 bytes and values that are not UTF-8 never get a series.
//
// Cost: on a shard thread, Add() is a hash lookup in the shard's own table
// plus one relaxed atomic add (the counter's shard cell); no lock once the
// value's slot is known. A value without a series also updates the shard's
// summary (amortised O(1)). A promotion takes a mutex and registers the
// value's counters, a few times per label value at most, at warm-up.
// Threads that are not shards (CurrentShard() == -1) share one table under
// a mutex. Add() is safe from any thread; the object must outlive its users.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/metrics.h"

namespace sluice::common {

struct BoundedLabelsOptions {
  std::string name;  // the counter family, e.g. "sluice_delivery_site_recipients_total"
  std::string help;
  std::string label;  // the bounded label's name, e.g. "site"
  // The fixed label sets that go with it, one per column (e.g. one per
  // result). At least one; an empty set is allowed.
  std::vector<MetricLabels> columns;
  int max_values = 50;
  uint64_t promote_after = 10;
};

class BoundedLabels {
 public:
  static constexpr std::string_view kOther = "other";
  static constexpr std::string_view kNone = "none";

  // Registers the "other" series of every column. InvalidArgument for
  // max_values < 0, promote_after == 0, no columns, or what the registry
  // refuses (bad names, a name already used differently).
  static absl::StatusOr<std::unique_ptr<BoundedLabels>> Create(MetricsRegistry& registry,
                                                               BoundedLabelsOptions options);
  ~BoundedLabels();
  BoundedLabels(const BoundedLabels&) = delete;
  BoundedLabels& operator=(const BoundedLabels&) = delete;

  // Adds `n` to the series of (`column`, `value`). `column` must be in
  // [0, columns.size()).
  void Add(int column, std::string_view value, uint64_t n = 1);

  // The values that have their own series, in the order they got it.
  std::vector<std::string> Promoted() const;

 private:
  struct Slot {
    std::string value;
    std::vector<Counter*> counters;  // one per column
  };
  struct ShardTable;

  BoundedLabels(MetricsRegistry& registry, BoundedLabelsOptions options, int tables);

  // The slot of `value` (-1: "other"), learning and promoting on the way.
  int Lookup(ShardTable& table, std::string_view value, uint64_t n);
  // Merges promotions made elsewhere into `table`.
  void Sync(ShardTable& table);
  // Counts `n` for `value` in the table's summary; true when it has reached
  // promote_after.
  bool Observe(ShardTable& table, std::string_view value, uint64_t n);
  // The slot `value` now has, or -1 when the table of series is full or the
  // value may not have one.
  int Promote(std::string_view value);

  MetricsRegistry& registry_;
  const BoundedLabelsOptions options_;
  const size_t summary_capacity_;
  std::vector<Counter*> other_;  // one per column
  // Written once each under mu_, before promoted_ is raised past them.
  const std::unique_ptr<Slot[]> slots_;
  std::atomic<int> promoted_{0};
  // std::mutex, not absl::Mutex (here and below): Debian's abseil is not
  // instrumented, so ThreadSanitizer would not see an absl::Mutex order
  // the accesses it guards.
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, int> slot_of_ ABSL_GUARDED_BY(mu_);
  // One per shard, then one shared by other threads (under shared_mu_).
  std::unique_ptr<ShardTable[]> tables_;
  const int shared_table_;
  std::mutex shared_mu_;
};

}  // namespace sluice::common
