// The delivery scheduler's hot path without I/O: messages coming due in a
// shard's schedule window and moving into the ready queues of their sites.
//
//   bazel run -c opt //bench:scheduler_bench
//
// BM_DueToReady: "messages moved per second from due to ready with 1M
// queued". A queue::ScheduleWindow holds 1,000,000 entries over 1,000
// domains, due times spread over 5 minutes; the timed part pops everything
// due in slices of 2,000 (DeliveryShared::max_routed_per_pass, as
// Scheduler::OnTimer does) and puts each message into its
// engine::SiteQueue the way DeliveryEngine::AddReady and SitePool::Add do, minus DNS: the
// domain's site key from a flat_hash_map (standing in for the resolver's
// cache), the queue key "<site>|<pool>|<rule>", the in-flight id set, the
// queue map, and Push. With arg 1 each message also refreshes its queue's
// destination (SiteQueue::SetDestination, which AddReady calls per
// message); with arg 0 it does not. 1,000 domains share 100 sites.
// Counters: window_bytes_per_entry (ScheduleWindow::MemoryBytes() with 1M
// held), heap_bytes_per_entry (malloc's count for the filled window), and
// ready_bytes_per_entry (malloc growth from the move: ready queues plus
// the in-flight set).
//
// BM_PopDue: the PopDue part of BM_DueToReady alone.
//
// BM_ScheduleWindowAdd: Add() of 1,000,000 entries into an empty window
// (the spool loader's hand-over), items per second.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "dns/site.h"
#include "engine/site_queue.h"
#include "queue/schedule_window.h"

namespace sluice::bench {
namespace {

constexpr int kDomains = 1000;
constexpr int kSites = 100;
constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr int64_t kSpreadMs = 5 * 60 * 1000;
constexpr size_t kSlice = 2000;

// Bytes malloc has handed out, including chunks it mmapped (large vectors
// and hash tables).
size_t HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

std::string Domain(int n) { return absl::StrCat("d", n % kDomains, ".example"); }

// `count` entries over kDomains domains, due over kSpreadMs in a scattered
// order (a stride coprime to the spread), so the heap has real work to do.
std::vector<queue::ScheduledMessage> Entries(int count) {
  std::vector<queue::ScheduledMessage> entries;
  entries.reserve(count);
  for (int i = 0; i < count; ++i) {
    const int64_t due = kStartMs + (static_cast<int64_t>(i) * 7919) % kSpreadMs;
    entries.push_back(
        {common::MessageId(1, static_cast<uint64_t>(i) + 1), due, Domain(i), "", "", "", ""});
  }
  return entries;
}

// What the resolver's cache would answer per domain.
struct Routing {
  absl::flat_hash_map<std::string, std::string> site_by_domain;
  absl::flat_hash_map<std::string, dns::Destination> destination_by_site;
};

Routing MakeRouting() {
  Routing routing;
  for (int d = 0; d < kDomains; ++d) {
    const int s = d % kSites;
    const std::string key =
        absl::StrCat("mx:mx1.provider", s, ".example,mx2.provider", s, ".example");
    routing.site_by_domain[Domain(d)] = key;
    if (routing.destination_by_site.contains(key)) continue;
    dns::Destination& destination = routing.destination_by_site[key];
    destination.site.key = key;
    for (int h = 1; h <= 2; ++h) {
      dns::DestinationHost& host = destination.hosts.emplace_back();
      host.host = absl::StrCat("mx", h, ".provider", s, ".example");
      host.preference = static_cast<uint16_t>(10 * h);
      host.addresses.push_back(
          *reactor::SocketAddress::FromHostPort(absl::StrCat("192.0.", h, ".", s), 25));
    }
  }
  return routing;
}

// The owning shard's side of DeliveryEngine::AddReady and SitePool::Add.
struct ReadyQueues {
  absl::flat_hash_map<std::string, std::unique_ptr<engine::SiteQueue>> queues;
  absl::flat_hash_set<common::MessageId> in_flight;
  engine::SiteLimits limits;
};

void BM_DueToReady(benchmark::State& state) {
  const bool set_destination = state.range(0) != 0;
  constexpr int kCount = 1'000'000;
  const std::vector<queue::ScheduledMessage> entries = Entries(kCount);
  const Routing routing = MakeRouting();
  double window_bytes = 0;
  double heap_bytes = 0;
  double ready_bytes = 0;
  int64_t moved_total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto window = std::make_unique<queue::ScheduleWindow>();
    auto ready = std::make_unique<ReadyQueues>();
    std::vector<queue::ScheduledMessage> due;
    due.reserve(kSlice);
    const size_t heap_before = HeapInUse();
    for (const queue::ScheduledMessage& entry : entries) window->Add(entry);
    const size_t heap_filled = HeapInUse();
    window_bytes = static_cast<double>(window->MemoryBytes()) / kCount;
    heap_bytes = static_cast<double>(heap_filled - heap_before) / kCount;
    state.ResumeTiming();

    const int64_t now_ms = kStartMs + kSpreadMs;
    int64_t moved = 0;
    for (;;) {
      due.clear();
      const size_t n = window->PopDue(now_ms, kSlice, &due);
      for (queue::ScheduledMessage& message : due) {
        // Route(): the resolver's answer (here a map lookup) and the key.
        const std::string& site_key = routing.site_by_domain.find(message.domain)->second;
        const std::string queue_key = absl::StrCat(site_key, "|", "default", "|", -1);
        // AddReady().
        if (!ready->in_flight.insert(message.id).second) continue;
        auto [it, inserted] = ready->queues.try_emplace(queue_key);
        if (inserted) {
          it->second = std::make_unique<engine::SiteQueue>(queue_key, ready->limits,
                                                           absl::Minutes(5), absl::Minutes(1));
        }
        if (set_destination) {
          it->second->SetDestination(routing.destination_by_site.find(site_key)->second);
        }
        it->second->Push({message.id, std::move(message.domain)});
        ++moved;
      }
      if (n < kSlice) break;
    }

    state.PauseTiming();
    ready_bytes = static_cast<double>(HeapInUse() - heap_filled) / kCount;
    if (moved != kCount || window->size() != 0) {
      state.SkipWithError("not everything moved");
      break;
    }
    moved_total += moved;
    ready.reset();
    window.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(moved_total);
  state.counters["window_bytes_per_entry"] = window_bytes;
  state.counters["heap_bytes_per_entry"] = heap_bytes;
  state.counters["ready_bytes_per_entry"] = ready_bytes;
}
BENCHMARK(BM_DueToReady)
    ->ArgName("set_destination")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

// PopDue alone, in slices of 2,000, of a window holding 1,000,000 entries
// that are all due: the schedule window's part of BM_DueToReady.
void BM_PopDue(benchmark::State& state) {
  constexpr int kCount = 1'000'000;
  const std::vector<queue::ScheduledMessage> entries = Entries(kCount);
  int64_t popped_total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto window = std::make_unique<queue::ScheduleWindow>();
    for (const queue::ScheduledMessage& entry : entries) window->Add(entry);
    std::vector<queue::ScheduledMessage> due;
    due.reserve(kSlice);
    state.ResumeTiming();
    for (;;) {
      due.clear();
      const size_t n = window->PopDue(kStartMs + kSpreadMs, kSlice, &due);
      popped_total += static_cast<int64_t>(n);
      benchmark::DoNotOptimize(due.data());
      if (n < kSlice) break;
    }
    state.PauseTiming();
    window.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(popped_total);
}
BENCHMARK(BM_PopDue)->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_ScheduleWindowAdd(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  const std::vector<queue::ScheduledMessage> entries = Entries(count);
  for (auto _ : state) {
    auto window = std::make_unique<queue::ScheduleWindow>();
    for (const queue::ScheduledMessage& entry : entries) window->Add(entry);
    benchmark::DoNotOptimize(window->size());
    state.PauseTiming();
    window.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * count);
}
BENCHMARK(BM_ScheduleWindowAdd)->Arg(1'000'000)->Iterations(5)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice::bench

BENCHMARK_MAIN();
