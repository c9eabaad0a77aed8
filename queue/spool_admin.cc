#include "queue/spool_admin.h"

namespace sluice::queue {

bool SpoolFilter::Matches(const Envelope& envelope) const {
  return (site.empty() || envelope.site() == site) &&
         (domain.empty() || envelope.domain() == domain) &&
         (tenant.empty() || envelope.tenant() == tenant) &&
         (campaign.empty() || envelope.campaign() == campaign) &&
         (queue.empty() || envelope.queue() == queue);
}

bool SpoolFilter::Empty() const {
  return site.empty() && domain.empty() && tenant.empty() && campaign.empty() && queue.empty();
}

size_t SpoolAgeBucket(int64_t age_ms) {
  size_t bucket = 0;
  while (bucket < kSpoolAgeBucketsMinutes.size() &&
         age_ms >= kSpoolAgeBucketsMinutes[bucket] * 60'000) {
    ++bucket;
  }
  return bucket;
}

}  // namespace sluice::queue
