// Gcra: the generic cell rate algorithm, a rate limit with a burst, as one
// timestamp (the theoretical arrival time of the next message).
//
// "N messages per period, up to B at once": each message advances the
// timestamp by period / N; a message is allowed while the timestamp is no
// more than (B - 1) emission intervals ahead of now. Used for per-site and
// per-source message rates (per second, minute or hour). Single-threaded;
// the caller passes the time, so tests use a fake clock.
#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace sluice::common {

class Gcra {
 public:
  // `count` messages per `period`, at most `burst` (>= 1) back to back.
  Gcra(int64_t count, absl::Duration period, int64_t burst = 1);

  // Takes one message if allowed now and returns zero; otherwise takes
  // nothing and returns how long until one would be allowed.
  absl::Duration TryAcquire(absl::Time now);

  absl::Duration emission_interval() const { return interval_; }

 private:
  absl::Duration interval_;
  absl::Duration tolerance_;  // (burst - 1) intervals
  absl::Time next_ = absl::InfinitePast();
};

}  // namespace sluice::common
