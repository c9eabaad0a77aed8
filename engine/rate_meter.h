// RateMeter: how many events happened in the last minute, cheaply.
//
// Two fixed one-minute windows: the current one and the one before. The
// estimate for the minute ending now is the current window's count plus the
// previous window's count weighted by how much of it still lies within the
// last minute (the sliding-window approximation; exact when events are
// spread evenly). Constant memory and time; no clock of its own: the caller
// passes the time, monotonically.
#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace sluice::engine {

class RateMeter {
 public:
  static constexpr absl::Duration kWindow = absl::Minutes(1);

  // Counts `n` events at `now`.
  void Add(absl::Time now, uint64_t n = 1);
  // Events in the minute ending at `now` (estimated, see above).
  double PerMinute(absl::Time now) const;

 private:
  // Moves the windows forward to the one holding `now`.
  void Advance(absl::Time now);

  absl::Time window_start_ = absl::InfinitePast();
  uint64_t current_ = 0;
  uint64_t previous_ = 0;
};

}  // namespace sluice::engine
