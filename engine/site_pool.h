// SitePool: delivery to one outbound queue, a site reached through one
// egress pool under one rule, on the shard that owns the site. It holds the
// queue's shaping state (SiteQueue: ready messages, window, rate, failing
// hosts) and its connections, and decides who gets the next message:
//
//   - idle connections first; then one new connection per ready message
//     nobody will pick up soon, within the window, the maximum, the rate
//     and the throttle pause, from the pool's egress sources in turn;
//   - a connection that fails before its first message marks its address
//     failing, so the next one fails over to the next address or MX (after
//     a failed STARTTLS, opportunistic TLS tries that host in plain text);
//   - a throttling reply (mail::IsThrottleReply) halves the window and
//     pauses new connections;
//   - with every host failing and nothing connected, the ready messages are
//     deferred (Delegate::OnUnsent).
//
// Each message is read from the spool with its body just before it goes
// out; a message rescheduled, suspended or purged meanwhile does not go.
// Connections come from DeliveryShared::connect, so tests drive the pool
// with fakes. Results go to the Delegate (the engine), which records them.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "common/log_limiter.h"
#include "common/message_id.h"
#include "engine/attempt_outcome.h"
#include "engine/delivery_control.h"
#include "engine/delivery_job.h"
#include "engine/delivery_policy.h"
#include "engine/delivery_shared.h"
#include "engine/outbound_connection.h"
#include "engine/pending_ops.h"
#include "engine/rate_meter.h"
#include "engine/routed.h"
#include "engine/site_queue.h"
#include "reactor/reactor.h"

namespace sluice::engine {

class SitePool final : public OutboundConnection::Owner {
 public:
  class Delegate {
   public:
    virtual ~Delegate() = default;
    // A connection finished an attempt of `job`.
    virtual void OnAttempt(SitePool& pool, DeliveryJob job, smtp::DeliveryResult result,
                           AttemptInfo info) = 0;
    // A ready message cannot go out (no host reachable): fail it with `reply`.
    virtual void OnUnsent(SitePool& pool, const common::MessageId& id,
                          const smtp::ServerReply& reply) = 0;
    // The message left the pool without an attempt; the spool has it as
    // before (or not at all).
    virtual void OnReleased(const common::MessageId& id) = 0;
    // Read and about to go: false keeps it back (OnReleased follows).
    virtual bool MaySend(const common::MessageId& id) = 0;
    // Read and about to go: true if a suspension of its domain, tenant or
    // campaign holds it (the delegate keeps it; OnReleased follows).
    virtual bool HoldIfSuspended(const common::MessageId& id, const queue::Envelope& envelope) = 0;
    // A connection closed while stopping.
    virtual void OnConnectionGone(SitePool& pool) = 0;
  };

  SitePool(reactor::Reactor& reactor, const DeliveryShared& shared, PendingOps& ops,
           Delegate& delegate, common::LogLimiter& log_limit, const Routed& first);
  ~SitePool() override;
  SitePool(const SitePool&) = delete;
  SitePool& operator=(const SitePool&) = delete;

  const std::string& key() const { return site_.key(); }
  const std::string& site_key() const { return site_key_; }

  // A routed message joins the ready queue (its destination refreshes the
  // hosts now and then) and dispatching runs.
  void Add(Routed routed);
  void SetSuspended(bool suspended);
  // Takes `id` out of the ready queue if it is waiting there (true); false
  // if it is on its way (being read or on a connection) or not here.
  bool Withdraw(const common::MessageId& id);

  // Stopping: idle connections QUIT now, busy ones after their message.
  void Stop();
  // The stop grace is over: every connection closes now.
  void AbortAll();
  bool has_connections() const { return !connections_.empty(); }

  QueueSnapshot Snapshot(absl::Time now) const;

  // OutboundConnection::Owner.
  void OnIdle(OutboundConnection& connection) override;
  void OnJobDone(OutboundConnection& connection, DeliveryJob job,
                 smtp::DeliveryResult result) override;
  void OnConnectionClosed(OutboundConnection& connection) override;

 private:
  void Dispatch();
  size_t Ready() const;
  // False when every source of the pool is at its limit.
  bool OpenConnection(const HostChoice& host);
  void GiveJob(OutboundConnection& connection);
  void OnRead(OutboundConnection* connection, ReadyMessage message,
              absl::StatusOr<queue::StoredMessage> stored);
  void WaitIdle(OutboundConnection& connection);
  // Defers everything ready with `reply` (no host reachable).
  void DeferReady(const smtp::ServerReply& reply);
  void ArmTimer(absl::Time when);
  void Release(const common::MessageId& id);

  reactor::Reactor& reactor_;
  const DeliveryShared& shared_;
  PendingOps& ops_;
  Delegate& delegate_;
  SiteQueue site_;
  const std::string site_key_;
  const EgressPoolSpec* const pool_;
  size_t next_source_ = 0;
  bool stopping_ = false;
  common::LogLimiter& log_limit_;

  absl::flat_hash_set<OutboundConnection*> connections_;
  // Opened and not yet ready for their first message.
  absl::flat_hash_set<OutboundConnection*> fresh_;
  // Waiting for a message, with the timer that QUITs them.
  absl::flat_hash_map<OutboundConnection*, reactor::TimerId> idle_;
  // A message is being read from the spool for them.
  absl::flat_hash_set<OutboundConnection*> reserved_;
  // The egress source each connection holds a slot of.
  absl::flat_hash_map<OutboundConnection*, const EgressSourceSpec*> sources_;
  // Messages taken from the ready queue and not yet settled.
  absl::flat_hash_set<common::MessageId> out_;
  // Withdrawn from the ready queue: skipped when their turn comes.
  absl::flat_hash_set<common::MessageId> withdrawn_;
  std::optional<reactor::TimerId> timer_;
  absl::Time timer_at_ = absl::InfiniteFuture();
  // When the destination's hosts were last taken from a routed message.
  absl::Time destination_at_ = absl::InfinitePast();
  // Messages handed to a connection and not yet done.
  size_t in_flight_ = 0;
  // Recipients delivered, for the rate operators see.
  RateMeter delivered_;
};

}  // namespace sluice::engine
