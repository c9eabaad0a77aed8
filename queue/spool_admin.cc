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

}  // namespace sluice::queue
