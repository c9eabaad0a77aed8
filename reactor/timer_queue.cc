#include "reactor/timer_queue.h"

#include <utility>

namespace sluice::reactor {

TimerId TimerQueue::Add(common::SteadyTime deadline, Callback callback) {
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[index];
  slot.deadline = deadline;
  slot.sequence = next_sequence_++;
  slot.callback = std::move(callback);
  heap_.push_back(index);
  slot.heap_pos = static_cast<uint32_t>(heap_.size() - 1);
  SiftUp(heap_.size() - 1);
  return TimerId{index, slot.generation};
}

bool TimerQueue::Cancel(TimerId id) {
  if (!id.valid() || id.index >= slots_.size()) return false;
  Slot& slot = slots_[id.index];
  if (slot.generation != id.generation || !slot.callback) return false;
  RemoveAt(slot.heap_pos);
  Release(id.index);
  return true;
}

std::optional<common::SteadyTime> TimerQueue::NextDeadline() const {
  if (heap_.empty()) return std::nullopt;
  return slots_[heap_.front()].deadline;
}

size_t TimerQueue::RunExpired(common::SteadyTime now) {
  const uint64_t added_before = next_sequence_;
  size_t ran = 0;
  while (!heap_.empty()) {
    const uint32_t index = heap_.front();
    Slot& slot = slots_[index];
    if (slot.deadline > now || slot.sequence >= added_before) break;
    Callback callback = std::move(slot.callback);
    RemoveAt(0);
    Release(index);
    callback();
    ++ran;
  }
  return ran;
}

bool TimerQueue::Less(uint32_t a, uint32_t b) const {
  const Slot& x = slots_[a];
  const Slot& y = slots_[b];
  if (x.deadline != y.deadline) return x.deadline < y.deadline;
  return x.sequence < y.sequence;
}

void TimerQueue::Place(size_t pos, uint32_t slot) {
  heap_[pos] = slot;
  slots_[slot].heap_pos = static_cast<uint32_t>(pos);
}

void TimerQueue::SiftUp(size_t pos) {
  const uint32_t moving = heap_[pos];
  while (pos > 0) {
    const size_t parent = (pos - 1) / 2;
    if (!Less(moving, heap_[parent])) break;
    Place(pos, heap_[parent]);
    pos = parent;
  }
  Place(pos, moving);
}

void TimerQueue::SiftDown(size_t pos) {
  const uint32_t moving = heap_[pos];
  const size_t n = heap_.size();
  while (true) {
    size_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && Less(heap_[child + 1], heap_[child])) ++child;
    if (!Less(heap_[child], moving)) break;
    Place(pos, heap_[child]);
    pos = child;
  }
  Place(pos, moving);
}

void TimerQueue::RemoveAt(size_t pos) {
  const uint32_t last = heap_.back();
  heap_.pop_back();
  if (pos == heap_.size()) return;
  Place(pos, last);
  // The moved element may belong above or below its new position.
  if (pos > 0 && Less(last, heap_[(pos - 1) / 2])) {
    SiftUp(pos);
  } else {
    SiftDown(pos);
  }
}

void TimerQueue::Release(uint32_t index) {
  Slot& slot = slots_[index];
  slot.callback = nullptr;
  // Skip 0 on wrap-around: it marks an invalid handle.
  if (++slot.generation == 0) slot.generation = 1;
  free_.push_back(index);
}

}  // namespace sluice::reactor
