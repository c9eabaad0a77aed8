// metrics: counters, gauges and histograms, exported in the Prometheus text
// format (version 0.0.4).
//
// Every metric keeps one cell per shard plus one shared cell for threads that
// are not shard threads (CurrentShard() == -1, see thread_shard.h). A write
// goes to the caller's own cell with a relaxed atomic, and each cell sits on
// its own cache lines, so shards never contend or share a written line; a
// read sums the cells. Writes are safe from any thread. Registration takes a
// lock and belongs at startup; it returns an error value for a bad name or
// label, or a name reused with another kind, help text or bucket layout.
// Metrics live as long as their registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice::common {

// Label name/value pairs. Their order does not matter: {a,b} and {b,a} name
// the same series.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

namespace metrics_internal {

struct alignas(64) CacheLine {
  std::atomic<uint64_t> words[8];
};

// `shards + 1` cells of `words_per_cell` zeroed words; each cell starts on a
// fresh cache line.
class ShardCells {
 public:
  ShardCells(int shards, int words_per_cell);

  // The calling thread's cell: its shard's, or the last (shared) one.
  int MyCell() const;
  int cell_count() const { return shards_ + 1; }

  std::atomic<uint64_t>& Word(int cell, int word) {
    return lines_[cell * lines_per_cell_ + word / 8].words[word % 8];
  }
  const std::atomic<uint64_t>& Word(int cell, int word) const {
    return lines_[cell * lines_per_cell_ + word / 8].words[word % 8];
  }
  // Wrapping sum of one word over all cells.
  uint64_t Sum(int word) const;

 private:
  const int shards_;
  const int lines_per_cell_;
  const std::unique_ptr<CacheLine[]> lines_;
};

}  // namespace metrics_internal

// Only goes up.
class Counter {
 public:
  void Add(uint64_t n = 1) {
    cells_.Word(cells_.MyCell(), 0).fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Value() const { return cells_.Sum(0); }

 private:
  friend class MetricsRegistry;
  explicit Counter(int shards) : cells_(shards, 1) {}

  metrics_internal::ShardCells cells_;
};

// A value that goes up and down. Each cell holds the calling thread's
// contribution and the exported value is their sum. Add() therefore works
// from any mix of threads. Set() replaces only the caller's contribution: it
// gives the exported value exactly when one thread (or one shard) owns the
// gauge, and the per-shard total when every shard Sets its own share (e.g.
// its count of open connections). Mixing Set from one thread with Add from
// others is allowed but rarely what you want.
class Gauge {
 public:
  void Set(int64_t value) {
    cells_.Word(cells_.MyCell(), 0).store(static_cast<uint64_t>(value), std::memory_order_relaxed);
  }
  void Add(int64_t delta) {
    cells_.Word(cells_.MyCell(), 0)
        .fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);
  }
  int64_t Value() const { return static_cast<int64_t>(cells_.Sum(0)); }

 private:
  friend class MetricsRegistry;
  explicit Gauge(int shards) : cells_(shards, 1) {}

  metrics_internal::ShardCells cells_;
};

// Counts observations into buckets with fixed upper bounds (value <= bound),
// plus an implicit +Inf bucket, and keeps their sum. NaN observations are
// ignored, since they would poison the sum for good. A read taken while
// other threads observe may be off by those few in-flight observations.
class Histogram {
 public:
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };

  void Observe(double value);
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  friend class MetricsRegistry;
  Histogram(int shards, std::vector<double> bounds);

  // Words per cell: one count per bucket (bounds, then +Inf), then the sum
  // as the bits of a double.
  const std::vector<double> bounds_;
  metrics_internal::ShardCells cells_;
};

class MetricsRegistry {
 public:
  // `shards` is the number of shard threads (negative counts as 0).
  explicit MetricsRegistry(int shards);

  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each returns the metric for name + labels, creating it on first use; the
  // pointer stays valid as long as the registry.
  absl::StatusOr<Counter*> AddCounter(absl::string_view name, absl::string_view help,
                                      MetricLabels labels = {});
  absl::StatusOr<Gauge*> AddGauge(absl::string_view name, absl::string_view help,
                                  MetricLabels labels = {});
  // `bounds` must be strictly increasing; a final +Inf may be given or left
  // out. Every series of one name must use the same bounds.
  absl::StatusOr<Histogram*> AddHistogram(absl::string_view name, absl::string_view help,
                                          std::vector<double> bounds, MetricLabels labels = {});

  // Families sorted by name, series by labels.
  std::string RenderPrometheus() const;

  // The number of shard threads the metrics keep cells for.
  int shards() const { return shards_; }

 private:
  enum class Kind { kCounter, kGauge, kHistogram };

  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    Kind kind;
    std::string help;
    std::vector<double> bounds;
    std::map<MetricLabels, Series> series;  // keyed by labels sorted by name
  };

  // Validates, then finds the series or creates it (with no metric yet).
  absl::StatusOr<Series*> FindOrAdd(Kind kind, absl::string_view name, absl::string_view help,
                                    const std::vector<double>& bounds, MetricLabels labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int shards_;
  // std::mutex, not absl::Mutex: Debian's abseil is not instrumented, so
  // ThreadSanitizer would not see an absl::Mutex order registration (on
  // any thread) before rendering (on the HTTP worker).
  mutable std::mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::common
