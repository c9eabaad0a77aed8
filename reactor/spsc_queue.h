// SpscQueue: a bounded single-producer, single-consumer queue.
//
// The cross-shard mailbox has one per (from, to) shard pair, so each queue
// has exactly one writer thread and one reader thread and needs no locks and
// no read-modify-write atomics: the producer owns tail_, the consumer owns
// head_, and each keeps a cached copy of the other's index so that a busy
// queue touches the shared line only when the cached view runs out.
#pragma once

#include <atomic>
#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace sluice::reactor {

template <typename T>
class SpscQueue {
 public:
  // `capacity` is rounded up to a power of two.
  explicit SpscQueue(size_t capacity) : mask_(RoundUp(capacity) - 1), slots_(mask_ + 1) {}

  SpscQueue(const SpscQueue&) = delete;
  SpscQueue& operator=(const SpscQueue&) = delete;

  // Producer thread only. Leaves `item` untouched and returns false if full.
  bool TryPush(T& item) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ > mask_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ > mask_) return false;
    }
    slots_[tail & mask_] = std::move(item);
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer thread only.
  bool TryPop(T& out) {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    out = std::move(slots_[head & mask_]);
    slots_[head & mask_] = T();  // destroy the moved-from item on this thread now
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Either thread; a snapshot that may be stale by the time it returns.
  bool Empty() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }

  size_t capacity() const { return mask_ + 1; }

 private:
  static size_t RoundUp(size_t n) {
    size_t p = 2;
    while (p < n) p <<= 1;
    return p;
  }

  static constexpr size_t kLine = 64;

  const size_t mask_;
  std::vector<T> slots_;
  alignas(kLine) std::atomic<size_t> head_{0};
  size_t tail_cache_ = 0;  // consumer's view of tail_
  alignas(kLine) std::atomic<size_t> tail_{0};
  size_t head_cache_ = 0;  // producer's view of head_
};

}  // namespace sluice::reactor
