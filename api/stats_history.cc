#include "api/stats_history.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sluice::api {
namespace {

uint64_t Sum(const std::vector<const common::Counter*>& counters) {
  uint64_t sum = 0;
  for (const common::Counter* counter : counters) sum += counter != nullptr ? counter->Value() : 0;
  return sum;
}

uint64_t ValueOf(const common::Counter* counter) {
  return counter != nullptr ? counter->Value() : 0;
}

int64_t ValueOf(const common::Gauge* gauge) { return gauge != nullptr ? gauge->Value() : 0; }

// Cumulative bucket counts summed over `histograms` (which share bounds).
std::vector<uint64_t> Buckets(const std::vector<const common::Histogram*>& histograms) {
  std::vector<uint64_t> sum;
  for (const common::Histogram* histogram : histograms) {
    if (histogram == nullptr) continue;
    const common::Histogram::Snapshot snapshot = histogram->Read();
    sum.resize(std::max(sum.size(), snapshot.cumulative.size()));
    for (size_t i = 0; i < snapshot.cumulative.size(); ++i) sum[i] += snapshot.cumulative[i];
  }
  return sum;
}

// later - earlier, bucket by bucket (empty if either is).
std::vector<uint64_t> Delta(const std::vector<uint64_t>& later,
                            const std::vector<uint64_t>& earlier) {
  if (later.size() != earlier.size()) return {};
  std::vector<uint64_t> delta(later.size());
  for (size_t i = 0; i < later.size(); ++i) delta[i] = later[i] - earlier[i];
  return delta;
}

const std::vector<double>& BoundsOf(const std::vector<const common::Histogram*>& histograms) {
  static const std::vector<double> kNone;
  for (const common::Histogram* histogram : histograms) {
    if (histogram != nullptr) return histogram->bounds();
  }
  return kNone;
}

std::string Number(double value) { return absl::StrFormat("%.3f", value); }

}  // namespace

StatsHistory::StatsHistory(StatsSources sources, absl::Duration interval, absl::Duration span)
    : sources_(std::move(sources)),
      interval_(std::max(interval, absl::Seconds(1))),
      max_points_(std::max<int64_t>(span / interval_, 1)) {}

double StatsHistory::Quantile(const std::vector<double>& bounds,
                              const std::vector<uint64_t>& cumulative, double q) {
  if (cumulative.empty() || cumulative.back() == 0 || bounds.empty()) return 0;
  const double rank = q * static_cast<double>(cumulative.back());
  size_t bucket = 0;
  while (bucket < cumulative.size() && static_cast<double>(cumulative[bucket]) < rank) ++bucket;
  if (bucket >= bounds.size()) return bounds.back();
  const double lower = bucket == 0 ? 0 : bounds[bucket - 1];
  const double below = bucket == 0 ? 0 : static_cast<double>(cumulative[bucket - 1]);
  const double in_bucket = static_cast<double>(cumulative[bucket]) - below;
  if (in_bucket <= 0) return bounds[bucket];
  return lower + (bounds[bucket] - lower) * (rank - below) / in_bucket;
}

StatsHistory::Reading StatsHistory::Read(absl::Time now) const {
  Reading reading;
  reading.time = now;
  reading.accepted = Sum(sources_.accepted);
  reading.delivered = ValueOf(sources_.delivered);
  reading.deferred = ValueOf(sources_.deferred);
  reading.bounced = ValueOf(sources_.bounced);
  reading.spool_commit = Buckets({sources_.spool_commit});
  reading.loop_lag = Buckets(sources_.loop_lag);
  return reading;
}

void StatsHistory::Sample(absl::Time now) {
  if (have_reading_ && now - last_.time < interval_) return;
  Reading reading = Read(now);
  if (have_reading_) {
    const double seconds = absl::ToDoubleSeconds(now - last_.time);
    auto rate = [seconds](uint64_t later, uint64_t earlier) {
      return static_cast<double>(later - earlier) / seconds;
    };
    Point point;
    point.time = now;
    point.accepted = rate(reading.accepted, last_.accepted);
    point.delivered = rate(reading.delivered, last_.delivered);
    point.deferred = rate(reading.deferred, last_.deferred);
    point.bounced = rate(reading.bounced, last_.bounced);
    point.queue = ValueOf(sources_.scheduled) + ValueOf(sources_.ready);
    point.outbound = ValueOf(sources_.outbound);
    point.spool_commit_p99 = Quantile(BoundsOf({sources_.spool_commit}),
                                      Delta(reading.spool_commit, last_.spool_commit), 0.99);
    point.loop_lag_p99 =
        Quantile(BoundsOf(sources_.loop_lag), Delta(reading.loop_lag, last_.loop_lag), 0.99);
    points_.push_back(point);
    while (points_.size() > max_points_) points_.pop_front();
  }
  last_ = std::move(reading);
  have_reading_ = true;
}

std::string StatsHistory::Json(absl::Time now, absl::Time since) const {
  const Point latest = points_.empty() ? Point{} : points_.back();
  int64_t inbound = 0;
  for (const common::Gauge* gauge : sources_.inbound) inbound += ValueOf(gauge);
  std::string out = absl::StrCat(
      "{\"interval_seconds\":", absl::ToInt64Seconds(interval_),
      ",\"now_unix_ms\":", absl::ToUnixMillis(now),
      ",\"totals\":{\"accepted\":", Sum(sources_.accepted),
      ",\"delivered\":", ValueOf(sources_.delivered), ",\"deferred\":", ValueOf(sources_.deferred),
      ",\"bounced\":", ValueOf(sources_.bounced), ",\"expired\":", ValueOf(sources_.expired),
      "},\"gauges\":{\"queue_scheduled\":", ValueOf(sources_.scheduled),
      ",\"queue_ready\":", ValueOf(sources_.ready),
      ",\"connections_outbound\":", ValueOf(sources_.outbound),
      ",\"connections_inbound\":", inbound, "},\"rates\":{\"accepted\":", Number(latest.accepted),
      ",\"delivered\":", Number(latest.delivered), ",\"deferred\":", Number(latest.deferred),
      ",\"bounced\":", Number(latest.bounced),
      "},\"latency\":{\"spool_commit_p99_ms\":", Number(latest.spool_commit_p99 * 1000),
      ",\"loop_lag_p99_ms\":", Number(latest.loop_lag_p99 * 1000), "},\"history\":[");
  bool first = true;
  for (const Point& point : points_) {
    if (point.time <= since) continue;
    if (!first) out.push_back(',');
    first = false;
    absl::StrAppend(
        &out, "{\"unix_ms\":", absl::ToUnixMillis(point.time),
        ",\"accepted\":", Number(point.accepted), ",\"delivered\":", Number(point.delivered),
        ",\"deferred\":", Number(point.deferred), ",\"bounced\":", Number(point.bounced),
        ",\"queue\":", point.queue, ",\"connections_outbound\":", point.outbound,
        ",\"spool_commit_p99_ms\":", Number(point.spool_commit_p99 * 1000),
        ",\"loop_lag_p99_ms\":", Number(point.loop_lag_p99 * 1000), "}");
  }
  out.append("]}\n");
  return out;
}

}  // namespace sluice::api
