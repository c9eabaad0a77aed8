// Routed: a message on its way from its domain's shard (the scheduler) to
// the shard that owns its site (the site pool). Plain data.
#pragma once

#include <string>

#include "dns/site.h"
#include "engine/delivery_policy.h"
#include "engine/site_queue.h"

namespace sluice::engine {

struct Routed {
  std::string queue_key;  // "<site>|<pool>|<rule>"
  std::string site_key;
  int rule = -1;
  const EgressPoolSpec* pool = nullptr;
  dns::Destination destination;
  ReadyMessage message;
};

}  // namespace sluice::engine
