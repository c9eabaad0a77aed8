// suppression_reply: how ingest tells a client that a recipient is on the
// suppression list (queue/suppression.h), the same words for the HTTP
// "rejected" entry and the SMTP 550 5.7.1. Pure functions; any thread.
#pragma once

#include <string>

#include "queue/suppression.h"

namespace sluice::api {

// "suppressed: complaint on 2026-12-04 (feedback report from ...)", with the
// scope named when it is the global one ("suppressed for every tenant: ...").
std::string DescribeSuppression(const queue::SuppressionEntry& entry);

}  // namespace sluice::api
