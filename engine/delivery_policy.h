// DeliveryPolicy: the delivery settings of the configuration, resolved
// into what the engine asks per message: which limits apply to a domain
// and its mail exchangers ([delivery.limits] and [[delivery.rules]]), and
// which egress pool and sources a message leaves through ([[egress.*]]).
// Built once; read-only afterwards, so every shard may share it.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/config.h"
#include "dns/site.h"
#include "engine/retry_schedule.h"
#include "engine/site_limits.h"
#include "reactor/socket_address.h"

namespace sluice::engine {

struct EgressSourceSpec {
  std::string name;
  std::optional<reactor::SocketAddress> address;  // nullopt: the kernel's choice
  std::string ehlo;
  // Connections open at once from this source over every site and shard;
  // 0 = no limit. `open` counts them (shared by the shards, lock-free).
  int max_connections = 0;
  std::shared_ptr<std::atomic<int>> open = std::make_shared<std::atomic<int>>(0);

  // Takes a connection slot if the limit allows; Release() gives it back.
  bool TryAcquire() const;
  void Release() const { open->fetch_sub(1, std::memory_order_relaxed); }
};

struct EgressPoolSpec {
  std::string name;
  std::vector<EgressSourceSpec> sources;  // at least one
};

class DeliveryPolicy {
 public:
  // `helo_name` is the EHLO name of sources that set none.
  static absl::StatusOr<DeliveryPolicy> Create(const common::Config& config, std::string helo_name);

  // The rule for a message to `domain` whose site is `site`: the index of
  // the first [[delivery.rules]] entry matching the domain or one of the MX
  // hosts, or -1 for [delivery.limits].
  int RuleFor(std::string_view domain, const dns::Site& site) const;
  const SiteLimits& Limits(int rule) const { return rule < 0 ? defaults_ : rules_[rule].limits; }

  // The pool for a message that asked for `pool` (may be "") from `tenant`:
  // the named pool if it exists, else the tenant's pool, else "default".
  const EgressPoolSpec& PoolFor(std::string_view pool, std::string_view tenant) const;

  const RetryPolicy& retry() const { return retry_; }
  absl::Duration host_failure_backoff() const { return host_failure_backoff_; }
  absl::Duration throttle_backoff() const { return throttle_backoff_; }
  absl::Duration delay_notice_after() const { return delay_notice_after_; }

 private:
  struct Rule {
    std::vector<std::string> domains;
    std::vector<std::string> mx_hosts;
    SiteLimits limits;
  };

  static bool Matches(const std::vector<std::string>& patterns, std::string_view name);

  SiteLimits defaults_;
  std::vector<Rule> rules_;
  std::vector<EgressPoolSpec> pools_;  // pools_[0] is "default"
  absl::flat_hash_map<std::string, size_t> pool_by_name_;
  absl::flat_hash_map<std::string, size_t> pool_by_tenant_;
  RetryPolicy retry_;
  absl::Duration host_failure_backoff_;
  absl::Duration throttle_backoff_;
  absl::Duration delay_notice_after_;
};

// "opportunistic", "required", "verify", "disabled".
absl::StatusOr<TlsMode> ParseTlsMode(std::string_view text);
SiteLimits ToSiteLimits(const common::DeliveryLimits& limits, TlsMode tls);

}  // namespace sluice::engine
