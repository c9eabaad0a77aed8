#include "engine/rate_meter.h"

namespace sluice::engine {

void RateMeter::Advance(absl::Time now) {
  if (window_start_ == absl::InfinitePast()) {
    window_start_ = now;
    return;
  }
  if (now < window_start_ + kWindow) return;
  if (now < window_start_ + 2 * kWindow) {
    previous_ = current_;
    window_start_ += kWindow;
  } else {
    previous_ = 0;  // a whole window went by without events
    window_start_ = now;
  }
  current_ = 0;
}

void RateMeter::Add(absl::Time now, uint64_t n) {
  Advance(now);
  current_ += n;
}

double RateMeter::PerMinute(absl::Time now) const {
  if (window_start_ == absl::InfinitePast() || now >= window_start_ + 2 * kWindow) return 0;
  if (now >= window_start_ + kWindow) {
    // `current_` is now the previous window; nothing counted since.
    const double left = 1.0 - absl::FDivDuration(now - window_start_ - kWindow, kWindow);
    return static_cast<double>(current_) * left;
  }
  const double left = 1.0 - absl::FDivDuration(now - window_start_, kWindow);
  return static_cast<double>(current_) + static_cast<double>(previous_) * left;
}

}  // namespace sluice::engine
