// RetrySchedule: when a temporarily failed delivery is tried again, and
// when the message gives up (expires).
//
// Exponential back-off from `initial`, multiplied by `multiplier` per
// attempt and capped at `max_interval`, with +/- `jitter` (a fraction) so
// that a burst of deferrals does not come back as a burst; a message older
// than `max_age` at its next attempt expires instead (it is bounced with a
// DSN). Defaults: 5 minutes, doubling, capped at 4 hours, expiring after 5
// days. Pure; the caller passes the time and the random source.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/random/bit_gen_ref.h"
#include "absl/time/time.h"

namespace sluice::engine {

struct RetryPolicy {
  absl::Duration initial = absl::Minutes(5);
  double multiplier = 2.0;
  absl::Duration max_interval = absl::Hours(4);
  absl::Duration max_age = absl::Hours(24 * 5);
  double jitter = 0.2;  // 0.2: each interval is 80% to 120% of its nominal length
};

class RetrySchedule {
 public:
  explicit RetrySchedule(const RetryPolicy& policy) : policy_(policy) {}

  // The nominal wait after the `failures`-th failed attempt (1 = the first).
  absl::Duration Interval(uint32_t failures) const;

  // When to try again after `failures` failed attempts of a message created
  // at `created`, the last of them ending at `now`; nullopt when the
  // message has expired.
  std::optional<absl::Time> Next(absl::Time created, absl::Time now, uint32_t failures,
                                 absl::BitGenRef random) const;

 private:
  RetryPolicy policy_;
};

}  // namespace sluice::engine
