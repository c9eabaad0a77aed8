#include "reactor/shard_group.h"

#include <pthread.h>
#include <sched.h>

#include <latch>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/thread_shard.h"

namespace sluice::reactor {
namespace {

void PinToCpu(int shard) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
  const int count = CPU_COUNT(&allowed);
  if (count == 0) return;
  int wanted = shard % count;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (wanted-- == 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
      return;
    }
  }
}

}  // namespace

ShardGroup::ShardGroup(const ShardGroupOptions& options)
    : mailbox_(options.shards, options.mailbox_capacity) {}

absl::StatusOr<std::unique_ptr<ShardGroup>> ShardGroup::Start(const ShardGroupOptions& options) {
  if (options.shards < 1 || options.shards > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard count must be between 1 and 256, got ", options.shards));
  }
  std::unique_ptr<ShardGroup> group(new ShardGroup(options));
  std::vector<absl::Status> errors(options.shards);
  std::latch ready(options.shards);
  for (int i = 0; i < options.shards; ++i) {
    group->shards_.push_back(std::make_unique<Shard>());
  }
  for (int i = 0; i < options.shards; ++i) {
    Shard* shard = group->shards_[i].get();
    shard->thread = std::thread([&group_ref = *group, shard, i, &options, &errors, &ready] {
      common::SetCurrentShard(i);
      pthread_setname_np(pthread_self(), absl::StrCat("shard-", i).c_str());
      if (options.pin_threads) PinToCpu(i);
      absl::StatusOr<std::unique_ptr<Reactor>> reactor = Reactor::Create(options.reactor);
      if (!reactor.ok()) {
        errors[i] = reactor.status();
        ready.count_down();
        return;
      }
      shard->reactor = *std::move(reactor);
      group_ref.mailbox_.Attach(i, *shard->reactor);
      ready.count_down();  // `options`, `errors` and `ready` die after this
      shard->reactor->Run();
      // The ring is torn down on the thread that used it.
      shard->reactor.reset();
    });
  }
  ready.wait();
  for (const absl::Status& error : errors) {
    if (!error.ok()) {
      group->Stop();
      return error;
    }
  }
  return group;
}

ShardGroup::~ShardGroup() { Stop(); }

void ShardGroup::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (int i = 0; i < size(); ++i) {
    // A shard whose reactor failed to start has already exited.
    Post(i, [this, i] {
      if (shards_[i]->reactor) shards_[i]->reactor->RequestStop();
    });
  }
  for (auto& shard : shards_) {
    if (shard->thread.joinable()) shard->thread.join();
  }
}

void ShardGroup::StartLagProbes(std::vector<common::Histogram*> histograms, absl::Duration period) {
  for (int i = 0; i < size() && i < static_cast<int>(histograms.size()); ++i) {
    if (histograms[i] == nullptr) continue;
    Reactor* reactor = shards_[i]->reactor.get();
    Post(i, [reactor, histogram = histograms[i], period] {
      reactor->StartLagProbe(histogram, period);
    });
  }
}

}  // namespace sluice::reactor
