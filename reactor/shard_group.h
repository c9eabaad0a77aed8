// ShardGroup: the shard threads, one reactor each, and the mailbox between
// them.
//
// Start() spawns the threads; each sets its shard index (common/
// thread_shard.h), creates its own reactor (io_uring wants the submitting
// thread to create it) and runs it. Post() runs a task on a shard.
// Stop() asks every reactor to stop once its in-flight requests have
// drained, then joins the threads. Start(), Stop() and the destructor are
// for the control thread (main), never a shard.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "reactor/mailbox.h"
#include "reactor/reactor.h"

namespace sluice::reactor {

struct ShardGroupOptions {
  int shards = 1;
  ReactorOptions reactor;
  size_t mailbox_capacity = 4096;
  // Pin shard i to CPU i (mod the CPUs this process may use).
  bool pin_threads = false;
};

class ShardGroup {
 public:
  static absl::StatusOr<std::unique_ptr<ShardGroup>> Start(const ShardGroupOptions& options);
  ~ShardGroup();
  ShardGroup(const ShardGroup&) = delete;
  ShardGroup& operator=(const ShardGroup&) = delete;

  int size() const { return static_cast<int>(shards_.size()); }

  // Runs `task` on shard `to`'s thread. Never blocks on a shard thread.
  void Post(int to, absl::AnyInvocable<void()> task) { mailbox_.Post(to, std::move(task)); }

  // Starts each shard's loop-lag probe (Reactor::StartLagProbe): shard i
  // observes into histograms[i] (null or missing: none) every `period`.
  void StartLagProbes(std::vector<common::Histogram*> histograms, absl::Duration period);

  // Shard `shard`'s reactor; use it only on that shard's thread.
  Reactor& reactor(int shard) { return *shards_[shard]->reactor; }

  // Stops every reactor (each finishes its in-flight requests first) and
  // joins the threads. Idempotent.
  void Stop();

 private:
  struct Shard {
    std::thread thread;
    std::unique_ptr<Reactor> reactor;
  };

  explicit ShardGroup(const ShardGroupOptions& options);

  Mailbox mailbox_;
  std::vector<std::unique_ptr<Shard>> shards_;
  bool stopped_ = false;
};

}  // namespace sluice::reactor
