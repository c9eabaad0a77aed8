// DeliveryControl: what operators can ask of the delivery side (the admin
// API uses it): suspend and resume, the live queues, bounce by filter,
// recent failures.
// Every method is called on a shard thread and answers on that shard.
// A narrow interface: it drags in neither the engine nor the spool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "queue/spool_admin.h"

namespace sluice::engine {

enum class SuspendScope { kSite, kDomain, kTenant, kCampaign };

// One queue's state, for the admin API and tests.
struct QueueSnapshot {
  std::string key;   // "<site>|<pool>|<rule>"
  std::string site;  // the site key
  std::string pool;
  size_t ready = 0;
  size_t in_flight = 0;  // messages on a connection now
  int connections = 0;
  int window = 0;
  bool suspended = false;
  std::string last_error;
  // Recipients delivered in the last minute (engine/rate_meter.h).
  double delivered_per_minute = 0;
};

// Recent failures of one site that look alike (engine/failure_digest.h
// says which do): how many, when, and the latest reply.
struct FailureGroup {
  std::string site;
  std::string type;      // "deferred", "bounced" or "expired"
  std::string category;  // mail/bounce_classifier.h: "throttled", "bad-mailbox", ...
  std::string status;    // the enhanced status code, "4.7.28", or ""
  std::string reply;     // the latest reply of the group, as the server sent it
  uint64_t count = 0;
  absl::Time first;
  absl::Time last;
};

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
  // The recent failures of every shard, grouped (in no particular order).
  virtual void Failures(absl::AnyInvocable<void(std::vector<FailureGroup>)> done) = 0;
};

}  // namespace sluice::engine
