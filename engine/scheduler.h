// Scheduler: the first two steps of delivery on one shard (DESIGN.md, "The
// life of a message"), for the domains this shard owns.
//
// 1. Scheduling: the spool's loader hands over envelopes due within its
//    window (Add); they wait in a ScheduleWindow until due, at most
//    `max_routed_per_pass` leaving it per loop pass so a backlog that comes
//    due at once does not stall the shard.
// 2. Routing: the domain's destination comes from `lookup` (the shard's
//    cached, single-flight resolver). A routed message goes to the shard
//    that owns its site (ShardForSite), into the ready queue of (site,
//    egress pool, rule): `routed` delivers it there. A domain that does not
//    resolve fails the message right here (`unroutable`): temporary DNS
//    errors defer it, NXDOMAIN and null MX bounce it.
//
// Suspensions of a domain, tenant or campaign hold the matching messages
// aside (the spool still has them due, so a restart hands them out again)
// until resumed; then they are routed again. Which shard owns what is
// decided here once: a domain by hash(domain), a site by hash(site key).
//
// An operator's bounce blocks an id (Block): it leaves the window and the
// holds, and is not routed while the bounce runs; Unblock puts it back if
// the bounce did not finish it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "common/message_id.h"
#include "dns/site.h"
#include "engine/delivery_control.h"
#include "engine/delivery_shared.h"
#include "engine/pending_ops.h"
#include "engine/routed.h"
#include "queue/schedule_window.h"
#include "queue/spool.h"
#include "reactor/reactor.h"
#include "smtp/reply_parser.h"

namespace sluice::engine {

class Scheduler {
 public:
  using Lookup = absl::AnyInvocable<void(
      std::string_view domain, absl::AnyInvocable<void(absl::StatusOr<dns::Destination>)> done)>;
  // `owner` is the shard of ShardForSite(routed.site_key).
  using RoutedSink = absl::AnyInvocable<void(int owner, Routed routed)>;
  using FailSink =
      absl::AnyInvocable<void(const common::MessageId& id, const smtp::ServerReply& reply)>;

  Scheduler(reactor::Reactor& reactor, const DeliveryShared& shared, PendingOps& ops, Lookup lookup,
            RoutedSink routed, FailSink unroutable);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  ~Scheduler();

  static int ShardForDomain(std::string_view domain, int shards);
  static int ShardForSite(std::string_view site_key, int shards);
  // The loader's batch split by ShardForDomain (index = shard).
  static std::vector<std::vector<queue::ScheduledMessage>> ByDomainShard(
      std::vector<queue::ScheduledMessage> due, int shards);

  // Messages of this shard's domains (inbound bounces, queue "bounces",
  // are read by InboundReports, not delivered, and are ignored here).
  void Add(std::vector<queue::ScheduledMessage> messages);

  // Domain, tenant and campaign scopes (sites are the pools' business).
  void SetSuspended(SuspendScope scope, const std::string& name, bool suspended);
  bool IsSuspended(const std::string& domain, const std::string& tenant,
                   const std::string& campaign) const;
  // Keeps a message of a suspended domain, tenant or campaign until resumed.
  void Hold(queue::ScheduledMessage message);

  void Block(const common::MessageId& id);
  // `finished`: the bounce took care of it, forget it.
  void Unblock(const common::MessageId& id, bool finished);

  // Nothing more is routed; lookups still in flight drop their messages.
  void Stop();

  size_t scheduled() const { return window_.size() + held_.size(); }
  size_t held() const { return held_.size(); }

 private:
  void ArmTimer();
  void OnTimer();
  void Route(queue::ScheduledMessage message);
  void SetGauge();

  reactor::Reactor& reactor_;
  const DeliveryShared& shared_;
  PendingOps& ops_;
  Lookup lookup_;
  RoutedSink routed_;
  FailSink unroutable_;
  bool stopping_ = false;

  queue::ScheduleWindow window_;
  std::optional<reactor::TimerId> timer_;
  int64_t timer_due_ms_ = 0;
  absl::flat_hash_set<std::string> suspended_[4];
  // Messages held by a suspension, by id (the loader may hand one out again).
  absl::flat_hash_map<common::MessageId, queue::ScheduledMessage> held_;
  // Ids an operator's bounce is working on, with the message if it came due
  // meanwhile (routed after all if the bounce does not finish it).
  absl::flat_hash_map<common::MessageId, std::optional<queue::ScheduledMessage>> blocked_;
};

}  // namespace sluice::engine
