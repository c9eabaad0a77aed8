// Cross-shard message rate: shard 0 posts tasks to shard 1 as fast as it
// can; the iteration ends when shard 1 has run them all.
//
//   bazel run -c opt //bench:mailbox_bench
#include <benchmark/benchmark.h>

#include <atomic>
#include <latch>

#include "reactor/shard_group.h"

namespace sluice::bench {
namespace {

void BM_CrossShardPost(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  reactor::ShardGroupOptions options;
  options.shards = 2;
  options.reactor.recv_buffer_count = 16;
  auto group = reactor::ShardGroup::Start(options);
  if (!group.ok()) {
    state.SkipWithError("cannot start shards");
    return;
  }
  uint64_t received = 0;  // touched only on shard 1
  for (auto _ : state) {
    std::latch done(1);
    (*group)->Post(0, [&] {
      for (int i = 0; i < batch; ++i) {
        (*group)->Post(1, [&, last = i == batch - 1] {
          ++received;
          if (last) done.count_down();
        });
      }
    });
    done.wait();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
  (*group)->Stop();
  benchmark::DoNotOptimize(received);
}

BENCHMARK(BM_CrossShardPost)->Arg(1)->Arg(1000)->Arg(100000)->UseRealTime();

}  // namespace
}  // namespace sluice::bench

BENCHMARK_MAIN();
