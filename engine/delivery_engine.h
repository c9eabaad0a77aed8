// DeliveryEngine: outbound delivery on one shard (DESIGN.md, "The life of
// a message"). One instance per shard; together they move every envelope
// the spool hands out from due to delivered, deferred or bounced. A thin
// facade over three parts:
//
//   Scheduler (engine/scheduler.h)  schedules and routes the domains this
//       shard owns, and holds what a suspension covers;
//   SitePool (engine/site_pool.h)   one per outbound queue this shard owns:
//       its connections, and who gets the next message;
//   AttemptRecorder (engine/attempt_recorder.h)  results into spool writes,
//       DSNs, events, metrics and log lines.
//
// Every message routed to this shard and not yet finished is claimed here
// by id: a second hand-out of the same id (the loader's, after a restart of
// its window) is dropped, and an operator's bounce finds the message where
// it is. BounceNow runs on the message's home (the shard of its domain):
// it stops the message being routed, asks every shard whether it holds the
// message, and the one that does bounces it at a safe point (taken out of
// its ready queue, or once the attempt on a connection is recorded, on the
// envelope as that attempt left it). If none does, the home bounces the
// message as it rests in the spool. So a recipient is never both delivered
// and bounced.
//
// Stop() closes idle connections, lets busy ones finish the message in
// progress (at most `stop_grace`), waits for its spool calls to come back,
// then calls `done`. Nothing is lost on stop or crash: a message whose
// result was not yet written is still due in the spool and goes again.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "common/log_limiter.h"
#include "common/message_id.h"
#include "dns/resolver.h"
#include "engine/attempt_recorder.h"
#include "engine/delivery_control.h"
#include "engine/delivery_shared.h"
#include "engine/inbound_reports.h"
#include "engine/pending_ops.h"
#include "engine/routed.h"
#include "engine/scheduler.h"
#include "engine/site_pool.h"
#include "queue/spool.h"
#include "reactor/reactor.h"
#include "reactor/sharded.h"

namespace sluice::engine {

class DeliveryEngine final : private SitePool::Delegate {
 public:
  static absl::StatusOr<std::unique_ptr<DeliveryEngine>> Create(reactor::Reactor& reactor,
                                                                int shard,
                                                                const DeliveryShared* shared);
  ~DeliveryEngine() override;
  DeliveryEngine(const DeliveryEngine&) = delete;
  DeliveryEngine& operator=(const DeliveryEngine&) = delete;

  // The spool's due_sink for one engine per shard: each batch is split by
  // Scheduler::ShardForDomain and each part handed to that shard's engine.
  // Any thread.
  static absl::AnyInvocable<void(std::vector<queue::ScheduledMessage>)> DueSink(
      reactor::Sharded<DeliveryEngine>& engines, int shards);

  // From the spool's loader, on Scheduler::ShardForDomain of each message.
  void AddScheduled(std::vector<queue::ScheduledMessage> messages);
  // From a scheduler (this shard's or another's), on the site's owner.
  void AddReady(Routed routed);

  // Stops dispatching for a site, domain, tenant or campaign (on every
  // shard: the caller broadcasts), or starts it again. A site's queue simply
  // stops opening connections; mail of a suspended domain, tenant or campaign
  // is held aside on its domain's shard (also when it was already waiting in
  // a site queue: it is checked again once its envelope is read) and routed
  // again on resume. Suspensions last until resumed or until the process stops.
  void SetSuspended(SuspendScope scope, const std::string& name, bool suspended);
  std::vector<QueueSnapshot> Snapshot() const;
  // This shard's recent failures, grouped (engine/failure_digest.h).
  std::vector<FailureGroup> Failures() const;
  // Bounces the unfinished recipients of `id` with `reason` (DSNs and events
  // as usual); done(false) if it is gone, has nothing unfinished or cannot
  // be read. Call on the shard of the message's domain.
  void BounceNow(const common::MessageId& id, const smtp::ServerReply& reason,
                 absl::AnyInvocable<void(bool)> done);

  void Stop(absl::AnyInvocable<void()> done);

 private:
  struct PendingBounce {
    smtp::ServerReply reason;
    absl::AnyInvocable<void(bool)> done;
  };
  // A message this shard works on.
  struct Claim {
    SitePool* pool = nullptr;  // null: being failed or bounced without one
    std::optional<PendingBounce> bounce;
  };
  struct BounceRound;

  DeliveryEngine(reactor::Reactor& reactor, int shard, const DeliveryShared* shared);

  // SitePool::Delegate.
  void OnAttempt(SitePool& pool, DeliveryJob job, smtp::DeliveryResult result,
                 AttemptInfo info) override;
  void OnUnsent(SitePool& pool, const common::MessageId& id,
                const smtp::ServerReply& reply) override;
  void OnReleased(const common::MessageId& id) override;
  bool MaySend(const common::MessageId& id) override;
  bool HoldIfSuspended(const common::MessageId& id, const queue::Envelope& envelope) override;
  void OnConnectionGone(SitePool& pool) override;

  void SendToOwner(int owner, Routed routed);
  // Reads `id` and fails its unfinished recipients with `reply` (temporary
  // or permanent by its code) without a connection; claims it meanwhile.
  // `from_pool`: a pool gave it up (it is claimed already); else routing
  // failed.
  void FailUnsent(const common::MessageId& id, const smtp::ServerReply& reply,
                  const std::string& site, bool from_pool);
  // On every shard, for a bounce that `home` runs: takes it on if the
  // message is here (true), reporting to `done` on this shard.
  bool TakeBounce(const common::MessageId& id, const smtp::ServerReply& reason,
                  absl::AnyInvocable<void(bool)> done);
  void Answer(const std::shared_ptr<BounceRound>& round);
  // Bounces `id` as the spool has it.
  void BounceAtRest(const common::MessageId& id, const smtp::ServerReply& reason,
                    absl::AnyInvocable<void(bool)> done);
  AttemptInfo InfoNow(const std::string& site) const;
  void MaybeFinishStop();

  reactor::Reactor& reactor_;
  const int shard_;
  const DeliveryShared* const shared_;
  PendingOps ops_;
  common::LogLimiter log_limit_{/*per_second=*/50, /*burst=*/200};
  AttemptRecorder recorder_;
  InboundReports inbound_;
  Scheduler scheduler_;
  // After the scheduler, so its lookups end (and see the stop) first.
  std::unique_ptr<dns::Resolver> resolver_;

  absl::flat_hash_map<std::string, std::unique_ptr<SitePool>> pools_;
  absl::flat_hash_set<std::string> suspended_sites_;
  absl::flat_hash_map<common::MessageId, Claim> claims_;
  // Ids whose bounce this shard (their home) runs now.
  absl::flat_hash_set<common::MessageId> bouncing_;

  bool stopping_ = false;
  absl::AnyInvocable<void()> stop_done_;
  std::optional<reactor::TimerId> stop_timer_;
};

}  // namespace sluice::engine
