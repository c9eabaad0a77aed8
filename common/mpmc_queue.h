// MpmcQueue: a bounded, lock-free, multi-producer multi-consumer FIFO queue
// (Dmitry Vyukov's design: one sequence number per slot, two position
// counters, no locks and no allocation after construction).
//
// Any thread may push or pop. Neither call blocks or waits: TryPush returns
// false when the queue is full and TryPop returns false when no item is ready,
// and the caller decides what to do (drop, retry, sleep). Items are moved in
// and out, so move-only types work. Items still queued when the queue is
// destroyed are destroyed with it; destroying it while other threads still
// use it is the caller's bug.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

namespace sluice::common {

template <typename T>
class MpmcQueue {
 public:
  // The capacity is rounded up to a power of two (at least 2) so a position
  // maps to its slot with a mask instead of a division.
  explicit MpmcQueue(size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? size_t{2} : capacity) - 1), slots_(new Slot[mask_ + 1]) {
    for (size_t i = 0; i <= mask_; ++i) slots_[i].sequence.store(i, std::memory_order_relaxed);
  }

  // No other thread may be using the queue any more, so every claimed slot
  // between the two positions holds a published item.
  ~MpmcQueue() {
    const size_t end = enqueue_pos_.load(std::memory_order_relaxed);
    for (size_t pos = dequeue_pos_.load(std::memory_order_relaxed); pos != end; ++pos) {
      std::launder(reinterpret_cast<T*>(slots_[pos & mask_].storage))->~T();
    }
  }

  MpmcQueue(const MpmcQueue&) = delete;
  MpmcQueue& operator=(const MpmcQueue&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // Moves `value` in and returns true, or returns false (leaving `value`
  // untouched) if the queue is full.
  bool TryPush(T&& value) {
    Slot* slot;
    size_t pos = enqueue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      slot = &slots_[pos & mask_];
      const size_t seq = slot->sequence.load(std::memory_order_acquire);
      const intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
      if (diff == 0) {
        // The slot is free for lap `pos`; claim it.
        if (enqueue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        // The slot still holds the item from the previous lap: full.
        return false;
      } else {
        // Another producer claimed this position first.
        pos = enqueue_pos_.load(std::memory_order_relaxed);
      }
    }
    new (slot->storage) T(std::move(value));
    // Publishes the item: a consumer waiting for pos + 1 may now take it.
    slot->sequence.store(pos + 1, std::memory_order_release);
    return true;
  }

  // Moves the oldest ready item into *out and returns true, or returns false
  // if no item is ready.
  bool TryPop(T* out) {
    Slot* slot;
    size_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      slot = &slots_[pos & mask_];
      const size_t seq = slot->sequence.load(std::memory_order_acquire);
      const intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos + 1);
      if (diff == 0) {
        if (dequeue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        // Empty, or the producer of this slot has not published yet.
        return false;
      } else {
        pos = dequeue_pos_.load(std::memory_order_relaxed);
      }
    }
    T* item = std::launder(reinterpret_cast<T*>(slot->storage));
    *out = std::move(*item);
    item->~T();
    // Frees the slot for the producer of the next lap.
    slot->sequence.store(pos + mask_ + 1, std::memory_order_release);
    return true;
  }

  // True if no item is ready to pop at this instant. Only a snapshot: it can
  // be stale as soon as it returns while other threads push or pop.
  bool Empty() const {
    const size_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    return slots_[pos & mask_].sequence.load(std::memory_order_acquire) != pos + 1;
  }

 private:
  struct Slot {
    std::atomic<size_t> sequence;
    alignas(T) unsigned char storage[sizeof(T)];
  };

  // Producers and consumers each hammer their own counter; keeping the two on
  // separate cache lines stops them from invalidating each other.
  static constexpr size_t kCacheLine = 64;

  const size_t mask_;
  const std::unique_ptr<Slot[]> slots_;
  alignas(kCacheLine) std::atomic<size_t> enqueue_pos_{0};
  alignas(kCacheLine) std::atomic<size_t> dequeue_pos_{0};
};

}  // namespace sluice::common
