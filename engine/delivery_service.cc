#include "engine/delivery_service.h"

#include <memory>
#include <utility>

#include "common/thread_shard.h"
#include "queue/spool_keys.h"

namespace sluice::engine {
namespace {

constexpr size_t kBouncePage = 500;

common::MessageId IdOf(const queue::Envelope& envelope) {
  return queue::ParseIdKey(envelope.id()).value_or(common::MessageId());
}

}  // namespace

void DeliveryService::SetSuspended(SuspendScope scope, std::string name, bool suspended) {
  engines_.InvokeOnAll([scope, name, suspended](DeliveryEngine& engine) {
    engine.SetSuspended(scope, name, suspended);
  });
}

void DeliveryService::Queues(absl::AnyInvocable<void(std::vector<QueueSnapshot>)> done) {
  // Gathered on the calling shard: each engine's snapshot comes back here.
  struct Gather {
    std::vector<QueueSnapshot> queues;
    int waiting = 0;
    absl::AnyInvocable<void(std::vector<QueueSnapshot>)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->waiting = group_.size();
  gather->done = std::move(done);
  const int origin = common::CurrentShard();
  for (int shard = 0; shard < group_.size(); ++shard) {
    engines_.InvokeOn(shard, [this, origin, gather](DeliveryEngine& engine) {
      group_.Post(origin, [gather, snapshot = engine.Snapshot()]() mutable {
        for (QueueSnapshot& queue : snapshot) gather->queues.push_back(std::move(queue));
        if (--gather->waiting == 0) gather->done(std::move(gather->queues));
      });
    });
  }
}

struct DeliveryService::BounceJob {
  queue::SpoolFilter filter;
  smtp::ServerReply reason;
  common::MessageId after;
  uint64_t bounced = 0;
  absl::AnyInvocable<void(absl::StatusOr<uint64_t>)> done;
};

void DeliveryService::Bounce(queue::SpoolFilter filter, std::string reason,
                             absl::AnyInvocable<void(absl::StatusOr<uint64_t>)> done) {
  auto job = std::make_shared<BounceJob>();
  job->filter = std::move(filter);
  job->reason = smtp::ServerReply::Local(
      550, "5.0.0", reason.empty() ? "bounced by the operator" : std::move(reason));
  job->done = std::move(done);
  BouncePage(std::move(job));
}

void DeliveryService::BouncePage(std::shared_ptr<BounceJob> job) {
  spool_->List(job->filter, job->after, kBouncePage,
               [this, job](absl::StatusOr<std::vector<queue::Envelope>> page) mutable {
                 if (!page.ok()) {
                   job->done(page.status());
                   return;
                 }
                 if (page->empty()) {
                   job->done(job->bounced);
                   return;
                 }
                 // Each envelope is bounced by the engine of its domain's
                 // shard (engine/delivery_engine.h says why); the answers
                 // come back here, and the next page is asked for once they
                 // are all in.
                 auto left = std::make_shared<size_t>(page->size());
                 job->after = IdOf(page->back());
                 const int origin = common::CurrentShard();
                 for (const queue::Envelope& envelope : *page) {
                   const int home = Scheduler::ShardForDomain(envelope.domain(), group_.size());
                   engines_.InvokeOn(home, [this, origin, job, left,
                                            id = IdOf(envelope)](DeliveryEngine& engine) {
                     engine.BounceNow(id, job->reason, [this, origin, job, left](bool bounced) {
                       group_.Post(origin, [this, job, left, bounced] {
                         job->bounced += bounced;
                         if (--*left == 0) BouncePage(job);
                       });
                     });
                   });
                 }
               });
}

}  // namespace sluice::engine
