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

template <typename T, typename Read>
void DeliveryService::Gather(Read read, absl::AnyInvocable<void(std::vector<T>)> done) {
  // Gathered on the calling shard: each engine's answer comes back here.
  struct Gathered {
    std::vector<T> rows;
    int waiting = 0;
    absl::AnyInvocable<void(std::vector<T>)> done;
  };
  auto gathered = std::make_shared<Gathered>();
  gathered->waiting = group_.size();
  gathered->done = std::move(done);
  const int origin = common::CurrentShard();
  for (int shard = 0; shard < group_.size(); ++shard) {
    engines_.InvokeOn(shard, [this, origin, gathered, read](DeliveryEngine& engine) {
      group_.Post(origin, [gathered, rows = read(engine)]() mutable {
        for (T& row : rows) gathered->rows.push_back(std::move(row));
        if (--gathered->waiting == 0) gathered->done(std::move(gathered->rows));
      });
    });
  }
}

void DeliveryService::Queues(absl::AnyInvocable<void(std::vector<QueueSnapshot>)> done) {
  Gather<QueueSnapshot>([](const DeliveryEngine& engine) { return engine.Snapshot(); },
                        std::move(done));
}

void DeliveryService::Failures(absl::AnyInvocable<void(std::vector<FailureGroup>)> done) {
  Gather<FailureGroup>([](const DeliveryEngine& engine) { return engine.Failures(); },
                       std::move(done));
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
