#include "common/bounded_labels.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/thread_shard.h"

namespace sluice::common {
namespace {

constexpr size_t kMaxValueBytes = 128;

absl::string_view View(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

// Well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF), as
// the exposition format wants label values.
bool IsUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra = 0;
    uint32_t code = 0;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace

struct alignas(64) BoundedLabels::ShardTable {
  // Promoted values this table knows of, and their slots.
  absl::flat_hash_map<std::string, int> known;
  int synced = 0;  // slots [0, synced) are in `known`
  bool full = false;
  // Misra-Gries summary of values without a series.
  absl::flat_hash_map<std::string, uint64_t> candidates;
};

absl::StatusOr<std::unique_ptr<BoundedLabels>> BoundedLabels::Create(MetricsRegistry& registry,
                                                                     BoundedLabelsOptions options) {
  if (options.max_values < 0) {
    return absl::InvalidArgumentError(absl::StrCat(options.name, ": max_values must be >= 0"));
  }
  if (options.promote_after == 0) {
    return absl::InvalidArgumentError(absl::StrCat(options.name, ": promote_after must be >= 1"));
  }
  if (options.columns.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(options.name, ": no columns"));
  }
  const int tables = registry.shards() + 1;
  std::unique_ptr<BoundedLabels> labels(new BoundedLabels(registry, std::move(options), tables));
  for (const MetricLabels& column : labels->options_.columns) {
    MetricLabels series = column;
    series.emplace_back(labels->options_.label, std::string(kOther));
    absl::StatusOr<Counter*> counter = registry.AddCounter(
        View(labels->options_.name), View(labels->options_.help), std::move(series));
    if (!counter.ok()) return counter.status();
    labels->other_.push_back(*counter);
  }
  return labels;
}

BoundedLabels::BoundedLabels(MetricsRegistry& registry, BoundedLabelsOptions options, int tables)
    : registry_(registry),
      options_(std::move(options)),
      summary_capacity_(std::max<size_t>(16, 4 * static_cast<size_t>(options_.max_values))),
      slots_(new Slot[std::max(options_.max_values, 1)]),
      tables_(new ShardTable[tables]),
      shared_table_(tables - 1) {}

BoundedLabels::~BoundedLabels() = default;

void BoundedLabels::Add(int column, std::string_view value, uint64_t n) {
  if (n == 0) return;
  if (value.empty()) value = kNone;
  const int shard = CurrentShard();
  int slot;
  if (shard >= 0 && shard < shared_table_) {
    slot = Lookup(tables_[shard], value, n);
  } else {
    std::lock_guard<std::mutex> lock(shared_mu_);
    slot = Lookup(tables_[shared_table_], value, n);
  }
  Counter* counter = slot < 0 ? other_[column] : slots_[slot].counters[column];
  counter->Add(n);
}

int BoundedLabels::Lookup(ShardTable& table, std::string_view value, uint64_t n) {
  Sync(table);
  if (auto it = table.known.find(View(value)); it != table.known.end()) return it->second;
  if (table.full || value == kOther || value.size() > kMaxValueBytes) return -1;
  if (!Observe(table, value, n)) return -1;
  const int slot = Promote(value);
  table.candidates.erase(View(value));
  Sync(table);
  return slot;
}

void BoundedLabels::Sync(ShardTable& table) {
  const int promoted = promoted_.load(std::memory_order_acquire);
  while (table.synced < promoted) {
    const std::string& value = slots_[table.synced].value;
    table.candidates.erase(value);
    table.known.emplace(value, table.synced);
    ++table.synced;
  }
  if (promoted >= options_.max_values && !table.full) {
    table.full = true;
    table.candidates = {};  // no further promotions: free the summary
  }
}

bool BoundedLabels::Observe(ShardTable& table, std::string_view value, uint64_t n) {
  if (auto it = table.candidates.find(View(value)); it != table.candidates.end()) {
    it->second += n;
    return it->second >= options_.promote_after;
  }
  if (table.candidates.size() >= summary_capacity_) {
    // Misra-Gries with weights: take the smaller of n and the smallest
    // count off every entry (and off n). Each unit taken off was added
    // once, so this costs O(1) per unit counted, amortised.
    uint64_t smallest = std::numeric_limits<uint64_t>::max();
    for (const auto& [key, count] : table.candidates) smallest = std::min(smallest, count);
    const uint64_t cut = std::min(smallest, n);
    for (auto it = table.candidates.begin(); it != table.candidates.end();) {
      it->second -= cut;
      if (it->second == 0) {
        table.candidates.erase(it++);
      } else {
        ++it;
      }
    }
    n -= cut;
    if (n == 0 || table.candidates.size() >= summary_capacity_) return false;
  }
  table.candidates.emplace(std::string(value), n);
  return n >= options_.promote_after;
}

int BoundedLabels::Promote(std::string_view value) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = slot_of_.find(View(value)); it != slot_of_.end()) return it->second;
  const int slot = promoted_.load(std::memory_order_relaxed);
  if (slot >= options_.max_values || value == kOther || value.size() > kMaxValueBytes ||
      !IsUtf8(value)) {
    return -1;
  }
  Slot& s = slots_[slot];
  for (const MetricLabels& column : options_.columns) {
    MetricLabels series = column;
    series.emplace_back(options_.label, std::string(value));
    absl::StatusOr<Counter*> counter =
        registry_.AddCounter(View(options_.name), View(options_.help), std::move(series));
    // Create() registered this family with these label names already, so
    // a failure here is a bug; count the value under "other" rather than
    // lose it.
    if (!counter.ok()) {
      s.counters.clear();
      return -1;
    }
    s.counters.push_back(*counter);
  }
  s.value = std::string(value);
  slot_of_.emplace(s.value, slot);
  promoted_.store(slot + 1, std::memory_order_release);
  return slot;
}

std::vector<std::string> BoundedLabels::Promoted() const {
  const int promoted = promoted_.load(std::memory_order_acquire);
  std::vector<std::string> values;
  values.reserve(promoted);
  for (int i = 0; i < promoted; ++i) values.push_back(slots_[i].value);
  return values;
}

}  // namespace sluice::common
