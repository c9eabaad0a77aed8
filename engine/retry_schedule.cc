#include "engine/retry_schedule.h"

#include <algorithm>
#include <cmath>

#include "absl/random/distributions.h"

namespace sluice::engine {

absl::Duration RetrySchedule::Interval(uint32_t failures) const {
  const uint32_t steps = failures == 0 ? 0 : failures - 1;
  // Stop multiplying once past the cap; pow() of a large exponent would
  // overflow the duration.
  absl::Duration interval = policy_.initial;
  for (uint32_t i = 0; i < steps && interval < policy_.max_interval; ++i) {
    interval = interval * policy_.multiplier;
  }
  return std::min(interval, policy_.max_interval);
}

std::optional<absl::Time> RetrySchedule::Next(absl::Time created, absl::Time now, uint32_t failures,
                                              absl::BitGenRef random) const {
  const double spread =
      policy_.jitter > 0 ? absl::Uniform(random, 1.0 - policy_.jitter, 1.0 + policy_.jitter) : 1.0;
  const absl::Time next = now + Interval(failures) * spread;
  if (next - created > policy_.max_age) return std::nullopt;
  return next;
}

}  // namespace sluice::engine
