#include "common/gcra.h"

#include <algorithm>

namespace sluice::common {

Gcra::Gcra(int64_t count, absl::Duration period, int64_t burst)
    : interval_(period / std::max<int64_t>(count, 1)),
      tolerance_(interval_ * (std::max<int64_t>(burst, 1) - 1)) {}

absl::Duration Gcra::TryAcquire(absl::Time now) {
  const absl::Time tat = std::max(next_, now);
  const absl::Time allowed_at = tat - tolerance_;
  if (now < allowed_at) return allowed_at - now;
  next_ = tat + interval_;
  return absl::ZeroDuration();
}

}  // namespace sluice::common
