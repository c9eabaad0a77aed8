#include "engine/site_queue.h"

#include <algorithm>
#include <utility>

namespace sluice::engine {

SiteQueue::SiteQueue(std::string key, const SiteLimits& limits, absl::Duration host_failure_backoff,
                     absl::Duration throttle_backoff)
    : key_(std::move(key)),
      limits_(limits),
      host_failure_backoff_(host_failure_backoff),
      throttle_backoff_(throttle_backoff),
      window_(std::clamp(limits.initial_connections, 1, limits.max_connections)) {
  // Bursts: a second's (minute's, hour's) worth may go back to back, as
  // long as the average holds.
  if (limits.messages_per_second > 0) {
    rates_.emplace_back(limits.messages_per_second, absl::Seconds(1), limits.messages_per_second);
  }
  if (limits.messages_per_minute > 0) {
    rates_.emplace_back(limits.messages_per_minute, absl::Minutes(1), 1);
  }
  if (limits.messages_per_hour > 0) {
    rates_.emplace_back(limits.messages_per_hour, absl::Hours(1), 1);
  }
}

std::optional<ReadyMessage> SiteQueue::Pop() {
  if (ready_.empty()) return std::nullopt;
  ReadyMessage message = std::move(ready_.front());
  ready_.pop_front();
  return message;
}

std::deque<ReadyMessage> SiteQueue::TakeAll() { return std::exchange(ready_, {}); }

absl::Duration SiteQueue::TakeRateToken(absl::Time now) {
  // Check every limit before taking from any, so a refused message costs
  // nothing: a Gcra copy answers "would it allow" without committing.
  absl::Duration wait = absl::ZeroDuration();
  for (const common::Gcra& rate : rates_) {
    common::Gcra probe = rate;
    wait = std::max(wait, probe.TryAcquire(now));
  }
  if (wait > absl::ZeroDuration()) return wait;
  for (common::Gcra& rate : rates_) rate.TryAcquire(now);
  return absl::ZeroDuration();
}

int SiteQueue::window() const {
  return std::min(static_cast<int>(window_), limits_.max_connections);
}

bool SiteQueue::MayConnect(absl::Time now) const {
  return !suspended_ && now >= paused_until_ && connections_ < window();
}

void SiteQueue::OnDelivered() {
  if (window_ < limits_.max_connections) window_ += 1.0 / window_;
}

void SiteQueue::OnThrottled(absl::Time now) {
  window_ = std::max(1.0, window_ / 2);
  paused_until_ = std::max(paused_until_, now + throttle_backoff_);
}

void SiteQueue::SetDestination(const dns::Destination& destination) {
  hosts_.clear();
  for (const dns::DestinationHost& host : destination.hosts) {
    if (host.addresses.empty()) continue;
    hosts_.push_back({host.host, host.addresses});
  }
}

std::optional<HostChoice> SiteQueue::ChooseHost(absl::Time now) const {
  for (const Host& host : hosts_) {
    for (const reactor::SocketAddress& address : host.addresses) {
      auto failed = failed_until_.find(address.ToString());
      if (failed != failed_until_.end() && now < failed->second) continue;
      return HostChoice{host.name, address};
    }
  }
  return std::nullopt;
}

void SiteQueue::MarkHostFailed(const reactor::SocketAddress& address, absl::Time now) {
  failed_until_[address.ToString()] = now + host_failure_backoff_;
}

void SiteQueue::MarkTlsFailed(const reactor::SocketAddress& address, absl::Time now) {
  tls_failed_until_[address.ToString()] = now + host_failure_backoff_;
}

bool SiteQueue::TlsFailedRecently(const reactor::SocketAddress& address, absl::Time now) const {
  auto failed = tls_failed_until_.find(address.ToString());
  return failed != tls_failed_until_.end() && now < failed->second;
}

}  // namespace sluice::engine
