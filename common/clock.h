// Clock: the one way sluice code reads time, so tests can substitute
// FakeClock and step time instead of sleeping.
//
// Now() is wall-clock time (for records, headers, expiry); SteadyNow() is
// monotonic (for timers and timeouts) and never jumps when the wall clock is
// set. Implementations must be safe to call from any thread.
#pragma once

#include <chrono>

#include "absl/time/time.h"

namespace sluice::common {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  virtual SteadyTime SteadyNow() const = 0;

  // The process-wide real clock.
  static Clock* Real();
};

}  // namespace sluice::common
