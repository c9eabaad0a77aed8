// LogLimiter: bounds how many log lines of one kind a component writes, so
// an attacker (a client hammering AUTH, a flood of malformed commands) or a
// failing destination (thousands of deferrals a second) cannot flood the
// log. A token bucket: `per_second` lines on average, `burst` at once.
//
// When a line is let through after others were held back, Allow() first
// writes one line saying how many were suppressed, so the log never hides
// that it is incomplete; the metrics count every event regardless.
//
// Not thread-safe: one limiter belongs to one shard's component.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sluice::common {

class LogLimiter {
 public:
  explicit LogLimiter(double per_second = 20, double burst = 100);

  // True when a line about `what` (a short name, "smtp refusals") may be
  // written at `now`.
  bool Allow(absl::Time now, absl::string_view what);

  // Lines refused since the last one let through.
  uint64_t suppressed() const { return suppressed_; }

 private:
  const double per_second_;
  const double burst_;
  double tokens_;
  absl::Time last_ = absl::InfinitePast();
  uint64_t suppressed_ = 0;
};

}  // namespace sluice::common
