// DeliveryShared: what every shard's delivery components share (the spool,
// the policy, TLS, the event log, metrics, how to reach another shard).
// Plain data, read-only once the engines run.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "common/bounded_labels.h"
#include "common/metrics.h"
#include "dns/dns_config.h"
#include "dns/resolver.h"
#include "engine/delivery_policy.h"
#include "engine/event_log.h"
#include "engine/outbound_connection.h"
#include "engine/suppression_feed.h"
#include "mail/bounce_classifier.h"
#include "mail/verp.h"
#include "queue/spool.h"
#include "reactor/reactor.h"
#include "tls/client_context.h"

namespace sluice::engine {

class DeliveryEngine;

// Any pointer may be null.
inline constexpr size_t kBounceCategories = static_cast<size_t>(mail::BounceCategory::kOther) + 1;

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
  // Failed recipients by result (deferred, bounced, expired) and category
  // (mail::BounceCategory order); entries may be null.
  std::array<std::array<common::Counter*, kBounceCategories>, 3> failures{};
  // Messages that came back to the bounce domains, by mail::BounceReportKind
  // (delivery-status, feedback, plain-bounce, auto-reply, unknown), and the
  // recipients their DSNs report failed or delayed, by category.
  std::array<common::Counter*, 5> inbound_reports{};
  std::array<common::Counter*, kBounceCategories> async_bounces{};
  // Bounces (synchronous 5xx and DSNs reporting a failure) by category
  // (columns in mail::BounceCategory order) and site or tenant, and
  // complaints by feedback type (columns: kFeedbackTypes of
  // engine/inbound_reports.h) and site or tenant: the complaint rate of a
  // site is its complaints over its delivered recipients (by_site).
  common::BoundedLabels* bounces_by_site = nullptr;
  common::BoundedLabels* bounces_by_tenant = nullptr;
  common::BoundedLabels* complaints_by_site = nullptr;
  common::BoundedLabels* complaints_by_tenant = nullptr;
  dns::ResolverMetrics dns;  // every shard's resolver
};

// Opens an outbound connection; the owner hears from it on `reactor`.
using ConnectFunction =
    std::function<OutboundConnection*(reactor::Reactor& reactor, OutboundConnection::Params params,
                                      OutboundConnection::Owner* owner)>;

struct DeliveryShared {
  queue::Spool* spool = nullptr;
  const DeliveryPolicy* policy = nullptr;
  dns::DnsConfig dns;
  std::shared_ptr<tls::ClientContext> tls;
  EventLog* events = nullptr;  // may be null
  DeliveryMetrics metrics;
  std::string reporting_mta;  // our host name, in DSNs
  // What failures mean ([bounces] rules_file before the shipped rules);
  // null: the shipped rules alone.
  const mail::BounceClassifier* classifier = nullptr;
  // VERP ([bounces] verp_domain): outbound mail goes out from
  // b-<id>-<recipient>-<mac>@verp_domain, one recipient per transaction;
  // null: from the envelope's sender.
  const mail::Verp* verp = nullptr;
  std::string verp_domain;
  // [[bounces.verp_domains]]: the bounce domains of some tenants' and
  // pools' mail instead of verp_domain, and whose each tenant domain is.
  absl::flat_hash_map<std::string, std::string> verp_domain_by_tenant;
  absl::flat_hash_map<std::string, std::string> verp_domain_by_pool;
  absl::flat_hash_map<std::string, std::string> verp_tenant_by_domain;
  // What hard bounces and complaints add to the suppression list
  // ([suppression]); its list null: nothing.
  SuppressionFeedOptions suppression;
  int shards = 1;
  // Runs `task` with shard `shard`'s engine on that shard (dropped if the
  // engine is gone).
  std::function<void(int shard, absl::AnyInvocable<void(DeliveryEngine&)> task)> post;
  // DeliveryConnection::Open in sluiced (SMTP over TCP, STARTTLS); tests
  // pass fakes. Required.
  ConnectFunction connect;
  absl::Duration stop_grace = absl::Seconds(5);
  // Routing: at most this many messages leave the schedule window per
  // pass, so a backlog that comes due at once does not stall the shard.
  size_t max_routed_per_pass = 2000;
};

}  // namespace sluice::engine
