// StatsHistory: what the dashboard's overview and `sluicectl top` show,
// GET /api/v1/stats: totals and gauges read live from the metrics, and the
// last hour of rates, queue depth, connections and latencies, one point per
// interval, so that a page opened now can plot the hour before it.
//
// Sample() reads the sources (relaxed atomic loads, no lock) and, once an
// interval has passed since the last point, adds one: the rates per second
// between the two readings, and the p99 of spool commits and loop lag from
// the histograms' bucket counts in between (interpolated within a bucket,
// as Prometheus' histogram_quantile does). Used on one shard; each HTTP
// shard keeps its own, driven by its own timer.
//
//   StatsHistory history(sources);
//   history.Sample(now);                  // every few seconds
//   std::string json = history.Json(now); // the answer to GET /api/v1/stats
//                                         // (?since=UNIX_MS: newer points only)
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/metrics.h"

namespace sluice::api {

// Where the numbers come from; null or empty entries count as zero.
struct StatsSources {
  std::vector<const common::Counter*> accepted;  // every listener's acknowledged messages
  const common::Counter* delivered = nullptr;
  const common::Counter* deferred = nullptr;
  const common::Counter* bounced = nullptr;
  const common::Counter* expired = nullptr;
  const common::Gauge* scheduled = nullptr;         // the queue: held until due
  const common::Gauge* ready = nullptr;             // and waiting for a connection
  const common::Gauge* outbound = nullptr;          // connections open
  std::vector<const common::Gauge*> inbound;        // SMTP connections open, per listener
  const common::Histogram* spool_commit = nullptr;  // seconds
  std::vector<const common::Histogram*> loop_lag;   // seconds, one per shard
};

class StatsHistory {
 public:
  explicit StatsHistory(StatsSources sources, absl::Duration interval = absl::Seconds(10),
                        absl::Duration span = absl::Hours(1));

  // Adds a point when `interval` has passed since the last one (the first
  // call only takes the reading the first point is measured from).
  void Sample(absl::Time now);
  // The points after `since` only (a client that has the rest).
  std::string Json(absl::Time now, absl::Time since = absl::InfinitePast()) const;

  absl::Duration interval() const { return interval_; }
  size_t points() const { return points_.size(); }

  // The q-quantile of the observations whose cumulative bucket counts
  // (one per bound, then +Inf) are `cumulative`; 0 without observations,
  // the last bound when it falls in the +Inf bucket.
  static double Quantile(const std::vector<double>& bounds, const std::vector<uint64_t>& cumulative,
                         double q);

 private:
  struct Reading {
    absl::Time time;
    uint64_t accepted = 0, delivered = 0, deferred = 0, bounced = 0;
    std::vector<uint64_t> spool_commit;  // cumulative buckets
    std::vector<uint64_t> loop_lag;      // summed over the shards
  };
  struct Point {
    absl::Time time;
    double accepted = 0, delivered = 0, deferred = 0, bounced = 0;  // per second
    int64_t queue = 0;
    int64_t outbound = 0;
    double spool_commit_p99 = 0, loop_lag_p99 = 0;  // seconds
  };

  Reading Read(absl::Time now) const;

  const StatsSources sources_;
  const absl::Duration interval_;
  const size_t max_points_;
  bool have_reading_ = false;
  Reading last_;
  std::deque<Point> points_;
};

}  // namespace sluice::api
