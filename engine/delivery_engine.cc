#include "engine/delivery_engine.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "dns/dns_error.h"
#include "engine/delivery_job.h"
#include "mail/throttle_reply.h"
#include "queue/spool_keys.h"

namespace sluice::engine {
namespace {

// A different id stream from the SMTP listeners' on the same shard.
constexpr uint16_t kIdStream = 16;

// How often a queue takes its MX hosts and addresses afresh from the
// messages routed to it (the resolver's cache honours the DNS TTLs).
constexpr absl::Duration kDestinationRefresh = absl::Seconds(30);

// How soon a queue whose egress sources are all at their limit looks again.
constexpr absl::Duration kSourceRetry = absl::Milliseconds(200);

smtp::ClientOptions SessionOptions(const SiteLimits& limits, const std::string& helo,
                                   smtp::TlsPolicy tls) {
  smtp::ClientOptions options;
  options.helo_name = helo;
  options.tls = tls;
  options.timeouts.greeting = limits.reply_timeout;
  options.timeouts.mail = limits.reply_timeout;
  options.timeouts.rcpt = limits.reply_timeout;
  options.timeouts.data_initiation = limits.reply_timeout;
  options.timeouts.data_block = limits.reply_timeout;
  options.timeouts.data_termination = limits.data_timeout;
  options.timeouts.command = limits.reply_timeout;
  return options;
}

}  // namespace

// Forwards a connection's callbacks to the engine with its queue.
class DeliveryEngine::ConnectionOwner final : public DeliveryConnection::Owner {
 public:
  ConnectionOwner(DeliveryEngine* engine, Queue* queue) : engine_(engine), queue_(queue) {}
  void OnIdle(DeliveryConnection& connection) override { engine_->OnIdle(*queue_, connection); }
  void OnJobDone(DeliveryConnection& connection, DeliveryJob job,
                 smtp::DeliveryResult result) override {
    engine_->OnJobDone(*queue_, connection, std::move(job), std::move(result));
  }
  void OnConnectionClosed(DeliveryConnection& connection) override {
    engine_->OnConnectionClosed(*queue_, connection);
  }

 private:
  DeliveryEngine* const engine_;
  Queue* const queue_;
};

struct DeliveryEngine::Queue {
  Queue(std::string key, const SiteLimits& limits, const DeliveryPolicy& policy)
      : site(std::move(key), limits, policy.host_failure_backoff(), policy.throttle_backoff()) {}

  SiteQueue site;
  std::string site_key;
  const EgressPoolSpec* pool = nullptr;
  size_t next_source = 0;
  std::unique_ptr<ConnectionOwner> owner;
  absl::flat_hash_set<DeliveryConnection*> connections;
  // Opened and not yet ready for their first message.
  absl::flat_hash_set<DeliveryConnection*> fresh;
  // Waiting for a message, with the timer that QUITs them.
  absl::flat_hash_map<DeliveryConnection*, reactor::TimerId> idle;
  // A message is being read from the spool for them.
  absl::flat_hash_set<DeliveryConnection*> reserved;
  // The egress source each connection holds a slot of.
  absl::flat_hash_map<DeliveryConnection*, const EgressSourceSpec*> sources;
  std::optional<reactor::TimerId> timer;
  absl::Time timer_at = absl::InfiniteFuture();
  // When the destination's hosts were last taken from a routed message.
  absl::Time destination_at = absl::InfinitePast();
  // Messages handed to a connection and not yet done.
  size_t in_flight = 0;
  // Recipients delivered, for the rate operators see.
  RateMeter delivered;
};

struct DeliveryEngine::Routed {
  std::string queue_key;
  std::string site_key;
  int rule = -1;
  const EgressPoolSpec* pool = nullptr;
  dns::Destination destination;
  ReadyMessage message;
};

absl::StatusOr<std::unique_ptr<DeliveryEngine>> DeliveryEngine::Create(
    reactor::Reactor& reactor, int shard, const DeliveryShared* shared) {
  std::unique_ptr<DeliveryEngine> engine(new DeliveryEngine(reactor, shard, shared));
  SLUICE_ASSIGN_OR_RETURN(engine->resolver_, dns::Resolver::Create(reactor, shared->dns, nullptr,
                                                                   &shared->metrics.dns));
  return engine;
}

DeliveryEngine::DeliveryEngine(reactor::Reactor& reactor, int shard, const DeliveryShared* shared)
    : reactor_(reactor),
      shard_(shard),
      shared_(shared),
      ids_(&reactor.clock(), shard, common::MessageIdGenerator::StreamNode(kIdStream)) {
  dsn_policy_.delay_notice_after = shared->policy->delay_notice_after();
}

DeliveryEngine::~DeliveryEngine() {
  stopping_ = true;
  resolver_.reset();
}

int DeliveryEngine::ShardForDomain(std::string_view domain, int shards) {
  return static_cast<int>(absl::HashOf(domain, 1) % static_cast<size_t>(shards));
}

int DeliveryEngine::ShardForSite(std::string_view site_key, int shards) {
  return static_cast<int>(absl::HashOf(site_key, 2) % static_cast<size_t>(shards));
}

// Scheduling.

void DeliveryEngine::AddScheduled(std::vector<queue::ScheduledMessage> messages) {
  if (stopping_) return;
  for (queue::ScheduledMessage& message : messages) {
    // Inbound bounces wait for local processing; they are not delivered.
    if (!message.queue.empty()) continue;
    window_.Add(message);
  }
  SetScheduledGauge();
  ArmScheduleTimer();
}

void DeliveryEngine::ArmScheduleTimer() {
  const std::optional<int64_t> next = window_.NextDue();
  if (!next.has_value() || stopping_) return;
  if (schedule_timer_.has_value()) {
    if (schedule_timer_due_ms_ <= *next) return;
    reactor_.CancelTimer(*schedule_timer_);
    schedule_timer_.reset();
  }
  schedule_timer_due_ms_ = *next;
  const absl::Duration wait =
      std::max(absl::ZeroDuration(), absl::FromUnixMillis(*next) - reactor_.clock().Now());
  schedule_timer_ = reactor_.RunAfter(wait, [this] {
    schedule_timer_.reset();
    OnScheduleTimer();
  });
}

void DeliveryEngine::OnScheduleTimer() {
  if (stopping_) return;
  std::vector<queue::ScheduledMessage> due;
  window_.PopDue(absl::ToUnixMillis(reactor_.clock().Now()), shared_->max_routed_per_pass, &due);
  for (queue::ScheduledMessage& message : due) Route(std::move(message));
  SetScheduledGauge();
  if (due.size() == shared_->max_routed_per_pass) {
    // More is due: go on after the loop has served everything else.
    schedule_timer_due_ms_ = 0;
    schedule_timer_ = reactor_.RunAfter(absl::ZeroDuration(), [this] {
      schedule_timer_.reset();
      OnScheduleTimer();
    });
    return;
  }
  ArmScheduleTimer();
}

bool DeliveryEngine::IsSuspended(const std::string& domain, const std::string& tenant,
                                 const std::string& campaign) const {
  auto in = [this](SuspendScope scope, const std::string& name) {
    return !name.empty() && suspended_[static_cast<int>(scope)].contains(name);
  };
  return in(SuspendScope::kDomain, domain) || in(SuspendScope::kTenant, tenant) ||
         in(SuspendScope::kCampaign, campaign);
}

void DeliveryEngine::Hold(queue::ScheduledMessage message) {
  // The spool keeps it due, so a restart hands it out again.
  const common::MessageId id = message.id;
  held_.insert_or_assign(id, std::move(message));
  SetScheduledGauge();
}

void DeliveryEngine::SetScheduledGauge() {
  if (shared_->metrics.scheduled) {
    shared_->metrics.scheduled->Set(static_cast<int64_t>(window_.size() + held_.size()));
  }
}

void DeliveryEngine::Route(queue::ScheduledMessage message) {
  if (IsSuspended(message.domain, message.tenant, message.campaign)) {
    Hold(std::move(message));
    return;
  }
  BeginOp();
  const std::string domain = message.domain;
  resolver_->ResolveDestination(domain, [this, message = std::move(message)](
                                            absl::StatusOr<dns::Destination> destination) mutable {
    if (stopping_) {
      EndOp();
      return;
    }
    if (!destination.ok()) {
      const absl::Status& error = destination.status();
      const std::string text = absl::StrCat("DNS: ", error.message());
      smtp::ServerReply reply;
      if (dns::IsTemporaryDnsError(error)) {
        reply = smtp::ServerReply::Local(451, "4.4.3", text);
      } else if (dns::FailureOf(error) == dns::DnsFailure::kNullMx) {
        reply = smtp::ServerReply::Local(556, "5.1.10", text);  // RFC 7505
      } else {
        reply = smtp::ServerReply::Local(550, "5.1.2", text);
      }
      FailWithoutConnection(message.id, reply, "");
      EndOp();
      return;
    }
    Routed routed;
    routed.site_key = destination->site.key;
    routed.rule = shared_->policy->RuleFor(message.domain, destination->site);
    routed.pool = &shared_->policy->PoolFor(message.pool, message.tenant);
    routed.queue_key = absl::StrCat(routed.site_key, "|", routed.pool->name, "|", routed.rule);
    routed.destination = *std::move(destination);
    routed.message = {message.id, message.domain};
    const int owner = ShardForSite(routed.site_key, shared_->shards);
    if (owner == shard_) {
      AddReady(std::move(routed));
    } else {
      shared_->post(owner, [routed = std::move(routed)](DeliveryEngine& engine) mutable {
        engine.AddReady(std::move(routed));
      });
    }
    EndOp();
  });
}

// Delivery.

void DeliveryEngine::AddReady(Routed routed) {
  if (stopping_) return;
  if (!in_flight_.insert(routed.message.id).second) return;  // already on its way
  auto [it, inserted] = queues_.try_emplace(routed.queue_key);
  if (inserted) {
    it->second = std::make_unique<Queue>(routed.queue_key, shared_->policy->Limits(routed.rule),
                                         *shared_->policy);
    Queue& queue = *it->second;
    queue.site_key = routed.site_key;
    queue.pool = routed.pool;
    queue.owner = std::make_unique<ConnectionOwner>(this, &queue);
    queue.site.set_suspended(
        suspended_[static_cast<int>(SuspendScope::kSite)].contains(routed.site_key));
  }
  Queue& queue = *it->second;
  // The hosts change rarely; rebuilding them per message would be most of
  // the routing cost on this shard.
  const absl::Time now = reactor_.clock().Now();
  if (now - queue.destination_at >= kDestinationRefresh) {
    queue.site.SetDestination(routed.destination);
    queue.destination_at = now;
  }
  queue.site.Push(std::move(routed.message));
  if (shared_->metrics.ready) shared_->metrics.ready->Add(1);
  Dispatch(queue);
}

void DeliveryEngine::Dispatch(Queue& queue) {
  if (stopping_ || queue.site.suspended()) return;
  const absl::Time now = reactor_.clock().Now();
  // Connections that wait for work come first.
  while (queue.site.ready() > 0 && !queue.idle.empty()) {
    auto idle = queue.idle.begin();
    DeliveryConnection* connection = idle->first;
    reactor_.CancelTimer(idle->second);
    queue.idle.erase(idle);
    GiveJob(queue, *connection);
    if (queue.idle.contains(connection)) break;  // held back by the rate limit
  }
  // Then new connections, one per message nobody will pick up soon.
  while (queue.site.ready() > queue.fresh.size() + queue.reserved.size() &&
         queue.site.MayConnect(now)) {
    std::optional<HostChoice> host = queue.site.ChooseHost(now);
    if (!host.has_value()) {
      if (queue.connections.empty()) {
        DeferReady(queue, smtp::ServerReply::Local(451, "4.4.1",
                                                   absl::StrCat("no mail exchanger reachable: ",
                                                                queue.site.last_error().empty()
                                                                    ? "all hosts failing"
                                                                    : queue.site.last_error())));
      }
      return;
    }
    if (!OpenConnection(queue, *host)) {
      // Every source of the pool is at its limit (other sites hold its
      // connections): look again shortly.
      ArmQueueTimer(queue, now + kSourceRetry);
      return;
    }
  }
  if (queue.site.ready() > 0 && queue.connections.empty() && queue.site.paused_until() > now) {
    ArmQueueTimer(queue, queue.site.paused_until());
  }
}

void DeliveryEngine::ArmQueueTimer(Queue& queue, absl::Time when) {
  if (queue.timer.has_value()) {
    if (queue.timer_at <= when) return;
    reactor_.CancelTimer(*queue.timer);
  }
  queue.timer_at = when;
  queue.timer = reactor_.RunAfter(std::max(absl::ZeroDuration(), when - reactor_.clock().Now()),
                                  [this, q = &queue] {
                                    q->timer.reset();
                                    q->timer_at = absl::InfiniteFuture();
                                    Dispatch(*q);
                                  });
}

bool DeliveryEngine::OpenConnection(Queue& queue, const HostChoice& host) {
  const absl::Time now = reactor_.clock().Now();
  const SiteLimits& limits = queue.site.limits();
  // Round robin over the pool's sources, skipping those at their limit.
  const EgressSourceSpec* chosen = nullptr;
  for (size_t tried = 0; tried < queue.pool->sources.size() && chosen == nullptr; ++tried) {
    const EgressSourceSpec& candidate =
        queue.pool->sources[queue.next_source++ % queue.pool->sources.size()];
    if (candidate.TryAcquire()) chosen = &candidate;
  }
  if (chosen == nullptr) return false;
  const EgressSourceSpec& source = *chosen;
  smtp::TlsPolicy tls = smtp::TlsPolicy::kOpportunistic;
  switch (limits.tls) {
    case TlsMode::kDisabled:
      tls = smtp::TlsPolicy::kNever;
      break;
    case TlsMode::kOpportunistic:
      // After a failed handshake, plaintext for a while (the policy allows it).
      tls = queue.site.TlsFailedRecently(host.address, now) ? smtp::TlsPolicy::kNever
                                                            : smtp::TlsPolicy::kOpportunistic;
      break;
    case TlsMode::kRequired:
    case TlsMode::kVerify:
      tls = smtp::TlsPolicy::kRequire;
      break;
  }
  DeliveryConnection::Params params;
  params.host = host;
  params.source = source.address;
  params.session = SessionOptions(limits, source.ehlo, tls);
  params.tls = shared_->tls;
  params.verify_certificate = limits.tls == TlsMode::kVerify;
  params.connect_timeout = limits.connect_timeout;
  params.max_recipients = static_cast<size_t>(limits.max_recipients_per_transaction);
  params.tls_sessions = shared_->metrics.tls_connections;
  DeliveryConnection* connection =
      DeliveryConnection::Open(reactor_, std::move(params), queue.owner.get());
  queue.connections.insert(connection);
  queue.sources[connection] = &source;
  queue.fresh.insert(connection);
  queue.site.ConnectionOpened();
  if (shared_->metrics.connections) shared_->metrics.connections->Add(1);
  if (shared_->metrics.open_connections) shared_->metrics.open_connections->Add(1);
  return true;
}

void DeliveryEngine::GiveJob(Queue& queue, DeliveryConnection& connection) {
  const absl::Time now = reactor_.clock().Now();
  if (const absl::Duration wait = queue.site.TakeRateToken(now); wait > absl::ZeroDuration()) {
    queue.idle[&connection] =
        reactor_.RunAfter(queue.site.limits().idle_timeout, [this, q = &queue, c = &connection] {
          q->idle.erase(c);
          c->Quit();
        });
    ArmQueueTimer(queue, now + wait);
    return;
  }
  std::optional<ReadyMessage> message = queue.site.Pop();
  if (!message.has_value()) return;
  if (shared_->metrics.ready) shared_->metrics.ready->Add(-1);
  queue.reserved.insert(&connection);
  BeginOp();
  const common::MessageId id = message->id;
  shared_->spool->Read(id, [this, q = &queue, c = &connection, message = *std::move(message)](
                               absl::StatusOr<queue::StoredMessage> stored) mutable {
    const bool alive = q->reserved.erase(c) > 0 && q->connections.contains(c);
    if (stopping_) {
      in_flight_.erase(message.id);
      if (alive) c->Quit();
      EndOp();
      return;
    }
    std::optional<DeliveryJob> job;
    if (!stored.ok()) {
      // Delivered or purged meanwhile (NotFound), or unreadable: the
      // spool's recovery quarantines what it cannot decode.
      if (!absl::IsNotFound(stored.status())) {
        SLUICE_LOG(kError, "cannot read a message to deliver")
            .Field("id", message.id.ToString())
            .Field("error", stored.status());
      }
    } else if (stored->envelope.next_due_unix_ms() >
               absl::ToUnixMillis(reactor_.clock().Now() + absl::Seconds(1))) {
      // Rescheduled meanwhile: the loader hands it out again when due.
    } else if (const queue::Envelope& e = stored->envelope;
               IsSuspended(e.domain(), e.tenant(), e.campaign())) {
      // Suspended while it waited in the site queue.
      Hold({message.id, e.next_due_unix_ms(), e.domain(), e.queue(), e.pool(), e.tenant(),
            e.campaign()});
    } else {
      job.emplace();
      job->attempted = UnfinishedRecipients(stored->envelope);
      job->envelope = std::move(stored->envelope);
      job->envelope.set_site(q->site_key);  // for operators' filters
      job->body = std::make_shared<const std::string>(std::move(stored->body));
      job->needs_8bit = HasEightBit(*job->body);
      job->started = reactor_.clock().Now();
      if (job->attempted.empty()) {
        BeginOp();
        shared_->spool->Remove(message.id, [this](absl::Status) { EndOp(); });
        job.reset();
      }
    }
    if (!job.has_value()) {
      in_flight_.erase(message.id);
      if (alive) OnIdle(*q, *c);
    } else if (!alive) {
      // The connection went away while the message was read: next one.
      q->site.PushFront(std::move(message));
      if (shared_->metrics.ready) shared_->metrics.ready->Add(1);
      Dispatch(*q);
    } else {
      ++q->in_flight;
      c->Send(*std::move(job));
    }
    EndOp();
  });
}

void DeliveryEngine::OnIdle(Queue& queue, DeliveryConnection& connection) {
  queue.fresh.erase(&connection);
  if (stopping_ || queue.site.suspended() ||
      connection.jobs_done() >=
          static_cast<size_t>(queue.site.limits().max_messages_per_connection)) {
    connection.Quit();
    return;
  }
  if (queue.site.ready() > 0) {
    GiveJob(queue, connection);
    return;
  }
  queue.idle[&connection] =
      reactor_.RunAfter(queue.site.limits().idle_timeout, [q = &queue, c = &connection] {
        q->idle.erase(c);
        c->Quit();
      });
}

void DeliveryEngine::OnJobDone(Queue& queue, DeliveryConnection& connection, DeliveryJob job,
                               smtp::DeliveryResult result) {
  const absl::Time now = reactor_.clock().Now();
  --queue.in_flight;
  bool any_final = false;
  for (const smtp::RecipientResult& recipient : result.recipients) {
    if (recipient.status == smtp::RecipientStatus::kDelivered) {
      queue.site.OnDelivered();
      queue.delivered.Add(now);
    }
    any_final = any_final || recipient.status != smtp::RecipientStatus::kTemporaryFailure;
    if (mail::IsThrottleReply(recipient.reply)) {
      queue.site.OnThrottled(now);
      if (shared_->metrics.throttled) shared_->metrics.throttled->Add(1);
    }
  }
  if (mail::IsThrottleReply(result.final_reply)) queue.site.OnThrottled(now);
  const common::MessageId id = queue::ParseIdKey(job.envelope.id()).value_or(common::MessageId());
  if (stopping_ && !any_final) {
    // Cut short by the stop: the spool still has it due, unchanged.
    in_flight_.erase(id);
    return;
  }
  AttemptInfo info;
  info.now = now;
  info.site = queue.site_key;
  info.remote_host = connection.host().host;
  info.remote_ip = connection.host().address.HostString();
  info.tls_version = connection.tls_version();
  info.tls_cipher = connection.tls_cipher();
  info.connect_time = connection.connect_time();
  info.tls_time = connection.tls_time();
  info.transaction_time = now - job.started;
  info.reporting_mta = shared_->reporting_mta;
  info.remote_offers_dsn = connection.peer_offers_dsn();
  Record(job, result, info);
  in_flight_.erase(id);
}

void DeliveryEngine::OnConnectionClosed(Queue& queue, DeliveryConnection& connection) {
  const absl::Time now = reactor_.clock().Now();
  const bool was_fresh = queue.fresh.erase(&connection) > 0;
  queue.connections.erase(&connection);
  queue.reserved.erase(&connection);
  if (auto source = queue.sources.find(&connection); source != queue.sources.end()) {
    source->second->Release();
    queue.sources.erase(source);
  }
  if (auto idle = queue.idle.find(&connection); idle != queue.idle.end()) {
    reactor_.CancelTimer(idle->second);
    queue.idle.erase(idle);
  }
  queue.site.ConnectionClosed();
  if (shared_->metrics.open_connections) shared_->metrics.open_connections->Add(-1);
  if (const std::optional<smtp::ClientFailure>& failure = connection.failure();
      failure.has_value() && !stopping_) {
    if (shared_->metrics.connection_failures) shared_->metrics.connection_failures->Add(1);
    queue.site.set_last_error(absl::StrCat(connection.host().host, "[",
                                           connection.host().address.HostString(),
                                           "]: ", failure->reply.ToString()));
    std::string_view next = "retry later";
    if (mail::IsThrottleReply(failure->reply)) {
      queue.site.OnThrottled(now);
      next = "throttled: fewer connections";
    } else if (was_fresh) {
      // Never got as far as a message: try the next address or MX.
      if (connection.tls_failed() && queue.site.limits().tls == TlsMode::kOpportunistic) {
        queue.site.MarkTlsFailed(connection.host().address, now);
        next = "this host without TLS next time";
      } else {
        queue.site.MarkHostFailed(connection.host().address, now);
        next = "next MX address";
      }
    }
    if (log_limit_.Allow(now, "delivery connection failures")) {
      SLUICE_LOG(kWarning, "delivery connection failed")
          .Field("site", queue.site_key)
          .Field("remote", absl::StrCat(connection.host().host, "[",
                                        connection.host().address.HostString(), "]"))
          .Field("reply", failure->reply.ToString())
          .Field("next", next);
    }
  }
  if (stopping_) {
    MaybeFinishStop();
    return;
  }
  Dispatch(queue);
}

void DeliveryEngine::DeferReady(Queue& queue, const smtp::ServerReply& reply) {
  for (ReadyMessage& message : queue.site.TakeAll()) {
    if (shared_->metrics.ready) shared_->metrics.ready->Add(-1);
    FailWithoutConnection(message.id, reply, queue.site_key);
  }
}

// Results.

void DeliveryEngine::FailWithoutConnection(const common::MessageId& id,
                                           const smtp::ServerReply& reply,
                                           const std::string& site) {
  BeginOp();
  shared_->spool->Read(id, [this, id, reply, site](absl::StatusOr<queue::StoredMessage> stored) {
    in_flight_.erase(id);
    if (stopping_ || !stored.ok()) {
      EndOp();
      return;
    }
    DeliveryJob job;
    job.attempted = UnfinishedRecipients(stored->envelope);
    job.envelope = std::move(stored->envelope);
    job.body = std::make_shared<const std::string>(std::move(stored->body));
    const smtp::DeliveryResult result =
        UniformResult(job.attempted.size(),
                      reply.IsPermanent() ? smtp::RecipientStatus::kPermanentFailure
                                          : smtp::RecipientStatus::kTemporaryFailure,
                      reply);
    AttemptInfo info;
    info.now = reactor_.clock().Now();
    info.site = site;
    info.reporting_mta = shared_->reporting_mta;
    Record(job, result, info);
    EndOp();
  });
}

void DeliveryEngine::Record(const DeliveryJob& job, const smtp::DeliveryResult& result,
                            const AttemptInfo& info) {
  absl::StatusOr<AttemptOutcome> outcome =
      ApplyAttempt(job.envelope, *job.body, job.attempted, result, info, shared_->policy->retry(),
                   random_, dsn_policy_, [this] { return ids_.Next(); });
  if (!outcome.ok()) {
    // A bug, not a delivery problem: the message stays due as it was.
    SLUICE_LOG(kError, "cannot apply a delivery result").Field("error", outcome.status());
    return;
  }
  Commit(*std::move(outcome));
}

void DeliveryEngine::Commit(AttemptOutcome outcome) {
  CountEvents(outcome.events);
  LogEvents(outcome.events);
  if (shared_->events != nullptr) {
    for (const DeliveryEvent& event : outcome.events) shared_->events->Log(event);
  }
  // DSNs first: the writer commits in order, so the bounce is never
  // recorded without its DSN.
  for (queue::NewMessage& dsn : outcome.dsns) {
    if (shared_->metrics.dsns) shared_->metrics.dsns->Add(1);
    BeginOp();
    shared_->spool->Enqueue(std::move(dsn), [this](absl::Status status) {
      if (!status.ok()) {
        SLUICE_LOG(kError, "cannot spool a delivery status notification").Field("error", status);
      }
      EndOp();
    });
  }
  absl::StatusOr<common::MessageId> id = queue::ParseIdKey(outcome.envelope.id());
  if (!id.ok()) return;
  BeginOp();
  auto done = [this, id = *id](absl::Status status) {
    if (!status.ok() && !absl::IsNotFound(status)) {
      SLUICE_LOG(kError, "cannot record a delivery attempt")
          .Field("id", id.ToString())
          .Field("error", status);
    }
    EndOp();
  };
  if (outcome.remove) {
    shared_->spool->Remove(*id, std::move(done));
  } else {
    shared_->spool->Update(std::move(outcome.envelope), std::move(done));
  }
}

void DeliveryEngine::CountEvents(const std::vector<DeliveryEvent>& events) {
  const DeliveryMetrics& m = shared_->metrics;
  for (const DeliveryEvent& event : events) {
    common::Counter* counter = nullptr;
    int column = -1;  // in m.by_site and m.by_tenant
    switch (event.type) {
      case DeliveryEventType::kDelivered:
        counter = m.delivered;
        column = 0;
        break;
      case DeliveryEventType::kDeferred:
        counter = m.deferred;
        column = 1;
        break;
      case DeliveryEventType::kBounced:
        counter = m.bounced;
        column = 2;
        break;
      case DeliveryEventType::kExpired:
        counter = m.expired;
        column = 3;
        break;
      default:
        break;
    }
    if (counter != nullptr) counter->Add(1);
    if (column < 0) continue;
    if (m.by_site != nullptr) m.by_site->Add(column, event.site);
    if (m.by_tenant != nullptr) m.by_tenant->Add(column, event.tenant);
  }
}

void DeliveryEngine::LogEvents(const std::vector<DeliveryEvent>& events) {
  for (const DeliveryEvent& event : events) {
    const std::string_view type = EventTypeName(event.type);
    // Called only for lines that are written: no string is built for a
    // delivery while debug is off.
    auto remote = [&event] {
      return event.remote_host.empty() ? std::string()
                                       : absl::StrCat(event.remote_host, "[", event.remote_ip, "]");
    };
    switch (event.type) {
      case DeliveryEventType::kDelivered:
        SLUICE_LOG(kDebug, "delivered")
            .Field("id", event.message_id.ToString())
            .Field("recipient", event.recipient)
            .Field("site", event.site)
            .Field("remote", remote())
            .Field("reply", event.reply);
        continue;
      case DeliveryEventType::kDeferred:
        // Routine, so info; bounces and expiries lose mail for somebody.
        if (!log_limit_.Allow(event.time, "delivery results")) continue;
        SLUICE_LOG(kInfo, "deferred")
            .Field("id", event.message_id.ToString())
            .Field("recipient", event.recipient)
            .Field("site", event.site)
            .Field("remote", remote())
            .Field("attempt", event.attempt)
            .Field("reply", event.reply);
        continue;
      case DeliveryEventType::kBounced:
      case DeliveryEventType::kExpired:
        if (!log_limit_.Allow(event.time, "delivery results")) continue;
        SLUICE_LOG(kWarning, absl::string_view(type.data(), type.size()))
            .Field("id", event.message_id.ToString())
            .Field("recipient", event.recipient)
            .Field("sender", event.sender)
            .Field("site", event.site)
            .Field("remote", remote())
            .Field("attempt", event.attempt)
            .Field("reply", event.reply);
        continue;
      case DeliveryEventType::kDsnFailure:
      case DeliveryEventType::kDsnDelay:
      case DeliveryEventType::kDsnRelayed:
        if (!log_limit_.Allow(event.time, "delivery results")) continue;
        SLUICE_LOG(kInfo, "dsn generated")
            .Field("type", absl::string_view(type.data(), type.size()))
            .Field("id", event.message_id.ToString())
            .Field("dsn_id", event.dsn_id.ToString())
            .Field("to", event.sender)
            .Field("recipients", event.dsn_recipients.size());
        continue;
    }
  }
}

// Operations.

void DeliveryEngine::SetSuspended(SuspendScope scope, const std::string& name, bool suspended) {
  if (suspended) {
    suspended_[static_cast<int>(scope)].insert(name);
  } else {
    suspended_[static_cast<int>(scope)].erase(name);
  }
  if (scope != SuspendScope::kSite) {
    if (suspended) return;
    // Route again whatever is held; what another suspension covers is held
    // again.
    std::vector<queue::ScheduledMessage> held;
    held.reserve(held_.size());
    for (auto& [id, message] : held_) held.push_back(std::move(message));
    held_.clear();
    for (queue::ScheduledMessage& message : held) Route(std::move(message));
    SetScheduledGauge();
    return;
  }
  for (auto& [key, queue] : queues_) {
    if (queue->site_key != name) continue;
    queue->site.set_suspended(suspended);
    if (!suspended) Dispatch(*queue);
  }
}

void DeliveryEngine::BounceNow(const common::MessageId& id, const smtp::ServerReply& reason,
                               absl::AnyInvocable<void(bool)> done) {
  BeginOp();
  shared_->spool->Read(id, [this, reason, done = std::move(done)](
                               absl::StatusOr<queue::StoredMessage> stored) mutable {
    bool bounced = false;
    if (stored.ok() && !stopping_) {
      AttemptInfo info;
      info.now = reactor_.clock().Now();
      info.site = stored->envelope.site();
      info.reporting_mta = shared_->reporting_mta;
      absl::StatusOr<AttemptOutcome> outcome =
          FailUnfinished(stored->envelope, stored->body, reason, queue::proto::BOUNCED, info,
                         [this] { return ids_.Next(); });
      if (outcome.ok()) {
        Commit(*std::move(outcome));
        bounced = true;
      }
    }
    done(bounced);
    EndOp();
  });
}

std::vector<QueueSnapshot> DeliveryEngine::Snapshot() const {
  std::vector<QueueSnapshot> snapshot;
  const absl::Time now = reactor_.clock().Now();
  for (const auto& [key, queue] : queues_) {
    QueueSnapshot& s = snapshot.emplace_back();
    s.key = key;
    s.site = queue->site_key;
    s.pool = queue->pool->name;
    s.ready = queue->site.ready();
    s.in_flight = queue->in_flight;
    s.delivered_per_minute = queue->delivered.PerMinute(now);
    s.connections = queue->site.connections();
    s.window = queue->site.window();
    s.suspended = queue->site.suspended();
    s.last_error = queue->site.last_error();
  }
  return snapshot;
}

// Stopping.

void DeliveryEngine::EndOp() {
  --ops_in_flight_;
  if (stopping_) MaybeFinishStop();
}

void DeliveryEngine::Stop(absl::AnyInvocable<void()> done) {
  stopping_ = true;
  stop_done_ = std::move(done);
  if (schedule_timer_.has_value()) reactor_.CancelTimer(*schedule_timer_);
  schedule_timer_.reset();
  for (auto& [key, queue] : queues_) {
    if (queue->timer.has_value()) reactor_.CancelTimer(*queue->timer);
    queue->timer.reset();
    // Idle connections QUIT now; busy ones after their message.
    auto idle = std::move(queue->idle);
    queue->idle.clear();
    for (auto& [connection, timer] : idle) {
      reactor_.CancelTimer(timer);
      connection->Quit();
    }
  }
  // Resolver callbacks see stopping_ and drop their messages.
  resolver_.reset();
  stop_timer_ = reactor_.RunAfter(shared_->stop_grace, [this] {
    stop_timer_.reset();
    for (auto& [key, queue] : queues_) {
      const auto connections = queue->connections;
      for (DeliveryConnection* connection : connections) connection->Abort();
    }
  });
  MaybeFinishStop();
}

void DeliveryEngine::MaybeFinishStop() {
  if (!stopping_ || !stop_done_ || ops_in_flight_ > 0) return;
  for (const auto& [key, queue] : queues_) {
    if (!queue->connections.empty()) return;
  }
  if (stop_timer_.has_value()) reactor_.CancelTimer(*stop_timer_);
  stop_timer_.reset();
  std::exchange(stop_done_, nullptr)();
}

}  // namespace sluice::engine
