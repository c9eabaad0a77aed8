#include "engine/site_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "mail/throttle_reply.h"
#include "queue/spool_keys.h"

namespace sluice::engine {
namespace {

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

std::string Remote(const OutboundConnection& connection) {
  return absl::StrCat(connection.host().host, "[", connection.host().address.HostString(), "]");
}

}  // namespace

SitePool::SitePool(reactor::Reactor& reactor, const DeliveryShared& shared, PendingOps& ops,
                   Delegate& delegate, common::LogLimiter& log_limit, const Routed& first)
    : reactor_(reactor),
      shared_(shared),
      ops_(ops),
      delegate_(delegate),
      site_(first.queue_key, shared.policy->Limits(first.rule),
            shared.policy->host_failure_backoff(), shared.policy->throttle_backoff()),
      site_key_(first.site_key),
      pool_(first.pool),
      log_limit_(log_limit) {}

SitePool::~SitePool() {
  if (timer_.has_value()) reactor_.CancelTimer(*timer_);
  for (auto& [connection, timer] : idle_) reactor_.CancelTimer(timer);
}

void SitePool::Add(Routed routed) {
  // The hosts change rarely; rebuilding them per message would be most of
  // the routing cost on this shard.
  const absl::Time now = reactor_.clock().Now();
  if (now - destination_at_ >= kDestinationRefresh) {
    site_.SetDestination(routed.destination);
    destination_at_ = now;
  }
  site_.Push(std::move(routed.message));
  if (shared_.metrics.ready) shared_.metrics.ready->Add(1);
  Dispatch();
}

void SitePool::SetSuspended(bool suspended) {
  site_.set_suspended(suspended);
  if (!suspended) Dispatch();
}

bool SitePool::Withdraw(const common::MessageId& id) {
  if (out_.contains(id)) return false;
  withdrawn_.insert(id);
  return true;
}

size_t SitePool::Ready() const {
  // Withdrawn messages wait in the queue until their turn, uncounted.
  return site_.ready() - std::min(site_.ready(), withdrawn_.size());
}

void SitePool::Release(const common::MessageId& id) {
  out_.erase(id);
  delegate_.OnReleased(id);
}

void SitePool::Dispatch() {
  if (stopping_ || site_.suspended()) return;
  const absl::Time now = reactor_.clock().Now();
  // Connections that wait for work come first.
  while (Ready() > 0 && !idle_.empty()) {
    auto idle = idle_.begin();
    OutboundConnection* connection = idle->first;
    reactor_.CancelTimer(idle->second);
    idle_.erase(idle);
    GiveJob(*connection);
    if (idle_.contains(connection)) break;  // held back by the rate limit
  }
  // Then new connections, one per message nobody will pick up soon.
  while (Ready() > fresh_.size() + reserved_.size() && site_.MayConnect(now)) {
    std::optional<HostChoice> host = site_.ChooseHost(now);
    if (!host.has_value()) {
      if (connections_.empty()) {
        DeferReady(smtp::ServerReply::Local(
            451, "4.4.1",
            absl::StrCat("no mail exchanger reachable: ",
                         site_.last_error().empty() ? "all hosts failing" : site_.last_error())));
      }
      return;
    }
    if (!OpenConnection(*host)) {
      // Every source of the pool is at its limit (other sites hold its
      // connections): look again shortly.
      ArmTimer(now + kSourceRetry);
      return;
    }
  }
  if (Ready() > 0 && connections_.empty() && site_.paused_until() > now) {
    ArmTimer(site_.paused_until());
  }
}

void SitePool::ArmTimer(absl::Time when) {
  if (timer_.has_value()) {
    if (timer_at_ <= when) return;
    reactor_.CancelTimer(*timer_);
  }
  timer_at_ = when;
  timer_ = reactor_.RunAfter(std::max(absl::ZeroDuration(), when - reactor_.clock().Now()), [this] {
    timer_.reset();
    timer_at_ = absl::InfiniteFuture();
    Dispatch();
  });
}

bool SitePool::OpenConnection(const HostChoice& host) {
  const absl::Time now = reactor_.clock().Now();
  const SiteLimits& limits = site_.limits();
  // Round robin over the pool's sources, skipping those at their limit.
  const EgressSourceSpec* chosen = nullptr;
  for (size_t tried = 0; tried < pool_->sources.size() && chosen == nullptr; ++tried) {
    const EgressSourceSpec& candidate = pool_->sources[next_source_++ % pool_->sources.size()];
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
      tls = site_.TlsFailedRecently(host.address, now) ? smtp::TlsPolicy::kNever
                                                       : smtp::TlsPolicy::kOpportunistic;
      break;
    case TlsMode::kRequired:
    case TlsMode::kVerify:
      tls = smtp::TlsPolicy::kRequire;
      break;
  }
  OutboundConnection::Params params;
  params.host = host;
  params.source = source.address;
  params.session = SessionOptions(limits, source.ehlo, tls);
  params.tls = shared_.tls;
  params.verify_certificate = limits.tls == TlsMode::kVerify;
  params.connect_timeout = limits.connect_timeout;
  params.max_recipients = static_cast<size_t>(limits.max_recipients_per_transaction);
  params.tls_sessions = shared_.metrics.tls_connections;
  OutboundConnection* connection = shared_.connect(reactor_, std::move(params), this);
  connections_.insert(connection);
  sources_[connection] = &source;
  fresh_.insert(connection);
  site_.ConnectionOpened();
  if (shared_.metrics.connections) shared_.metrics.connections->Add(1);
  if (shared_.metrics.open_connections) shared_.metrics.open_connections->Add(1);
  return true;
}

void SitePool::WaitIdle(OutboundConnection& connection) {
  idle_[&connection] = reactor_.RunAfter(site_.limits().idle_timeout, [this, c = &connection] {
    idle_.erase(c);
    c->Quit();
  });
}

void SitePool::GiveJob(OutboundConnection& connection) {
  const absl::Time now = reactor_.clock().Now();
  if (const absl::Duration wait = site_.TakeRateToken(now); wait > absl::ZeroDuration()) {
    WaitIdle(connection);
    ArmTimer(now + wait);
    return;
  }
  std::optional<ReadyMessage> message;
  while ((message = site_.Pop()).has_value()) {
    if (shared_.metrics.ready) shared_.metrics.ready->Add(-1);
    if (withdrawn_.erase(message->id) == 0) break;
  }
  if (!message.has_value()) {
    WaitIdle(connection);
    return;
  }
  reserved_.insert(&connection);
  out_.insert(message->id);
  ops_.Begin();
  const common::MessageId id = message->id;
  shared_.spool->Read(id, [this, c = &connection, message = *std::move(message)](
                              absl::StatusOr<queue::StoredMessage> stored) mutable {
    OnRead(c, std::move(message), std::move(stored));
    ops_.End();
  });
}

void SitePool::OnRead(OutboundConnection* c, ReadyMessage message,
                      absl::StatusOr<queue::StoredMessage> stored) {
  const bool alive = reserved_.erase(c) > 0 && connections_.contains(c);
  if (stopping_) {
    Release(message.id);
    if (alive) c->Quit();
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
  } else if (!delegate_.MaySend(message.id) ||
             delegate_.HoldIfSuspended(message.id, stored->envelope)) {
    // An operator's bounce wants it, or a suspension holds it.
  } else {
    job.emplace();
    job->attempted = UnfinishedRecipients(stored->envelope);
    job->envelope = std::move(stored->envelope);
    job->envelope.set_site(site_key_);  // for operators' filters
    job->body = std::make_shared<const std::string>(std::move(stored->body));
    job->needs_8bit = HasEightBit(*job->body);
    job->started = reactor_.clock().Now();
    if (shared_.verp != nullptr) {
      UseVerp(*job, *shared_.verp,
              VerpDomainFor(job->envelope, shared_.verp_domain_by_tenant,
                            shared_.verp_domain_by_pool, shared_.verp_domain));
    }
    if (job->attempted.empty()) {
      ops_.Begin();
      shared_.spool->Remove(message.id, [this](absl::Status) { ops_.End(); });
      job.reset();
    }
  }
  if (!job.has_value()) {
    Release(message.id);
    if (alive) OnIdle(*c);
  } else if (!alive) {
    // The connection went away while the message was read: next one.
    out_.erase(message.id);
    site_.PushFront(std::move(message));
    if (shared_.metrics.ready) shared_.metrics.ready->Add(1);
    Dispatch();
  } else {
    ++in_flight_;
    c->Send(*std::move(job));
  }
}

void SitePool::OnIdle(OutboundConnection& connection) {
  fresh_.erase(&connection);
  if (stopping_ || site_.suspended() ||
      connection.jobs_done() >= static_cast<size_t>(site_.limits().max_messages_per_connection)) {
    connection.Quit();
    return;
  }
  if (Ready() > 0) {
    GiveJob(connection);
    return;
  }
  WaitIdle(connection);
}

void SitePool::OnJobDone(OutboundConnection& connection, DeliveryJob job,
                         smtp::DeliveryResult result) {
  const absl::Time now = reactor_.clock().Now();
  --in_flight_;
  bool any_final = false;
  bool throttled = mail::IsThrottleReply(result.final_reply);
  for (const smtp::RecipientResult& recipient : result.recipients) {
    if (recipient.status == smtp::RecipientStatus::kDelivered) {
      site_.OnDelivered();
      delivered_.Add(now);
    }
    any_final = any_final || recipient.status != smtp::RecipientStatus::kTemporaryFailure;
    throttled = throttled || mail::IsThrottleReply(recipient.reply);
  }
  // Once per transaction: its recipients usually all carry the same reply.
  if (throttled) {
    site_.OnThrottled(now);
    if (shared_.metrics.throttled) shared_.metrics.throttled->Add(1);
  }
  const common::MessageId id = queue::ParseIdKey(job.envelope.id()).value_or(common::MessageId());
  if (stopping_ && !any_final) {
    // Cut short by the stop: the spool still has it due, unchanged.
    Release(id);
    return;
  }
  AttemptInfo info;
  info.now = now;
  info.site = site_key_;
  info.remote_host = connection.host().host;
  info.remote_ip = connection.host().address.HostString();
  info.tls_version = connection.tls_version();
  info.tls_cipher = connection.tls_cipher();
  info.connect_time = connection.connect_time();
  info.tls_time = connection.tls_time();
  info.transaction_time = now - job.started;
  info.remote_offers_dsn = connection.peer_offers_dsn();
  info.reporting_mta = shared_.reporting_mta;
  info.classifier = shared_.classifier;
  out_.erase(id);
  delegate_.OnAttempt(*this, std::move(job), std::move(result), std::move(info));
}

void SitePool::OnConnectionClosed(OutboundConnection& connection) {
  const absl::Time now = reactor_.clock().Now();
  const bool was_fresh = fresh_.erase(&connection) > 0;
  connections_.erase(&connection);
  reserved_.erase(&connection);
  if (auto source = sources_.find(&connection); source != sources_.end()) {
    source->second->Release();
    sources_.erase(source);
  }
  if (auto idle = idle_.find(&connection); idle != idle_.end()) {
    reactor_.CancelTimer(idle->second);
    idle_.erase(idle);
  }
  site_.ConnectionClosed();
  if (shared_.metrics.open_connections) shared_.metrics.open_connections->Add(-1);
  if (const std::optional<smtp::ClientFailure>& failure = connection.failure();
      failure.has_value() && !stopping_) {
    if (shared_.metrics.connection_failures) shared_.metrics.connection_failures->Add(1);
    site_.set_last_error(absl::StrCat(Remote(connection), ": ", failure->reply.ToString()));
    std::string_view next = "retry later";
    if (mail::IsThrottleReply(failure->reply)) {
      site_.OnThrottled(now);
      next = "throttled: fewer connections";
    } else if (was_fresh) {
      // Never got as far as a message: try the next address or MX.
      if (connection.tls_failed() && site_.limits().tls == TlsMode::kOpportunistic) {
        site_.MarkTlsFailed(connection.host().address, now);
        next = "this host without TLS next time";
      } else {
        site_.MarkHostFailed(connection.host().address, now);
        next = "next MX address";
      }
    }
    if (log_limit_.Allow(now, "delivery connection failures")) {
      SLUICE_LOG(kWarning, "delivery connection failed")
          .Field("site", site_key_)
          .Field("remote", Remote(connection))
          .Field("reply", failure->reply.ToString())
          .Field("next", next);
    }
  }
  if (stopping_) {
    delegate_.OnConnectionGone(*this);
    return;
  }
  Dispatch();
}

void SitePool::DeferReady(const smtp::ServerReply& reply) {
  for (ReadyMessage& message : site_.TakeAll()) {
    if (shared_.metrics.ready) shared_.metrics.ready->Add(-1);
    if (withdrawn_.erase(message.id) > 0) continue;
    delegate_.OnUnsent(*this, message.id, reply);
  }
}

void SitePool::Stop() {
  stopping_ = true;
  if (timer_.has_value()) reactor_.CancelTimer(*timer_);
  timer_.reset();
  // Idle connections QUIT now; busy ones after their message.
  auto idle = std::move(idle_);
  idle_.clear();
  for (auto& [connection, timer] : idle) {
    reactor_.CancelTimer(timer);
    connection->Quit();
  }
}

void SitePool::AbortAll() {
  const auto connections = connections_;
  for (OutboundConnection* connection : connections) connection->Abort();
}

QueueSnapshot SitePool::Snapshot(absl::Time now) const {
  QueueSnapshot s;
  s.key = site_.key();
  s.site = site_key_;
  s.pool = pool_->name;
  s.ready = Ready();
  s.in_flight = in_flight_;
  s.delivered_per_minute = delivered_.PerMinute(now);
  s.connections = site_.connections();
  s.window = site_.window();
  s.suspended = site_.suspended();
  s.last_error = site_.last_error();
  return s;
}

}  // namespace sluice::engine
