// The hot-path cost of counting by a bounded label (common/bounded_labels.h)
// next to a plain counter: what a shard pays per delivered recipient for
// sluice_delivery_site_recipients_total and the like.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bounded_labels.h"
#include "common/metrics.h"
#include "common/thread_shard.h"

namespace sluice::common {
namespace {

std::unique_ptr<BoundedLabels> MakeLabels(MetricsRegistry& registry, int max_values) {
  BoundedLabelsOptions options;
  options.name = "sluice_bench_site_recipients_total";
  options.help = "Bench.";
  options.label = "site";
  options.columns = {{{"result", "delivered"}}, {{"result", "deferred"}}};
  options.max_values = max_values;
  options.promote_after = 1;
  return BoundedLabels::Create(registry, options).value();
}

// Baseline: one relaxed add into the shard's cell.
void BM_CounterAdd(benchmark::State& state) {
  SetCurrentShard(0);
  MetricsRegistry registry(4);
  Counter* counter = registry.AddCounter("sluice_bench_total", "Bench.").value();
  for (auto _ : state) counter->Add();
  benchmark::DoNotOptimize(counter->Value());
  SetCurrentShard(-1);
}
BENCHMARK(BM_CounterAdd);

// A site with its own series, among 50 promoted ones (realistic site keys).
void BM_BoundedLabelsAddPromoted(benchmark::State& state) {
  SetCurrentShard(0);
  MetricsRegistry registry(4);
  auto labels = MakeLabels(registry, 50);
  std::vector<std::string> sites;
  for (int i = 0; i < 50; ++i)
    sites.push_back(absl::StrCat("mx:mx", i, ".mailbox-provider.example"));
  for (const std::string& site : sites) labels->Add(0, site);  // warm-up: promote all 50
  size_t i = 0;
  for (auto _ : state) {
    labels->Add(0, sites[i]);
    if (++i == sites.size()) i = 0;
  }
  SetCurrentShard(-1);
}
BENCHMARK(BM_BoundedLabelsAddPromoted);

// The long tail after the table is full: a value without a series goes
// straight to "other" (no summary once full).
void BM_BoundedLabelsAddOtherWhenFull(benchmark::State& state) {
  SetCurrentShard(0);
  MetricsRegistry registry(4);
  auto labels = MakeLabels(registry, 50);
  for (int i = 0; i < 50; ++i) labels->Add(0, absl::StrCat("mx:mx", i, ".big.example"));
  std::vector<std::string> tail;
  for (int i = 0; i < 4096; ++i) tail.push_back(absl::StrCat("mx:mx.tail", i, ".example"));
  size_t i = 0;
  for (auto _ : state) {
    labels->Add(1, tail[i]);
    i = (i + 1) & 4095;
  }
  SetCurrentShard(-1);
}
BENCHMARK(BM_BoundedLabelsAddOtherWhenFull);

// Before the table fills: many distinct values churn through the
// Misra-Gries summary (the worst case, amortised).
void BM_BoundedLabelsAddChurningSummary(benchmark::State& state) {
  SetCurrentShard(0);
  MetricsRegistry registry(4);
  BoundedLabelsOptions options;
  options.name = "sluice_bench_churn_total";
  options.help = "Bench.";
  options.label = "site";
  options.columns = {{{"result", "delivered"}}};
  options.max_values = 50;
  options.promote_after = uint64_t{1} << 40;  // never promotes: stays in the summary path
  auto labels = BoundedLabels::Create(registry, options).value();
  std::vector<std::string> values;
  for (int i = 0; i < 65536; ++i) values.push_back(absl::StrCat("mx:mx.tail", i, ".example"));
  size_t i = 0;
  for (auto _ : state) {
    labels->Add(0, values[i]);
    i = (i + 1) & 65535;
  }
  SetCurrentShard(-1);
}
BENCHMARK(BM_BoundedLabelsAddChurningSummary);

}  // namespace
}  // namespace sluice::common

BENCHMARK_MAIN();
