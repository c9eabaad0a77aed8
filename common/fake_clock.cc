#include "common/fake_clock.h"

namespace sluice::common {

FakeClock::FakeClock(absl::Time start) : wall_start_(start) {}

absl::Time FakeClock::Now() const {
  return wall_start_ + absl::Nanoseconds(elapsed_ns_.load(std::memory_order_acquire));
}

SteadyTime FakeClock::SteadyNow() const {
  // A fixed, non-zero epoch so that SteadyTime{} stays "long ago".
  return SteadyTime(std::chrono::hours(1)) +
         std::chrono::nanoseconds(elapsed_ns_.load(std::memory_order_acquire));
}

void FakeClock::Advance(absl::Duration d) {
  elapsed_ns_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_acq_rel);
}

}  // namespace sluice::common
