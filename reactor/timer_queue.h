// TimerQueue: a shard's timers, ordered by deadline.
//
// An indexed binary heap: Add and Cancel are O(log n) and a cancelled timer
// leaves nothing behind, so a connection that re-arms its idle timeout on
// every command does not grow the heap. Handles carry a generation, so
// cancelling a timer that already fired (or was cancelled) is a harmless
// no-op rather than a hit on whichever timer reuses the slot.
//
// Owned by one Reactor and used only on its thread; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "common/clock.h"

namespace sluice::reactor {

struct TimerId {
  uint32_t index = 0;
  uint32_t generation = 0;  // 0 never names a live timer

  bool valid() const { return generation != 0; }
};

class TimerQueue {
 public:
  using Callback = absl::AnyInvocable<void()>;

  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  TimerId Add(common::SteadyTime deadline, Callback callback);

  // Returns true if the timer was pending and is now cancelled.
  bool Cancel(TimerId id);

  std::optional<common::SteadyTime> NextDeadline() const;

  // Runs every timer due at or before `now`, earliest first. Timers added by
  // a callback wait for the next call, so a callback that re-arms itself
  // with a zero delay cannot starve the loop. Returns how many ran.
  size_t RunExpired(common::SteadyTime now);

  size_t size() const { return heap_.size(); }

 private:
  struct Slot {
    common::SteadyTime deadline;
    uint64_t sequence = 0;  // tie-break: equal deadlines fire in Add order
    Callback callback;
    uint32_t generation = 1;
    uint32_t heap_pos = 0;
  };

  bool Less(uint32_t a, uint32_t b) const;
  void Place(size_t pos, uint32_t slot);
  void SiftUp(size_t pos);
  void SiftDown(size_t pos);
  void RemoveAt(size_t pos);
  void Release(uint32_t slot);

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> heap_;  // slot indices
  uint64_t next_sequence_ = 0;
};

}  // namespace sluice::reactor
