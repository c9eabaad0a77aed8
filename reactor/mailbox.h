// Mailbox: how work moves between shards (and from other threads to a shard).
//
// Shard `from` posts a task to shard `to` through the bounded lock-free queue
// of that (from, to) pair; threads that are not shards (the spool writer,
// main) share one multi-producer queue per destination. A shard that is
// about to sleep says so, and only then does a producer pay for a wake-up
// (one eventfd write, read back through the shard's own ring), so a busy
// shard drains many posts per wake-up and posts cost no system call.
//
// A shard never blocks when posting: if the pair's queue is full, the task
// waits in the sender's own overflow list and moves over on the sender's
// next loop turn, keeping order. Other threads wait (yield) while full.
// Tasks run, and are destroyed, on the destination shard.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "common/mpmc_queue.h"
#include "reactor/completion.h"
#include "reactor/reactor.h"
#include "reactor/spsc_queue.h"

namespace sluice::reactor {

class Mailbox {
 public:
  using Task = absl::AnyInvocable<void()>;

  Mailbox(int shards, size_t queue_capacity);
  ~Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // On shard `shard`'s thread, before its reactor runs: arms the wake-up
  // read and installs the loop hook that drains this shard's queues.
  void Attach(int shard, Reactor& reactor);

  // From any thread. On a shard thread this never blocks.
  void Post(int to, Task task);

  int shards() const { return shards_; }

 private:
  struct ShardState;

  void Poll(int shard);
  bool PrepareToSleep(int shard);
  void Wake(int to);
  void FlushWakes(int from);
  bool FlushOverflow(int from);
  bool HasWork(int shard) const;

  SpscQueue<Task>& Pair(int from, int to) {
    return *pairs_[static_cast<size_t>(to) * shards_ + from];
  }
  const SpscQueue<Task>& Pair(int from, int to) const {
    return *pairs_[static_cast<size_t>(to) * shards_ + from];
  }

  const int shards_;
  std::vector<std::unique_ptr<SpscQueue<Task>>> pairs_;  // [to * shards + from]
  std::vector<std::unique_ptr<ShardState>> state_;
};

}  // namespace sluice::reactor
