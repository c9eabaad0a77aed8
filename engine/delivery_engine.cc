#include "engine/delivery_engine.h"

#include <utility>

#include "common/status_macros.h"
#include "queue/spool_keys.h"

namespace sluice::engine {

// One operator bounce on the message's home shard: every shard answers
// whether it holds the message; the one that does reports the result.
struct DeliveryEngine::BounceRound {
  common::MessageId id;
  smtp::ServerReply reason;
  absl::AnyInvocable<void(bool)> done;
  int waiting = 0;  // shards yet to answer
  bool claimed = false;
  std::optional<bool> result;  // from the shard that claimed it
};

absl::StatusOr<std::unique_ptr<DeliveryEngine>> DeliveryEngine::Create(
    reactor::Reactor& reactor, int shard, const DeliveryShared* shared) {
  if (!shared->connect) return absl::InvalidArgumentError("delivery needs a connect function");
  std::unique_ptr<DeliveryEngine> engine(new DeliveryEngine(reactor, shard, shared));
  SLUICE_ASSIGN_OR_RETURN(engine->resolver_, dns::Resolver::Create(reactor, shared->dns, nullptr,
                                                                   &shared->metrics.dns));
  return engine;
}

DeliveryEngine::DeliveryEngine(reactor::Reactor& reactor, int shard, const DeliveryShared* shared)
    : reactor_(reactor),
      shard_(shard),
      shared_(shared),
      ops_([this] { MaybeFinishStop(); }),
      recorder_(reactor.clock(), shard, *shared, ops_),
      inbound_(reactor, *shared, ops_,
               [this](std::string_view domain,
                      absl::AnyInvocable<void(absl::StatusOr<dns::Destination>)> done) {
                 if (resolver_ == nullptr) {  // stopping
                   done(absl::CancelledError("delivery is stopping"));
                   return;
                 }
                 resolver_->ResolveDestination(domain, std::move(done));
               }),
      scheduler_(
          reactor, *shared, ops_,
          [this](std::string_view domain,
                 absl::AnyInvocable<void(absl::StatusOr<dns::Destination>)> done) {
            resolver_->ResolveDestination(domain, std::move(done));
          },
          [this](int owner, Routed routed) { SendToOwner(owner, std::move(routed)); },
          [this](const common::MessageId& id, const smtp::ServerReply& reply) {
            FailUnsent(id, reply, "", /*from_pool=*/false);
          }) {}

DeliveryEngine::~DeliveryEngine() {
  stopping_ = true;
  scheduler_.Stop();
  resolver_.reset();
}

absl::AnyInvocable<void(std::vector<queue::ScheduledMessage>)> DeliveryEngine::DueSink(
    reactor::Sharded<DeliveryEngine>& engines, int shards) {
  return [&engines, shards](std::vector<queue::ScheduledMessage> due) {
    std::vector<std::vector<queue::ScheduledMessage>> by_shard =
        Scheduler::ByDomainShard(std::move(due), shards);
    for (int shard = 0; shard < shards; ++shard) {
      if (by_shard[shard].empty()) continue;
      engines.InvokeOn(shard, [batch = std::move(by_shard[shard])](DeliveryEngine& engine) mutable {
        engine.AddScheduled(std::move(batch));
      });
    }
  };
}

void DeliveryEngine::AddScheduled(std::vector<queue::ScheduledMessage> messages) {
  if (stopping_) return;
  // What came back to the bounce domains is read here, not delivered.
  for (const queue::ScheduledMessage& message : messages) {
    if (message.queue == kInboundBouncesQueue) inbound_.Process(message);
  }
  scheduler_.Add(std::move(messages));
}

void DeliveryEngine::SendToOwner(int owner, Routed routed) {
  if (owner == shard_) {
    AddReady(std::move(routed));
    return;
  }
  shared_->post(owner, [routed = std::move(routed)](DeliveryEngine& engine) mutable {
    engine.AddReady(std::move(routed));
  });
}

void DeliveryEngine::AddReady(Routed routed) {
  if (stopping_) return;
  auto [claim, claimed] = claims_.try_emplace(routed.message.id);
  if (!claimed) return;  // already on its way
  auto [it, inserted] = pools_.try_emplace(routed.queue_key);
  if (inserted) {
    it->second = std::make_unique<SitePool>(
        reactor_, *shared_, ops_, static_cast<SitePool::Delegate&>(*this), log_limit_, routed);
    it->second->SetSuspended(suspended_sites_.contains(routed.site_key));
  }
  claim->second.pool = it->second.get();
  it->second->Add(std::move(routed));
}

// Results from the pools.

void DeliveryEngine::OnAttempt(SitePool& /*pool*/, DeliveryJob job, smtp::DeliveryResult result,
                               AttemptInfo info) {
  const common::MessageId id = queue::ParseIdKey(job.envelope.id()).value_or(common::MessageId());
  std::optional<PendingBounce> bounce;
  if (auto claim = claims_.find(id); claim != claims_.end()) {
    bounce = std::move(claim->second.bounce);
    claims_.erase(claim);
  }
  const bool bounced =
      recorder_.Record(job, result, info, bounce.has_value() ? &bounce->reason : nullptr);
  if (bounce.has_value()) bounce->done(bounced);
}

void DeliveryEngine::OnUnsent(SitePool& pool, const common::MessageId& id,
                              const smtp::ServerReply& reply) {
  FailUnsent(id, reply, pool.site_key(), /*from_pool=*/true);
}

void DeliveryEngine::OnReleased(const common::MessageId& id) {
  auto claim = claims_.find(id);
  if (claim == claims_.end()) return;
  if (!claim->second.bounce.has_value() || stopping_) {
    if (claim->second.bounce.has_value()) claim->second.bounce->done(false);
    claims_.erase(claim);
    return;
  }
  // The pool let go of it untouched: bounce it as stored, still claimed so
  // that a new hand-out is dropped meanwhile.
  claim->second.pool = nullptr;
  PendingBounce bounce = *std::move(claim->second.bounce);
  claim->second.bounce.reset();
  BounceAtRest(id, bounce.reason, [this, id, done = std::move(bounce.done)](bool bounced) mutable {
    claims_.erase(id);
    done(bounced);
  });
}

bool DeliveryEngine::MaySend(const common::MessageId& id) {
  auto claim = claims_.find(id);
  return claim == claims_.end() || !claim->second.bounce.has_value();
}

bool DeliveryEngine::HoldIfSuspended(const common::MessageId& id, const queue::Envelope& e) {
  if (!scheduler_.IsSuspended(e.domain(), e.tenant(), e.campaign())) return false;
  // Held on the domain's shard, which routes it again on resume.
  queue::ScheduledMessage message{id,       e.next_due_unix_ms(), e.domain(),  e.queue(),
                                  e.pool(), e.tenant(),           e.campaign()};
  const int home = Scheduler::ShardForDomain(e.domain(), shared_->shards);
  if (home == shard_) {
    scheduler_.Hold(std::move(message));
  } else {
    shared_->post(home, [message = std::move(message)](DeliveryEngine& engine) mutable {
      engine.scheduler_.Hold(std::move(message));
    });
  }
  return true;
}

void DeliveryEngine::OnConnectionGone(SitePool& /*pool*/) { MaybeFinishStop(); }

AttemptInfo DeliveryEngine::InfoNow(const std::string& site) const {
  AttemptInfo info;
  info.now = reactor_.clock().Now();
  info.site = site;
  info.reporting_mta = shared_->reporting_mta;
  info.classifier = shared_->classifier;
  return info;
}

void DeliveryEngine::FailUnsent(const common::MessageId& id, const smtp::ServerReply& reply,
                                const std::string& site, bool from_pool) {
  auto [claim, claimed] = claims_.try_emplace(id);
  // Unroutable here while this shard delivers it from a pool: a second
  // hand-out, and the first one decides.
  if (!claimed && !from_pool) return;
  claim->second.pool = nullptr;
  ops_.Begin();
  shared_->spool->Read(id, [this, id, reply, site](absl::StatusOr<queue::StoredMessage> stored) {
    std::optional<PendingBounce> bounce;
    if (auto claim = claims_.find(id); claim != claims_.end()) {
      bounce = std::move(claim->second.bounce);
      claims_.erase(claim);
    }
    bool bounced = false;
    if (!stopping_ && stored.ok()) {
      DeliveryJob job;
      job.attempted = UnfinishedRecipients(stored->envelope);
      job.envelope = std::move(stored->envelope);
      job.body = std::make_shared<const std::string>(std::move(stored->body));
      const smtp::DeliveryResult result =
          UniformResult(job.attempted.size(),
                        reply.IsPermanent() ? smtp::RecipientStatus::kPermanentFailure
                                            : smtp::RecipientStatus::kTemporaryFailure,
                        reply);
      bounced = recorder_.Record(job, result, InfoNow(site),
                                 bounce.has_value() ? &bounce->reason : nullptr);
    }
    if (bounce.has_value()) bounce->done(bounced);
    ops_.End();
  });
}

// Operations.

void DeliveryEngine::SetSuspended(SuspendScope scope, const std::string& name, bool suspended) {
  if (scope != SuspendScope::kSite) {
    scheduler_.SetSuspended(scope, name, suspended);
    return;
  }
  if (suspended) {
    suspended_sites_.insert(name);
  } else {
    suspended_sites_.erase(name);
  }
  for (auto& [key, pool] : pools_) {
    if (pool->site_key() == name) pool->SetSuspended(suspended);
  }
}

void DeliveryEngine::BounceNow(const common::MessageId& id, const smtp::ServerReply& reason,
                               absl::AnyInvocable<void(bool)> done) {
  if (stopping_ || !bouncing_.insert(id).second) {
    done(false);
    return;
  }
  // Not routed from here until the bounce is done; whatever this shard
  // routed before is already in its owner's inbox, ahead of the question.
  scheduler_.Block(id);
  auto round = std::make_shared<BounceRound>();
  round->id = id;
  round->reason = reason;
  round->done = std::move(done);
  round->waiting = shared_->shards;
  const int home = shard_;
  for (int shard = 0; shard < shared_->shards; ++shard) {
    auto ask = [home, round](DeliveryEngine& engine) {
      const bool claimed =
          engine.TakeBounce(round->id, round->reason, [&engine, home, round](bool bounced) {
            engine.shared_->post(home, [round, bounced](DeliveryEngine& home_engine) {
              round->result = bounced;
              home_engine.Answer(round);
            });
          });
      engine.shared_->post(home, [round, claimed](DeliveryEngine& home_engine) {
        --round->waiting;
        round->claimed = round->claimed || claimed;
        home_engine.Answer(round);
      });
    };
    shared_->post(shard, std::move(ask));
  }
}

bool DeliveryEngine::TakeBounce(const common::MessageId& id, const smtp::ServerReply& reason,
                                absl::AnyInvocable<void(bool)> done) {
  auto claim = claims_.find(id);
  if (claim == claims_.end() || stopping_) return false;
  if (claim->second.bounce.has_value()) return false;  // one bounce at a time
  if (claim->second.pool != nullptr && claim->second.pool->Withdraw(id)) {
    // Waiting in a ready queue: out of it, and bounced as stored.
    claim->second.pool = nullptr;
    BounceAtRest(id, reason, [this, id, done = std::move(done)](bool bounced) mutable {
      claims_.erase(id);
      done(bounced);
    });
    return true;
  }
  // On its way (read, on a connection, being failed): bounced when settled.
  claim->second.bounce = PendingBounce{reason, std::move(done)};
  return true;
}

void DeliveryEngine::Answer(const std::shared_ptr<BounceRound>& round) {
  if (round->waiting > 0) return;
  if (round->claimed && !round->result.has_value()) return;
  auto finish = [this, round](bool bounced) {
    scheduler_.Unblock(round->id, bounced);
    bouncing_.erase(round->id);
    std::exchange(round->done, nullptr)(bounced);
  };
  if (round->claimed) {
    finish(*round->result);
    return;
  }
  // Nobody holds it: it rests in the spool, and nothing routes it now.
  BounceAtRest(round->id, round->reason, std::move(finish));
}

void DeliveryEngine::BounceAtRest(const common::MessageId& id, const smtp::ServerReply& reason,
                                  absl::AnyInvocable<void(bool)> done) {
  ops_.Begin();
  shared_->spool->Read(id, [this, reason, done = std::move(done)](
                               absl::StatusOr<queue::StoredMessage> stored) mutable {
    bool bounced = false;
    if (stored.ok() && !stopping_) {
      bounced = recorder_.Bounce(*stored, reason, InfoNow(stored->envelope.site()));
    }
    done(bounced);
    ops_.End();
  });
}

std::vector<QueueSnapshot> DeliveryEngine::Snapshot() const {
  std::vector<QueueSnapshot> snapshot;
  const absl::Time now = reactor_.clock().Now();
  snapshot.reserve(pools_.size());
  for (const auto& [key, pool] : pools_) snapshot.push_back(pool->Snapshot(now));
  return snapshot;
}

std::vector<FailureGroup> DeliveryEngine::Failures() const {
  return recorder_.failures().Groups(reactor_.clock().Now());
}

// Stopping.

void DeliveryEngine::Stop(absl::AnyInvocable<void()> done) {
  stopping_ = true;
  stop_done_ = std::move(done);
  scheduler_.Stop();
  for (auto& [key, pool] : pools_) pool->Stop();
  // Lookups in flight see the stop and drop their messages.
  resolver_.reset();
  stop_timer_ = reactor_.RunAfter(shared_->stop_grace, [this] {
    stop_timer_.reset();
    for (auto& [key, pool] : pools_) pool->AbortAll();
  });
  MaybeFinishStop();
}

void DeliveryEngine::MaybeFinishStop() {
  if (!stopping_ || !stop_done_ || ops_.count() > 0) return;
  for (const auto& [key, pool] : pools_) {
    if (pool->has_connections()) return;
  }
  if (stop_timer_.has_value()) reactor_.CancelTimer(*stop_timer_);
  stop_timer_.reset();
  std::exchange(stop_done_, nullptr)();
}

}  // namespace sluice::engine
