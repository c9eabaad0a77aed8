// The suppression list's cost at ingest: what one injection pays to have
// its recipients looked up, on a list of a million entries.
//
//   bazel build -c opt //bench:suppression_bench && bazel-bin/bench/suppression_bench
//
// BM_LookUp/N: RocksDbSpool::LookUpSuppressed for a request of N
// recipients that are not on the list (the common case; each checks the
// tenant's scope and the global one), timed from the call to the answer,
// which includes the hop to the lookup thread and back. BM_LookUpHits/N:
// the same recipients all on the list. The peer, measured in the same run:
// BM_Read, the spool's read of one message (envelope and body) that
// delivery makes for every envelope it sends, through the same kind of
// thread hop. BM_Import: rows per second of a CSV import.
//
// The spool is created under $SLUICE_BENCH_DIR (default: /var/tmp).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "queue/rocksdb_spool.h"
#include "queue/spool_keys.h"

namespace sluice::bench {
namespace {

constexpr int kEntries = 1'000'000;

// Waits for one answer given on a spool thread.
template <typename T>
class Wait {
 public:
  auto Callback() {
    return [this](T value) {
      std::lock_guard<std::mutex> lock(mu_);
      value_.emplace(std::move(value));
      cv_.notify_one();
    };
  }
  T Get() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return value_.has_value(); });
    T value = std::move(*value_);
    value_.reset();
    return value;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

std::string Csv(int from, int count) {
  std::string csv = "address,reason\r\n";
  for (int i = from; i < from + count; ++i) {
    absl::StrAppend(&csv, "listed", i, "@d", i % 100, ".example,bench\r\n");
  }
  return csv;
}

// One spool with kEntries global entries and one stored message, made once.
struct Fixture {
  Fixture() {
    const char* base = getenv("SLUICE_BENCH_DIR");
    dir = absl::StrCat(base != nullptr ? base : "/var/tmp", "/sluice-suppression-bench-", getpid());
    std::filesystem::remove_all(dir);
    queue::RocksDbSpoolOptions options;
    options.path = dir;
    spool = *queue::RocksDbSpool::Open(std::move(options));
    for (int at = 0; at < kEntries; at += 100'000) {
      Wait<absl::StatusOr<queue::SuppressionImport>> imported;
      spool->ImportSuppressions("", Csv(at, 100'000), imported.Callback());
      if (!imported.Get().ok()) abort();
    }
    queue::NewMessage message;
    message.body_id = ids.Next();
    message.body.assign(20'000, 'x');
    queue::Envelope envelope;
    message_id = ids.Next();
    envelope.set_id(queue::IdKey(message_id));
    envelope.set_body_id(queue::IdKey(message.body_id));
    envelope.add_recipients()->set_address("a@example.com");
    envelope.set_next_due_unix_ms(absl::ToUnixMillis(absl::Now() + absl::Hours(24)));
    message.envelopes.push_back(std::move(envelope));
    Wait<absl::Status> enqueued;
    spool->Enqueue(std::move(message), enqueued.Callback());
    if (!enqueued.Get().ok()) abort();
  }
  ~Fixture() {
    spool.reset();
    std::filesystem::remove_all(dir);
  }

  std::string dir;
  common::MessageIdGenerator ids{common::Clock::Real(), 0, 1};
  common::MessageId message_id;
  std::unique_ptr<queue::RocksDbSpool> spool;
};

Fixture& Shared() {
  static Fixture* fixture = new Fixture();
  return *fixture;
}

void LookUp(benchmark::State& state, bool hits) {
  Fixture& f = Shared();
  const int n = static_cast<int>(state.range(0));
  std::vector<std::string> addresses;
  for (int i = 0; i < n; ++i) {
    addresses.push_back(hits ? absl::StrCat("listed", i * 7, "@d", (i * 7) % 100, ".example")
                             : absl::StrCat("reader", i, "@d", i % 100, ".example"));
  }
  Wait<absl::StatusOr<std::vector<std::optional<queue::SuppressionEntry>>>> answer;
  for (auto _ : state) {
    f.spool->LookUpSuppressed("acme", addresses, answer.Callback());
    auto found = answer.Get();
    if (!found.ok() || (*found)[0].has_value() != hits) abort();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_LookUp(benchmark::State& state) { LookUp(state, /*hits=*/false); }
void BM_LookUpHits(benchmark::State& state) { LookUp(state, /*hits=*/true); }
BENCHMARK(BM_LookUp)->Arg(1)->Arg(1000)->UseRealTime();
BENCHMARK(BM_LookUpHits)->Arg(1)->Arg(1000)->UseRealTime();

void BM_Read(benchmark::State& state) {
  Fixture& f = Shared();
  Wait<absl::StatusOr<queue::StoredMessage>> answer;
  for (auto _ : state) {
    f.spool->Read(f.message_id, answer.Callback());
    if (!answer.Get().ok()) abort();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Read)->UseRealTime();

void BM_Import(benchmark::State& state) {
  Fixture& f = Shared();
  int next = kEntries;
  for (auto _ : state) {
    const std::string csv = Csv(next, 10'000);
    next += 10'000;
    Wait<absl::StatusOr<queue::SuppressionImport>> imported;
    f.spool->ImportSuppressions("bench", csv, imported.Callback());
    if (!imported.Get().ok()) abort();
  }
  state.SetItemsProcessed(state.iterations() * 10'000);
}
BENCHMARK(BM_Import)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace sluice::bench

BENCHMARK_MAIN();
