// DeliveryEngine: outbound delivery on one shard (DESIGN.md, "The life of
// a message"). One instance per shard; together they move every envelope
// the spool hands out from due to delivered, deferred or bounced.
//
// 1. Scheduling, on the shard of hash(domain): the spool's loader hands
//    envelopes due within its window to AddScheduled(); they wait in a
//    ScheduleWindow until due.
// 2. Routing, same shard: the domain's destination comes from the shard's
//    Resolver (cached, single-flight). The message goes to the shard that
//    owns its site (hash(site key)), into the ready queue of (site, egress
//    pool, rule). A domain that does not resolve defers (temporary DNS
//    errors) or bounces (NXDOMAIN, null MX) the message right there.
// 3. Delivery, on the site's owner: each SiteQueue opens connections within
//    its limits (window, maximum, rate, paused after throttling), fails
//    over between MX hosts, and hands each idle connection the next
//    message, read from the spool with its body just before it goes out.
// 4. Results: ApplyAttempt (attempt_outcome.h) turns a connection's result
//    into the envelope's next state, DSNs and events; the spool gets the
//    update (or the removal) and the DSNs; the event log gets the events.
//
// Stop() closes idle connections, lets busy ones finish the message in
// progress (at most `stop_grace`), waits for its spool calls to come back,
// then calls `done`. Nothing is lost on stop or crash: a message whose
// result was not yet written is still due in the spool and goes again.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "common/bounded_labels.h"
#include "common/log_limiter.h"
#include "common/message_id.h"
#include "common/metrics.h"
#include "dns/dns_config.h"
#include "dns/resolver.h"
#include "engine/attempt_outcome.h"
#include "engine/delivery_connection.h"
#include "engine/delivery_policy.h"
#include "engine/event_log.h"
#include "engine/rate_meter.h"
#include "engine/retry_schedule.h"
#include "engine/site_queue.h"
#include "queue/schedule_window.h"
#include "queue/spool.h"
#include "reactor/reactor.h"
#include "tls/client_context.h"

namespace sluice::engine {

class DeliveryEngine;

struct DeliveryMetrics {
  common::Counter* delivered = nullptr;  // recipients
  common::Counter* deferred = nullptr;
  common::Counter* bounced = nullptr;
  common::Counter* expired = nullptr;
  common::Counter* dsns = nullptr;
  common::Counter* connections = nullptr;
  common::Counter* connection_failures = nullptr;
  common::Counter* tls_connections = nullptr;
  common::Counter* throttled = nullptr;
  common::Gauge* scheduled = nullptr;  // in the shards' schedule windows
  common::Gauge* ready = nullptr;      // in ready queues
  common::Gauge* open_connections = nullptr;
  // The same four results by site and by tenant, bounded (column order:
  // delivered, deferred, bounced, expired). A recipient that failed before
  // it had a site (DNS) counts under site "none".
  common::BoundedLabels* by_site = nullptr;
  common::BoundedLabels* by_tenant = nullptr;
  dns::ResolverMetrics dns;  // every shard's resolver
};

// What every shard's engine shares; read-only once the engines run.
struct DeliveryShared {
  queue::Spool* spool = nullptr;
  const DeliveryPolicy* policy = nullptr;
  dns::DnsConfig dns;
  std::shared_ptr<tls::ClientContext> tls;
  EventLog* events = nullptr;  // may be null
  DeliveryMetrics metrics;
  std::string reporting_mta;  // our host name, in DSNs
  int shards = 1;
  // Runs `task` with shard `shard`'s engine on that shard (dropped if the
  // engine is gone).
  std::function<void(int shard, absl::AnyInvocable<void(DeliveryEngine&)> task)> post;
  absl::Duration stop_grace = absl::Seconds(5);
  // Routing: at most this many messages leave the schedule window per
  // pass, so a backlog that comes due at once does not stall the shard.
  size_t max_routed_per_pass = 2000;
};

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

enum class SuspendScope { kSite, kDomain, kTenant, kCampaign };

class DeliveryEngine {
 public:
  static absl::StatusOr<std::unique_ptr<DeliveryEngine>> Create(reactor::Reactor& reactor,
                                                                int shard,
                                                                const DeliveryShared* shared);
  ~DeliveryEngine();
  DeliveryEngine(const DeliveryEngine&) = delete;
  DeliveryEngine& operator=(const DeliveryEngine&) = delete;

  // The shard that schedules and routes `domain`, and the one that owns
  // `site_key`.
  static int ShardForDomain(std::string_view domain, int shards);
  static int ShardForSite(std::string_view site_key, int shards);

  // From the spool's loader, on ShardForDomain(domain) of each message.
  void AddScheduled(std::vector<queue::ScheduledMessage> messages);

  // Stops dispatching for a site, domain, tenant or campaign (on every
  // shard: the caller broadcasts), or starts it again. A site's queue simply
  // stops opening connections; mail of a suspended domain, tenant or campaign
  // is held aside on this shard (also when it was already waiting in a site
  // queue: it is checked again once its envelope is read) and routed again
  // on resume. Suspensions last until resumed or until the process stops.
  void SetSuspended(SuspendScope scope, const std::string& name, bool suspended);
  std::vector<QueueSnapshot> Snapshot() const;
  // Bounces the unfinished recipients of `id` now with `reason` (DSNs and
  // events as usual); done(false) if it is gone or cannot be read.
  void BounceNow(const common::MessageId& id, const smtp::ServerReply& reason,
                 absl::AnyInvocable<void(bool)> done);

  void Stop(absl::AnyInvocable<void()> done);

 private:
  struct Queue;
  struct Routed;
  class ConnectionOwner;

  DeliveryEngine(reactor::Reactor& reactor, int shard, const DeliveryShared* shared);

  // Scheduling and routing (domain shard).
  void ArmScheduleTimer();
  void OnScheduleTimer();
  void Route(queue::ScheduledMessage message);
  // On the site's owner.
  void AddReady(Routed routed);

  // Delivery (site owner).
  void Dispatch(Queue& queue);
  // False when every source of the queue's pool is at its limit.
  bool OpenConnection(Queue& queue, const HostChoice& host);
  void GiveJob(Queue& queue, DeliveryConnection& connection);
  void OnIdle(Queue& queue, DeliveryConnection& connection);
  void OnJobDone(Queue& queue, DeliveryConnection& connection, DeliveryJob job,
                 smtp::DeliveryResult result);
  void OnConnectionClosed(Queue& queue, DeliveryConnection& connection);
  // Defers everything ready in `queue` with `reply` (no host reachable).
  void DeferReady(Queue& queue, const smtp::ServerReply& reply);
  void ArmQueueTimer(Queue& queue, absl::Time when);

  // Results.
  // Reads `id` and fails its unfinished recipients with `reply` (temporary
  // or permanent by its code) without a connection.
  void FailWithoutConnection(const common::MessageId& id, const smtp::ServerReply& reply,
                             const std::string& site);
  void Record(const DeliveryJob& job, const smtp::DeliveryResult& result, const AttemptInfo& info);
  void Commit(AttemptOutcome outcome);
  void CountEvents(const std::vector<DeliveryEvent>& events);
  // One log line per deferral, bounce, expiry and DSN (rate-limited);
  // deliveries only at debug.
  void LogEvents(const std::vector<DeliveryEvent>& events);
  bool IsSuspended(const std::string& domain, const std::string& tenant,
                   const std::string& campaign) const;
  // Keeps a message of a suspended domain, tenant or campaign until resumed.
  void Hold(queue::ScheduledMessage message);
  void SetScheduledGauge();

  // Spool calls in flight: Stop waits for them.
  void BeginOp() { ++ops_in_flight_; }
  void EndOp();
  void MaybeFinishStop();

  reactor::Reactor& reactor_;
  const int shard_;
  const DeliveryShared* const shared_;
  std::unique_ptr<dns::Resolver> resolver_;
  DsnPolicy dsn_policy_;
  absl::BitGen random_;
  common::MessageIdGenerator ids_;
  common::LogLimiter log_limit_{/*per_second=*/50, /*burst=*/200};

  queue::ScheduleWindow window_;
  std::optional<reactor::TimerId> schedule_timer_;
  int64_t schedule_timer_due_ms_ = 0;

  absl::flat_hash_map<std::string, std::unique_ptr<Queue>> queues_;
  // Ids routed to this shard and not yet finished: a second hand-out of
  // the same id (the loader's after a restart of the window) is dropped.
  absl::flat_hash_set<common::MessageId> in_flight_;
  absl::flat_hash_set<std::string> suspended_[4];
  // Messages held by a suspension, by id (the loader may hand one out again).
  absl::flat_hash_map<common::MessageId, queue::ScheduledMessage> held_;

  uint64_t ops_in_flight_ = 0;
  bool stopping_ = false;
  absl::AnyInvocable<void()> stop_done_;
  std::optional<reactor::TimerId> stop_timer_;
};

}  // namespace sluice::engine
