#include "common/metrics.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "common/thread_shard.h"

namespace sluice::common {
namespace {

TEST(MetricsTest, CounterSumsAddsFromEveryShardAndOtherThreads) {
  MetricsRegistry registry(4);
  Counter* counter = registry.AddCounter("sluice_received_total", "Messages received.").value();
  std::vector<std::thread> threads;
  // Shards 0..3 own cells; shard 9 is out of range and, like a thread with
  // no shard, shares the last cell.
  for (const int shard : {0, 1, 2, 3, 9, -1}) {
    threads.emplace_back([counter, shard] {
      SetCurrentShard(shard);
      for (int i = 0; i < 10'000; ++i) counter->Add();
      counter->Add(5);
    });
  }
  for (std::thread& t : threads) t.join();
  counter->Add(100);  // the test thread: no shard
  EXPECT_EQ(counter->Value(), 6u * 10'005u + 100u);
}

TEST(MetricsTest, CellsOfDifferentShardsNeverShareACacheLine) {
  metrics_internal::ShardCells cells(3, 10);
  for (int cell = 0; cell < cells.cell_count(); ++cell) {
    const auto first = reinterpret_cast<uintptr_t>(&cells.Word(cell, 0));
    const auto last = reinterpret_cast<uintptr_t>(&cells.Word(cell, 9));
    EXPECT_EQ(first % 64, 0u);
    if (cell + 1 < cells.cell_count()) {
      EXPECT_LT(last / 64, reinterpret_cast<uintptr_t>(&cells.Word(cell + 1, 0)) / 64);
    }
  }
}

TEST(MetricsTest, GaugeAddSumsAndSetReplacesOnlyTheCallersShare) {
  MetricsRegistry registry(2);
  Gauge* gauge = registry.AddGauge("sluice_connections", "Open connections.").value();
  std::thread([gauge] {
    SetCurrentShard(0);
    gauge->Set(10);
    gauge->Add(-3);
  }).join();
  std::thread([gauge] {
    SetCurrentShard(1);
    gauge->Set(5);
    gauge->Set(4);
  }).join();
  EXPECT_EQ(gauge->Value(), 7 + 4);
  gauge->Add(-20);  // the shared cell may go negative
  EXPECT_EQ(gauge->Value(), -9);
}

TEST(MetricsTest, SameNameAndLabelsReturnsTheSameMetric) {
  MetricsRegistry registry(1);
  Counter* a =
      registry.AddCounter("sluice_x_total", "X.", {{"listener", "relay"}, {"tls", "no"}}).value();
  Counter* b =
      registry.AddCounter("sluice_x_total", "X.", {{"tls", "no"}, {"listener", "relay"}}).value();
  Counter* c = registry.AddCounter("sluice_x_total", "X.", {{"listener", "http"}}).value();
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(MetricsTest, SameNameWithAnotherKindHelpOrBucketsIsAnError) {
  MetricsRegistry registry(1);
  ASSERT_TRUE(registry.AddCounter("sluice_x", "X.").ok());
  const absl::StatusOr<Gauge*> gauge = registry.AddGauge("sluice_x", "X.");
  ASSERT_FALSE(gauge.ok());
  EXPECT_EQ(gauge.status().message(),
            "metric 'sluice_x' is already registered as a counter, not a gauge");
  EXPECT_FALSE(registry.AddCounter("sluice_x", "Other.").ok());
  ASSERT_TRUE(registry.AddHistogram("sluice_h", "H.", {1, 2}).ok());
  EXPECT_FALSE(registry.AddHistogram("sluice_h", "H.", {1, 3}).ok());
  EXPECT_TRUE(registry.AddHistogram("sluice_h", "H.", {1, 2, INFINITY}).ok());
}

TEST(MetricsTest, RefusesInvalidNamesLabelsAndBounds) {
  MetricsRegistry registry(1);
  EXPECT_FALSE(registry.AddCounter("", "h").ok());
  EXPECT_FALSE(registry.AddCounter("1abc", "h").ok());
  EXPECT_FALSE(registry.AddCounter("a-b", "h").ok());
  EXPECT_FALSE(registry.AddCounter("ok", "h", {{"bad-label", "v"}}).ok());
  EXPECT_FALSE(registry.AddCounter("ok", "h", {{"__reserved", "v"}}).ok());
  EXPECT_FALSE(registry.AddCounter("ok", "h", {{"a", "1"}, {"a", "2"}}).ok());
  EXPECT_FALSE(registry.AddHistogram("hist", "h", {1}, {{"le", "1"}}).ok());
  EXPECT_FALSE(registry.AddHistogram("hist", "h", {2, 1}).ok());
  EXPECT_FALSE(registry.AddHistogram("hist", "h", {1, 1}).ok());
  EXPECT_FALSE(registry.AddHistogram("hist", "h", {NAN}).ok());
  EXPECT_TRUE(registry.AddCounter("sluice:ok_total", "h", {{"_a1", ""}}).ok());
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  MetricsRegistry registry(2);
  Histogram* histogram = registry.AddHistogram("sluice_size", "Sizes.", {1, 5, 10}).value();
  std::thread([histogram] {
    SetCurrentShard(1);
    histogram->Observe(0.5);
    histogram->Observe(1);  // a bound is inclusive: le="1"
    histogram->Observe(NAN);
  }).join();
  histogram->Observe(3);
  histogram->Observe(7);
  histogram->Observe(100);
  const Histogram::Snapshot snapshot = histogram->Read();
  EXPECT_EQ(snapshot.cumulative, (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(snapshot.count, 5u);
  EXPECT_DOUBLE_EQ(snapshot.sum, 111.5);
}

TEST(MetricsTest, RendersPrometheusTextFormat) {
  MetricsRegistry registry(2);
  Counter* relay =
      registry.AddCounter("sluice_received_total", "Messages received.", {{"listener", "relay"}})
          .value();
  Counter* http =
      registry.AddCounter("sluice_received_total", "Messages received.", {{"listener", "http"}})
          .value();
  Gauge* queued = registry.AddGauge("sluice_queued", "Messages queued.").value();
  Histogram* latency =
      registry.AddHistogram("sluice_delivery_seconds", "Delivery time.", {0.25, 1}).value();
  relay->Add(3);
  http->Add();
  queued->Set(-2);
  latency->Observe(0.1);
  latency->Observe(0.5);
  latency->Observe(2);

  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP sluice_delivery_seconds Delivery time.\n"
            "# TYPE sluice_delivery_seconds histogram\n"
            "sluice_delivery_seconds_bucket{le=\"0.25\"} 1\n"
            "sluice_delivery_seconds_bucket{le=\"1\"} 2\n"
            "sluice_delivery_seconds_bucket{le=\"+Inf\"} 3\n"
            "sluice_delivery_seconds_sum 2.6\n"
            "sluice_delivery_seconds_count 3\n"
            "# HELP sluice_queued Messages queued.\n"
            "# TYPE sluice_queued gauge\n"
            "sluice_queued -2\n"
            "# HELP sluice_received_total Messages received.\n"
            "# TYPE sluice_received_total counter\n"
            "sluice_received_total{listener=\"http\"} 1\n"
            "sluice_received_total{listener=\"relay\"} 3\n");
}

TEST(MetricsTest, RendersHistogramLabelsBeforeLe) {
  MetricsRegistry registry(0);
  registry.AddHistogram("h", "", {1}, {{"site", "example.com"}}).value()->Observe(1);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP h\n"
            "# TYPE h histogram\n"
            "h_bucket{site=\"example.com\",le=\"1\"} 1\n"
            "h_bucket{site=\"example.com\",le=\"+Inf\"} 1\n"
            "h_sum{site=\"example.com\"} 1\n"
            "h_count{site=\"example.com\"} 1\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelpText) {
  MetricsRegistry registry(1);
  registry.AddCounter("c", "Back\\slash and\nnewline \"kept\".", {{"v", "a\"b\\c\nd"}})
      .value()
      ->Add(1);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP c Back\\\\slash and\\nnewline \"kept\".\n"
            "# TYPE c counter\n"
            "c{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

}  // namespace
}  // namespace sluice::common
