// DeliveryControl: what operators can ask of the delivery side (the admin
// API uses it): suspend and resume, the live queues, bounce by filter.
// Every method is called on a shard thread and answers on that shard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "engine/delivery_engine.h"
#include "queue/rocksdb_spool.h"

namespace sluice::engine {

class DeliveryControl {
 public:
  virtual ~DeliveryControl() = default;

  // Stops (or restarts) delivery for a site key, a domain, a tenant or a
  // campaign on every shard. Suspended mail stays queued.
  virtual void SetSuspended(SuspendScope scope, std::string name, bool suspended) = 0;
  // The live queues of every shard.
  virtual void Queues(absl::AnyInvocable<void(std::vector<QueueSnapshot>)> done) = 0;
  // Bounces every unfinished recipient of the spooled envelopes matching
  // `filter` (which must not be empty), with DSNs and events as for a
  // bounce by the remote server; answers with how many envelopes.
  virtual void Bounce(queue::SpoolFilter filter, std::string reason,
                      absl::AnyInvocable<void(absl::StatusOr<uint64_t>)> done) = 0;
};

}  // namespace sluice::engine
