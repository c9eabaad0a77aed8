#include "common/metrics.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/thread_shard.h"

namespace sluice::common {
namespace {

static_assert(sizeof(metrics_internal::CacheLine) == 64, "one cell word group per cache line");

bool IsMetricName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '_' || c == ':'; });
}

bool IsLabelName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0]) || absl::StartsWith(name, "__")) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
}

absl::string_view KindName(int kind) {
  static constexpr absl::string_view kNames[] = {"counter", "gauge", "histogram"};
  return kNames[kind];
}

// Prometheus floats: shortest text that reads back exactly, and the
// spellings +Inf, -Inf and NaN.
std::string FormatDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

// Escapes `\`, `"` and newline, as the exposition format asks of label
// values. HELP text escapes only `\` and newline.
void AppendEscaped(std::string* out, absl::string_view text, bool escape_quote) {
  for (const char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && escape_quote) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// `{a="x",le="0.5"}`, or nothing when there are no labels.
void AppendLabels(std::string* out, const MetricLabels& labels, const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return;
  out->push_back('{');
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, name, "=\"");
    AppendEscaped(out, value, /*escape_quote=*/true);
    out->push_back('"');
  }
  if (le != nullptr) absl::StrAppend(out, first ? "" : ",", "le=\"", *le, "\"");
  out->push_back('}');
}

}  // namespace

namespace metrics_internal {

ShardCells::ShardCells(int shards, int words_per_cell)
    : shards_(shards),
      lines_per_cell_((words_per_cell + 7) / 8),
      lines_(std::make_unique<CacheLine[]>(static_cast<size_t>(shards + 1) * lines_per_cell_)) {}

int ShardCells::MyCell() const {
  const int shard = CurrentShard();
  return shard >= 0 && shard < shards_ ? shard : shards_;
}

uint64_t ShardCells::Sum(int word) const {
  uint64_t sum = 0;
  for (int cell = 0; cell < cell_count(); ++cell) {
    sum += Word(cell, word).load(std::memory_order_relaxed);
  }
  return sum;
}

}  // namespace metrics_internal

Histogram::Histogram(int shards, std::vector<double> bounds)
    : bounds_(std::move(bounds)), cells_(shards, static_cast<int>(bounds_.size()) + 2) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  const int bucket =
      static_cast<int>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  const int cell = cells_.MyCell();
  cells_.Word(cell, bucket).fetch_add(1, std::memory_order_relaxed);
  // Only the shared cell can see two writers, so this loop almost never
  // retries.
  std::atomic<uint64_t>& sum = cells_.Word(cell, static_cast<int>(bounds_.size()) + 1);
  uint64_t old_bits = sum.load(std::memory_order_relaxed);
  while (!sum.compare_exchange_weak(
      old_bits, std::bit_cast<uint64_t>(std::bit_cast<double>(old_bits) + value),
      std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  const int buckets = static_cast<int>(bounds_.size()) + 1;
  snapshot.cumulative.resize(buckets);
  for (int bucket = 0; bucket < buckets; ++bucket) {
    snapshot.count += cells_.Sum(bucket);
    snapshot.cumulative[bucket] = snapshot.count;
  }
  for (int cell = 0; cell < cells_.cell_count(); ++cell) {
    snapshot.sum +=
        std::bit_cast<double>(cells_.Word(cell, buckets).load(std::memory_order_relaxed));
  }
  return snapshot;
}

MetricsRegistry::MetricsRegistry(int shards) : shards_(shards < 0 ? 0 : shards) {}

absl::StatusOr<MetricsRegistry::Series*> MetricsRegistry::FindOrAdd(
    Kind kind, absl::string_view name, absl::string_view help, const std::vector<double>& bounds,
    MetricLabels labels) {
  if (!IsMetricName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid metric name '", name, "'"));
  }
  std::sort(labels.begin(), labels.end());
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& label = labels[i].first;
    if (!IsLabelName(label) || (kind == Kind::kHistogram && label == "le")) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric '", name, "': invalid label name '", label, "'"));
    }
    if (i > 0 && labels[i - 1].first == label) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric '", name, "': label '", label, "' given twice"));
    }
  }
  auto [it, inserted] = families_.try_emplace(std::string(name));
  Family& family = it->second;
  if (inserted) {
    family.kind = kind;
    family.help = std::string(help);
    family.bounds = bounds;
  } else if (family.kind != kind) {
    return absl::AlreadyExistsError(absl::StrCat("metric '", name, "' is already registered as a ",
                                                 KindName(static_cast<int>(family.kind)),
                                                 ", not a ", KindName(static_cast<int>(kind))));
  } else if (family.help != help) {
    return absl::AlreadyExistsError(
        absl::StrCat("metric '", name, "' is already registered with other help text"));
  } else if (family.bounds != bounds) {
    return absl::AlreadyExistsError(
        absl::StrCat("metric '", name, "' is already registered with other buckets"));
  }
  return &family.series[std::move(labels)];
}

absl::StatusOr<Counter*> MetricsRegistry::AddCounter(absl::string_view name, absl::string_view help,
                                                     MetricLabels labels) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Series*> series = FindOrAdd(Kind::kCounter, name, help, {}, std::move(labels));
  if (!series.ok()) return series.status();
  if ((*series)->counter == nullptr) (*series)->counter.reset(new Counter(shards_));
  return (*series)->counter.get();
}

absl::StatusOr<Gauge*> MetricsRegistry::AddGauge(absl::string_view name, absl::string_view help,
                                                 MetricLabels labels) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Series*> series = FindOrAdd(Kind::kGauge, name, help, {}, std::move(labels));
  if (!series.ok()) return series.status();
  if ((*series)->gauge == nullptr) (*series)->gauge.reset(new Gauge(shards_));
  return (*series)->gauge.get();
}

absl::StatusOr<Histogram*> MetricsRegistry::AddHistogram(absl::string_view name,
                                                         absl::string_view help,
                                                         std::vector<double> bounds,
                                                         MetricLabels labels) {
  // +Inf is always the last bucket; accept it written out too.
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity())
    bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (std::isnan(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram '", name, "': bucket bounds must be strictly increasing"));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Series*> series =
      FindOrAdd(Kind::kHistogram, name, help, bounds, std::move(labels));
  if (!series.ok()) return series.status();
  if ((*series)->histogram == nullptr) {
    (*series)->histogram.reset(new Histogram(shards_, std::move(bounds)));
  }
  return (*series)->histogram.get();
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    absl::StrAppend(&out, "# HELP ", name, family.help.empty() ? "" : " ");
    AppendEscaped(&out, family.help, /*escape_quote=*/false);
    absl::StrAppend(&out, "\n# TYPE ", name, " ", KindName(static_cast<int>(family.kind)), "\n");
    for (const auto& [labels, series] : family.series) {
      switch (family.kind) {
        case Kind::kCounter:
          out.append(name);
          AppendLabels(&out, labels);
          absl::StrAppend(&out, " ", series.counter->Value(), "\n");
          break;
        case Kind::kGauge:
          out.append(name);
          AppendLabels(&out, labels);
          absl::StrAppend(&out, " ", series.gauge->Value(), "\n");
          break;
        case Kind::kHistogram: {
          const Histogram::Snapshot snapshot = series.histogram->Read();
          for (size_t i = 0; i < snapshot.cumulative.size(); ++i) {
            const std::string le =
                i < family.bounds.size() ? FormatDouble(family.bounds[i]) : "+Inf";
            absl::StrAppend(&out, name, "_bucket");
            AppendLabels(&out, labels, &le);
            absl::StrAppend(&out, " ", snapshot.cumulative[i], "\n");
          }
          absl::StrAppend(&out, name, "_sum");
          AppendLabels(&out, labels);
          absl::StrAppend(&out, " ", FormatDouble(snapshot.sum), "\n");
          absl::StrAppend(&out, name, "_count");
          AppendLabels(&out, labels);
          absl::StrAppend(&out, " ", snapshot.count, "\n");
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace sluice::common
