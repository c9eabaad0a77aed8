#include "reactor/mailbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>
#include <utility>

#include "common/thread_shard.h"

namespace sluice::reactor {
namespace {

// Each turn of a shard's loop runs at most this many posted tasks per
// source queue, so a flood of posts cannot starve the shard's sockets.
constexpr int kMaxTasksPerQueuePerPoll = 1024;

}  // namespace

struct Mailbox::ShardState final : public LoopHook, public Completion {
  ShardState(Mailbox* mailbox, int shard, size_t capacity)
      : mailbox(mailbox), shard(shard), foreign(capacity) {
    overflow.resize(static_cast<size_t>(mailbox->shards_));
    wake_pending.resize(static_cast<size_t>(mailbox->shards_), false);
  }
  ~ShardState() override {
    if (event_fd >= 0) close(event_fd);
  }

  void Poll() override { mailbox->Poll(shard); }
  bool PrepareToSleep() override { return mailbox->PrepareToSleep(shard); }
  void Woke() override { sleeping.store(false, std::memory_order_relaxed); }

  void ArmRead() {
    io_uring_prep_read(reactor->PrepareBackgroundSqe(this), event_fd, &event_count,
                       sizeof(event_count), 0);
  }
  // The eventfd read completed: someone woke us. Poll() runs next anyway.
  void OnComplete(int32_t res, uint32_t /*flags*/) override {
    if (res != -ECANCELED) ArmRead();
  }

  Mailbox* const mailbox;
  const int shard;
  Reactor* reactor = nullptr;
  int event_fd = -1;
  uint64_t event_count = 0;
  // True while the shard sleeps (or is about to): the next producer wakes it.
  alignas(64) std::atomic<bool> sleeping{false};
  common::MpmcQueue<Task> foreign;
  // Tasks this shard could not fit into a full pair queue, by destination.
  // Touched only by this shard's thread.
  std::vector<std::deque<Task>> overflow;
  bool has_overflow = false;
  // Destinations posted to since the last FlushWakes. This thread only.
  std::vector<bool> wake_pending;
  std::vector<int> wake_targets;
};

Mailbox::Mailbox(int shards, size_t queue_capacity) : shards_(shards) {
  pairs_.reserve(static_cast<size_t>(shards) * shards);
  for (int i = 0; i < shards * shards; ++i) {
    pairs_.push_back(std::make_unique<SpscQueue<Task>>(queue_capacity));
  }
  for (int i = 0; i < shards; ++i) {
    state_.push_back(std::make_unique<ShardState>(this, i, queue_capacity));
    state_.back()->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
}

Mailbox::~Mailbox() = default;

void Mailbox::Attach(int shard, Reactor& reactor) {
  ShardState& state = *state_[shard];
  state.reactor = &reactor;
  reactor.SetLoopHook(&state);
  state.ArmRead();
}

void Mailbox::Post(int to, Task task) {
  const int from = common::CurrentShard();
  if (from >= 0 && from < shards_) {
    ShardState& sender = *state_[from];
    std::deque<Task>& overflow = sender.overflow[to];
    if (!overflow.empty() || !Pair(from, to).TryPush(task)) {
      overflow.push_back(std::move(task));
      sender.has_overflow = true;
    }
    // The wake-up goes out once per destination per loop turn (FlushWakes),
    // however many tasks this turn posts.
    if (!sender.wake_pending[to]) {
      sender.wake_pending[to] = true;
      sender.wake_targets.push_back(to);
    }
    return;
  }
  common::MpmcQueue<Task>& queue = state_[to]->foreign;
  while (!queue.TryPush(std::move(task))) std::this_thread::yield();
  Wake(to);
}

void Mailbox::FlushWakes(int from) {
  ShardState& sender = *state_[from];
  for (int to : sender.wake_targets) {
    sender.wake_pending[to] = false;
    Wake(to);
  }
  sender.wake_targets.clear();
}

void Mailbox::Wake(int to) {
  // The producer's exchange and the consumer's exchange in PrepareToSleep
  // are read-modify-writes of one atomic, so they are totally ordered:
  // either the consumer's comes later, synchronises with ours and sees the
  // task before deciding to sleep, or ours comes later and sees `true`.
  ShardState& target = *state_[to];
  if (target.sleeping.exchange(false, std::memory_order_acq_rel)) {
    const uint64_t one = 1;
    // A non-blocking eventfd write; it cannot fail short of a counter
    // overflow, which one write per sleep never approaches.
    [[maybe_unused]] ssize_t n = write(target.event_fd, &one, sizeof(one));
  }
}

bool Mailbox::FlushOverflow(int from) {
  ShardState& sender = *state_[from];
  if (!sender.has_overflow) return false;
  bool left = false;
  for (int to = 0; to < shards_; ++to) {
    std::deque<Task>& overflow = sender.overflow[to];
    bool moved = false;
    while (!overflow.empty() && Pair(from, to).TryPush(overflow.front())) {
      overflow.pop_front();
      moved = true;
    }
    if (moved) Wake(to);
    left = left || !overflow.empty();
  }
  sender.has_overflow = left;
  return left;
}

void Mailbox::Poll(int shard) {
  FlushOverflow(shard);
  FlushWakes(shard);
  Task task;
  for (int from = 0; from < shards_; ++from) {
    SpscQueue<Task>& queue = Pair(from, shard);
    for (int n = 0; n < kMaxTasksPerQueuePerPoll && queue.TryPop(task); ++n) {
      task();
      task = nullptr;
    }
  }
  common::MpmcQueue<Task>& foreign = state_[shard]->foreign;
  for (int n = 0; n < kMaxTasksPerQueuePerPoll && foreign.TryPop(&task); ++n) {
    task();
    task = nullptr;
  }
}

bool Mailbox::HasWork(int shard) const {
  for (int from = 0; from < shards_; ++from) {
    if (!Pair(from, shard).Empty()) return true;
  }
  return !state_[shard]->foreign.Empty();
}

bool Mailbox::PrepareToSleep(int shard) {
  ShardState& state = *state_[shard];
  FlushWakes(shard);
  // Our own overflow waits on a full queue elsewhere: do not sleep on it.
  if (state.has_overflow) return false;
  state.sleeping.exchange(true, std::memory_order_acq_rel);
  if (HasWork(shard)) {
    state.sleeping.store(false, std::memory_order_relaxed);
    return false;
  }
  return true;
}

}  // namespace sluice::reactor
