#include "engine/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "dns/dns_error.h"

namespace sluice::engine {

Scheduler::Scheduler(reactor::Reactor& reactor, const DeliveryShared& shared, PendingOps& ops,
                     Lookup lookup, RoutedSink routed, FailSink unroutable)
    : reactor_(reactor),
      shared_(shared),
      ops_(ops),
      lookup_(std::move(lookup)),
      routed_(std::move(routed)),
      unroutable_(std::move(unroutable)) {}

Scheduler::~Scheduler() { Stop(); }

int Scheduler::ShardForDomain(std::string_view domain, int shards) {
  return static_cast<int>(absl::HashOf(domain, 1) % static_cast<size_t>(shards));
}

int Scheduler::ShardForSite(std::string_view site_key, int shards) {
  return static_cast<int>(absl::HashOf(site_key, 2) % static_cast<size_t>(shards));
}

std::vector<std::vector<queue::ScheduledMessage>> Scheduler::ByDomainShard(
    std::vector<queue::ScheduledMessage> due, int shards) {
  std::vector<std::vector<queue::ScheduledMessage>> by_shard(static_cast<size_t>(shards));
  for (queue::ScheduledMessage& message : due) {
    by_shard[static_cast<size_t>(ShardForDomain(message.domain, shards))].push_back(
        std::move(message));
  }
  return by_shard;
}

void Scheduler::Add(std::vector<queue::ScheduledMessage> messages) {
  if (stopping_) return;
  for (queue::ScheduledMessage& message : messages) {
    // Inbound bounces are read by InboundReports; they are not delivered.
    if (!message.queue.empty()) continue;
    if (auto blocked = blocked_.find(message.id); blocked != blocked_.end()) {
      blocked->second = std::move(message);
      continue;
    }
    window_.Add(message);
  }
  SetGauge();
  ArmTimer();
}

void Scheduler::ArmTimer() {
  const std::optional<int64_t> next = window_.NextDue();
  if (!next.has_value() || stopping_) return;
  if (timer_.has_value()) {
    if (timer_due_ms_ <= *next) return;
    reactor_.CancelTimer(*timer_);
    timer_.reset();
  }
  timer_due_ms_ = *next;
  const absl::Duration wait =
      std::max(absl::ZeroDuration(), absl::FromUnixMillis(*next) - reactor_.clock().Now());
  timer_ = reactor_.RunAfter(wait, [this] {
    timer_.reset();
    OnTimer();
  });
}

void Scheduler::OnTimer() {
  if (stopping_) return;
  std::vector<queue::ScheduledMessage> due;
  window_.PopDue(absl::ToUnixMillis(reactor_.clock().Now()), shared_.max_routed_per_pass, &due);
  for (queue::ScheduledMessage& message : due) Route(std::move(message));
  SetGauge();
  if (due.size() == shared_.max_routed_per_pass) {
    // More is due: go on after the loop has served everything else.
    timer_due_ms_ = 0;
    timer_ = reactor_.RunAfter(absl::ZeroDuration(), [this] {
      timer_.reset();
      OnTimer();
    });
    return;
  }
  ArmTimer();
}

bool Scheduler::IsSuspended(const std::string& domain, const std::string& tenant,
                            const std::string& campaign) const {
  auto in = [this](SuspendScope scope, const std::string& name) {
    return !name.empty() && suspended_[static_cast<int>(scope)].contains(name);
  };
  return in(SuspendScope::kDomain, domain) || in(SuspendScope::kTenant, tenant) ||
         in(SuspendScope::kCampaign, campaign);
}

void Scheduler::Hold(queue::ScheduledMessage message) {
  if (stopping_) return;
  if (auto blocked = blocked_.find(message.id); blocked != blocked_.end()) {
    blocked->second = std::move(message);
    return;
  }
  // The spool keeps it due, so a restart hands it out again.
  const common::MessageId id = message.id;
  held_.insert_or_assign(id, std::move(message));
  SetGauge();
}

void Scheduler::SetSuspended(SuspendScope scope, const std::string& name, bool suspended) {
  if (scope == SuspendScope::kSite) return;
  if (suspended) {
    suspended_[static_cast<int>(scope)].insert(name);
    return;
  }
  suspended_[static_cast<int>(scope)].erase(name);
  // Route again whatever is held; what another suspension covers is held
  // again.
  std::vector<queue::ScheduledMessage> held;
  held.reserve(held_.size());
  for (auto& [id, message] : held_) held.push_back(std::move(message));
  held_.clear();
  for (queue::ScheduledMessage& message : held) Route(std::move(message));
  SetGauge();
}

void Scheduler::Block(const common::MessageId& id) {
  std::optional<queue::ScheduledMessage> parked = window_.Take(id);
  if (auto held = held_.find(id); held != held_.end()) {
    parked = std::move(held->second);
    held_.erase(held);
  }
  blocked_.insert_or_assign(id, std::move(parked));
  SetGauge();
}

void Scheduler::Unblock(const common::MessageId& id, bool finished) {
  auto blocked = blocked_.find(id);
  if (blocked == blocked_.end()) return;
  std::optional<queue::ScheduledMessage> parked = std::move(blocked->second);
  blocked_.erase(blocked);
  if (finished || !parked.has_value() || stopping_) return;
  std::vector<queue::ScheduledMessage> again;
  again.push_back(*std::move(parked));
  Add(std::move(again));
}

void Scheduler::SetGauge() {
  if (shared_.metrics.scheduled) {
    shared_.metrics.scheduled->Set(static_cast<int64_t>(scheduled()));
  }
}

void Scheduler::Stop() {
  stopping_ = true;
  if (timer_.has_value()) reactor_.CancelTimer(*timer_);
  timer_.reset();
}

void Scheduler::Route(queue::ScheduledMessage message) {
  if (IsSuspended(message.domain, message.tenant, message.campaign)) {
    Hold(std::move(message));
    return;
  }
  ops_.Begin();
  const std::string domain = message.domain;
  lookup_(domain, [this, message = std::move(message)](
                      absl::StatusOr<dns::Destination> destination) mutable {
    if (stopping_) {
      ops_.End();
      return;
    }
    if (auto blocked = blocked_.find(message.id); blocked != blocked_.end()) {
      // An operator's bounce began while the domain was resolved.
      blocked->second = std::move(message);
      ops_.End();
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
      unroutable_(message.id, reply);
      ops_.End();
      return;
    }
    Routed routed;
    routed.site_key = destination->site.key;
    routed.rule = shared_.policy->RuleFor(message.domain, destination->site);
    routed.pool = &shared_.policy->PoolFor(message.pool, message.tenant);
    routed.queue_key = absl::StrCat(routed.site_key, "|", routed.pool->name, "|", routed.rule);
    routed.destination = *std::move(destination);
    routed.message = {message.id, message.domain};
    const int owner = ShardForSite(routed.site_key, shared_.shards);
    routed_(owner, std::move(routed));
    ops_.End();
  });
}

}  // namespace sluice::engine
