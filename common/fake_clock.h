// FakeClock: a Clock that moves only when a test tells it to. Wall and steady
// time advance together. Thread-safe, so a test thread may advance it while a
// shard reads it.
#pragma once

#include <atomic>

#include "common/clock.h"

namespace sluice::common {

class FakeClock final : public Clock {
 public:
  // Starts at `start` (wall) and at an arbitrary steady epoch.
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000));

  absl::Time Now() const override;
  SteadyTime SteadyNow() const override;

  void Advance(absl::Duration d);

 private:
  const absl::Time wall_start_;
  std::atomic<int64_t> elapsed_ns_{0};
};

}  // namespace sluice::common
