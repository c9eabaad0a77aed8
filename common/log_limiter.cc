#include "common/log_limiter.h"

#include <algorithm>

#include "common/logging.h"

namespace sluice::common {

LogLimiter::LogLimiter(double per_second, double burst)
    : per_second_(per_second), burst_(burst), tokens_(burst) {}

bool LogLimiter::Allow(absl::Time now, absl::string_view what) {
  if (last_ != absl::InfinitePast() && now > last_) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * per_second_);
  }
  if (now > last_) last_ = now;
  if (tokens_ < 1) {
    ++suppressed_;
    return false;
  }
  tokens_ -= 1;
  if (suppressed_ > 0) {
    SLUICE_LOG(kWarning, "log lines suppressed").Field("what", what).Field("lines", suppressed_);
    suppressed_ = 0;
  }
  return true;
}

}  // namespace sluice::common
