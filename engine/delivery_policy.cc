#include "engine/delivery_policy.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sluice::engine {

absl::StatusOr<TlsMode> ParseTlsMode(std::string_view text) {
  if (text == "opportunistic") return TlsMode::kOpportunistic;
  if (text == "required") return TlsMode::kRequired;
  if (text == "verify") return TlsMode::kVerify;
  if (text == "disabled") return TlsMode::kDisabled;
  return absl::InvalidArgumentError(absl::StrCat("unknown tls mode '", std::string(text), "'"));
}

SiteLimits ToSiteLimits(const common::DeliveryLimits& c, TlsMode tls) {
  SiteLimits limits;
  limits.max_connections = c.max_connections;
  limits.initial_connections = std::min(c.initial_connections, c.max_connections);
  limits.max_messages_per_connection = c.max_messages_per_connection;
  limits.max_recipients_per_transaction = c.max_recipients_per_transaction;
  limits.messages_per_second = c.messages_per_second;
  limits.messages_per_minute = c.messages_per_minute;
  limits.messages_per_hour = c.messages_per_hour;
  limits.idle_timeout = c.idle_timeout;
  limits.connect_timeout = c.connect_timeout;
  limits.reply_timeout = c.reply_timeout;
  limits.data_timeout = c.data_timeout;
  limits.tls = tls;
  return limits;
}

absl::StatusOr<DeliveryPolicy> DeliveryPolicy::Create(const common::Config& config,
                                                      std::string helo_name) {
  DeliveryPolicy policy;
  const common::DeliveryConfig& delivery = config.delivery;
  SLUICE_ASSIGN_OR_RETURN(TlsMode tls, ParseTlsMode(delivery.limits.tls));
  policy.defaults_ = ToSiteLimits(delivery.limits, tls);
  for (const common::DeliveryRule& rule : delivery.rules) {
    if (rule.domains.empty() && rule.mx_hosts.empty()) {
      return absl::InvalidArgumentError("a [[delivery.rules]] entry needs domains or mx_hosts");
    }
    SLUICE_ASSIGN_OR_RETURN(TlsMode rule_tls, ParseTlsMode(rule.limits.tls));
    Rule& r = policy.rules_.emplace_back();
    for (const std::string& d : rule.domains) r.domains.push_back(absl::AsciiStrToLower(d));
    for (const std::string& h : rule.mx_hosts) r.mx_hosts.push_back(absl::AsciiStrToLower(h));
    r.limits = ToSiteLimits(rule.limits, rule_tls);
  }

  absl::flat_hash_map<std::string, EgressSourceSpec> sources;
  for (const common::EgressSource& source : config.egress_sources) {
    if (source.name.empty()) return absl::InvalidArgumentError("an egress source needs a name");
    EgressSourceSpec spec;
    spec.name = source.name;
    if (!source.address.empty()) {
      SLUICE_ASSIGN_OR_RETURN(reactor::SocketAddress address,
                              reactor::SocketAddress::FromHostPort(source.address, 0));
      spec.address = address;
    }
    spec.ehlo = source.ehlo.empty() ? helo_name : source.ehlo;
    spec.max_connections = source.max_connections;
    if (!sources.emplace(source.name, std::move(spec)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("egress source '", source.name, "' is defined twice"));
    }
  }
  // The default pool: the source named "default" if any, else the
  // kernel's choice of address with the delivery EHLO name.
  EgressPoolSpec& fallback = policy.pools_.emplace_back();
  fallback.name = "default";
  EgressSourceSpec& any_address = fallback.sources.emplace_back();
  any_address.ehlo = helo_name;
  policy.pool_by_name_["default"] = 0;
  bool default_defined = false;
  for (const common::EgressPool& pool : config.egress_pools) {
    if (pool.name.empty()) return absl::InvalidArgumentError("an egress pool needs a name");
    EgressPoolSpec spec;
    spec.name = pool.name;
    for (const std::string& name : pool.sources) {
      auto it = sources.find(name);
      if (it == sources.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("egress pool '", pool.name, "' names unknown source '", name, "'"));
      }
      spec.sources.push_back(it->second);
    }
    if (spec.sources.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("egress pool '", pool.name, "' is empty"));
    }
    size_t index;
    if (pool.name == "default") {
      if (default_defined) {
        return absl::InvalidArgumentError("egress pool 'default' is defined twice");
      }
      default_defined = true;
      index = 0;
      policy.pools_[0] = std::move(spec);
    } else {
      index = policy.pools_.size();
      if (!policy.pool_by_name_.emplace(pool.name, index).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("egress pool '", pool.name, "' is defined twice"));
      }
      policy.pools_.push_back(std::move(spec));
    }
    for (const std::string& tenant : pool.tenants) {
      if (!policy.pool_by_tenant_.emplace(tenant, index).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("tenant '", tenant, "' is listed in two egress pools"));
      }
    }
  }

  policy.retry_.initial = delivery.retry.initial;
  policy.retry_.multiplier = delivery.retry.multiplier;
  policy.retry_.max_interval = delivery.retry.max_interval;
  policy.retry_.max_age = delivery.retry.max_age;
  policy.retry_.jitter = delivery.retry.jitter;
  policy.host_failure_backoff_ = delivery.host_failure_backoff;
  policy.throttle_backoff_ = delivery.throttle_backoff;
  policy.delay_notice_after_ = delivery.delay_notice_after;
  return policy;
}

bool EgressSourceSpec::TryAcquire() const {
  const int before = open->fetch_add(1, std::memory_order_relaxed);
  if (max_connections == 0 || before < max_connections) return true;
  open->fetch_sub(1, std::memory_order_relaxed);
  return false;
}

bool DeliveryPolicy::Matches(const std::vector<std::string>& patterns, std::string_view name) {
  const absl::string_view n(name.data(), name.size());
  for (const std::string& pattern : patterns) {
    if (absl::StartsWith(pattern, "*.")) {
      // "*.example.com" covers every subdomain, not example.com itself.
      const absl::string_view suffix = absl::string_view(pattern).substr(1);
      if (n.size() > suffix.size() && absl::EndsWithIgnoreCase(n, suffix)) return true;
    } else if (absl::EqualsIgnoreCase(n, pattern)) {
      return true;
    }
  }
  return false;
}

int DeliveryPolicy::RuleFor(std::string_view domain, const dns::Site& site) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = rules_[i];
    if (Matches(rule.domains, domain)) return static_cast<int>(i);
    for (const dns::MxRecord& mx : site.mx) {
      if (Matches(rule.mx_hosts, mx.host)) return static_cast<int>(i);
    }
    for (const dns::HostPort& host : site.static_hosts) {
      if (Matches(rule.mx_hosts, host.host)) return static_cast<int>(i);
    }
  }
  return -1;
}

const EgressPoolSpec& DeliveryPolicy::PoolFor(std::string_view pool,
                                              std::string_view tenant) const {
  if (!pool.empty()) {
    auto it = pool_by_name_.find(absl::string_view(pool.data(), pool.size()));
    if (it != pool_by_name_.end()) return pools_[it->second];
  }
  if (!tenant.empty()) {
    auto it = pool_by_tenant_.find(absl::string_view(tenant.data(), tenant.size()));
    if (it != pool_by_tenant_.end()) {
      return pools_[it->second];
    }
  }
  return pools_[0];
}

}  // namespace sluice::engine
