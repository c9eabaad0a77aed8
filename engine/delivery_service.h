// DeliveryService: DeliveryControl over every shard's DeliveryEngine. Owned
// by sluiced next to the engines; its calls come from shard threads (the
// HTTP admin API) and fan out to the engines through the shard group.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/delivery_control.h"
#include "engine/delivery_engine.h"
#include "engine/scheduler.h"
#include "queue/rocksdb_spool.h"
#include "reactor/shard_group.h"
#include "reactor/sharded.h"

namespace sluice::engine {

class DeliveryService final : public DeliveryControl {
 public:
  DeliveryService(reactor::ShardGroup& group, reactor::Sharded<DeliveryEngine>& engines,
                  queue::RocksDbSpool* spool)
      : group_(group), engines_(engines), spool_(spool) {}

  void SetSuspended(SuspendScope scope, std::string name, bool suspended) override;
  void Queues(absl::AnyInvocable<void(std::vector<QueueSnapshot>)> done) override;
  void Bounce(queue::SpoolFilter filter, std::string reason,
              absl::AnyInvocable<void(absl::StatusOr<uint64_t>)> done) override;
  void Failures(absl::AnyInvocable<void(std::vector<FailureGroup>)> done) override;

 private:
  struct BounceJob;
  // Every engine's `read(engine)`, concatenated on the calling shard.
  template <typename T, typename Read>
  void Gather(Read read, absl::AnyInvocable<void(std::vector<T>)> done);
  // One page of the envelopes to bounce, then the next.
  void BouncePage(std::shared_ptr<BounceJob> job);

  reactor::ShardGroup& group_;
  reactor::Sharded<DeliveryEngine>& engines_;
  queue::RocksDbSpool* const spool_;
};

}  // namespace sluice::engine
