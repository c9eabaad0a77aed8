#include "server/daemon_metrics.h"

#include <string>
#include <utility>

#include "dns/resolver.h"
#include "engine/inbound_reports.h"
#include "mail/bounce_classifier.h"
#include "mail/bounce_report.h"

namespace sluice::server {

absl::StatusOr<std::unique_ptr<DaemonMetrics>> DaemonMetrics::Create(
    int shards, const common::MetricsConfig& config) {
  std::unique_ptr<DaemonMetrics> metrics(new DaemonMetrics(shards, config));
  if (absl::Status status = metrics->Register(); !status.ok()) return status;
  return metrics;
}

DaemonMetrics::DaemonMetrics(int shards, const common::MetricsConfig& config)
    : registry_(shards), config_(config) {
  loop_lag_.resize(shards);
}

absl::Status DaemonMetrics::Register() {
  for (int shard = 0; shard < static_cast<int>(loop_lag_.size()); ++shard) {
    loop_lag_[shard] = AddHistogram(
        "sluice_reactor_loop_lag_seconds",
        "How late a shard's 100 ms probe timer ran: time its loop was busy past a deadline.",
        {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1},
        {{"shard", std::to_string(shard)}});
  }
  received_ = AddBounded("sluice_messages_received_total",
                         "Messages acknowledged after spooling, by listener and tenant.", "tenant",
                         config_.max_tenants,
                         {{{"listener", "relay"}},
                          {{"listener", "submission"}},
                          {{"listener", "submissions"}},
                          {{"listener", "http"}}});
  RegisterDelivery();
  RegisterDkim();

  spool_.commits = AddCounter("sluice_spool_commits_total", "Synced spool writes (group commits).");
  spool_.write_errors =
      AddCounter("sluice_spool_write_errors_total", "Spool writes that failed (disk full, I/O).");
  spool_.batch_size =
      AddHistogram("sluice_spool_commit_batch_requests", "Requests per synced spool write.",
                   {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
  spool_.commit_seconds =
      AddHistogram("sluice_spool_commit_seconds", "Time of one synced spool write.",
                   {0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1});

  http_.requests = AddCounter("sluice_http_requests_total", "HTTP requests.");
  http_.unsubscribes =
      AddCounter("sluice_unsubscribes_total", "One-click unsubscribes recorded (RFC 8058 POSTs).");
  http_.injection.messages_accepted = AddCounter("sluice_http_messages_accepted_total",
                                                 "Messages spooled by POST /api/v1/messages.");
  http_.injection.recipients_accepted = AddCounter("sluice_http_recipients_accepted_total",
                                                   "Recipients spooled by POST /api/v1/messages.");
  http_.injection.injections_failed = AddCounter("sluice_http_injections_failed_total",
                                                 "Injection requests the spool failed (503).");
  if (common::BoundedLabels* received = received_.get(); received != nullptr) {
    http_.injection.received = [received](std::string_view tenant, uint64_t messages) {
      received->Add(3, tenant, messages);
    };
  }
  for (api::SmtpListenerKind kind :
       {api::SmtpListenerKind::kRelay, api::SmtpListenerKind::kSubmission,
        api::SmtpListenerKind::kSubmissions}) {
    RegisterSmtp(kind);
  }
  return status_;
}

void DaemonMetrics::RegisterDelivery() {
  engine::DeliveryMetrics& m = delivery_;
  auto outcome = [this](absl::string_view result) {
    return AddCounter("sluice_delivery_recipients_total",
                      "Recipients by the result of their delivery attempt.",
                      {{"result", std::string(result)}});
  };
  m.delivered = outcome("delivered");
  m.deferred = outcome("deferred");
  m.bounced = outcome("bounced");
  m.expired = outcome("expired");
  constexpr absl::string_view kResults[] = {"deferred", "bounced", "expired"};
  for (size_t result = 0; result < m.failures.size(); ++result) {
    for (size_t category = 0; category < engine::kBounceCategories; ++category) {
      m.failures[result][category] = AddCounter(
          "sluice_delivery_failures_total",
          "Recipients that failed an attempt, by result and by what the reply means.",
          {{"result", std::string(kResults[result])},
           {"category",
            std::string(mail::BounceCategoryName(static_cast<mail::BounceCategory>(category)))}});
    }
  }
  m.dsns = AddCounter("sluice_dsn_generated_total", "Delivery status notifications generated.");
  for (size_t kind = 0; kind < m.inbound_reports.size(); ++kind) {
    const absl::string_view name =
        mail::BounceReportKindName(static_cast<mail::BounceReportKind>(kind));
    m.inbound_reports[kind] =
        AddCounter("sluice_inbound_reports_total",
                   "Messages that came back to the bounce domains, by what they are.",
                   {{"kind", std::string(name)}});
  }
  for (size_t category = 0; category < engine::kBounceCategories; ++category) {
    m.async_bounces[category] = AddCounter(
        "sluice_async_bounces_total",
        "Recipients that DSNs coming back reported failed or delayed, by category.",
        {{"category",
          std::string(mail::BounceCategoryName(static_cast<mail::BounceCategory>(category)))}});
  }
  m.connections = AddCounter("sluice_delivery_connections_total", "Outbound connections opened.");
  m.connection_failures =
      AddCounter("sluice_delivery_connection_failures_total", "Outbound connections that failed.");
  m.tls_connections =
      AddCounter("sluice_delivery_tls_connections_total", "Outbound connections that used TLS.");
  m.throttled =
      AddCounter("sluice_delivery_throttled_total", "Throttling replies that slowed a site down.");
  m.scheduled = AddGauge("sluice_delivery_scheduled_messages",
                         "Messages held in memory until their due time.");
  m.ready = AddGauge("sluice_delivery_ready_messages", "Messages waiting for a connection.");
  m.open_connections = AddGauge("sluice_delivery_connections_open", "Outbound connections open.");
  const std::vector<common::MetricLabels> results = {{{"result", "delivered"}},
                                                     {{"result", "deferred"}},
                                                     {{"result", "bounced"}},
                                                     {{"result", "expired"}}};
  delivery_by_site_ = AddBounded("sluice_delivery_site_recipients_total",
                                 "Recipients by the result of their delivery attempt and site.",
                                 "site", config_.max_sites, results);
  delivery_by_tenant_ = AddBounded("sluice_delivery_tenant_recipients_total",
                                   "Recipients by the result of their delivery attempt and tenant.",
                                   "tenant", config_.max_tenants, results);
  m.by_site = delivery_by_site_.get();
  m.by_tenant = delivery_by_tenant_.get();
  std::vector<common::MetricLabels> categories;
  for (size_t category = 0; category < engine::kBounceCategories; ++category) {
    categories.push_back({{"category", std::string(mail::BounceCategoryName(
                                           static_cast<mail::BounceCategory>(category)))}});
  }
  bounces_by_site_ = AddBounded(
      "sluice_bounces_site_total",
      "Bounced recipients (synchronous 5xx and DSNs reporting a failure), by category and site.",
      "site", config_.max_sites, categories);
  bounces_by_tenant_ = AddBounded(
      "sluice_bounces_tenant_total",
      "Bounced recipients (synchronous 5xx and DSNs reporting a failure), by category and tenant.",
      "tenant", config_.max_tenants, categories);
  std::vector<common::MetricLabels> feedback_types;
  for (std::string_view type : engine::kFeedbackTypes) {
    feedback_types.push_back({{"type", std::string(type)}});
  }
  complaints_by_site_ = AddBounded("sluice_complaints_site_total",
                                   "Feedback reports (complaints) received, by feedback type and "
                                   "the site of the complaining recipient's domain.",
                                   "site", config_.max_sites, feedback_types);
  complaints_by_tenant_ = AddBounded(
      "sluice_complaints_tenant_total",
      "Feedback reports (complaints) received, by feedback type and tenant (none: unknown).",
      "tenant", config_.max_tenants, feedback_types);
  m.bounces_by_site = bounces_by_site_.get();
  m.bounces_by_tenant = bounces_by_tenant_.get();
  m.complaints_by_site = complaints_by_site_.get();
  m.complaints_by_tenant = complaints_by_tenant_.get();
  suppression_.entries = AddGauge("sluice_suppression_entries",
                                  "Entries on the suppression list (every scope, expired ones "
                                  "until the hourly sweep).");
  suppression_.added_bounces =
      AddCounter("sluice_suppression_added_total",
                 "Entries that delivery added to the suppression list, by source.",
                 {{"source", "hard-bounce"}});
  suppression_.added_complaints = AddCounter(
      "sluice_suppression_added_total",
      "Entries that delivery added to the suppression list, by source.", {{"source", "complaint"}});
  http_.injection.suppressed =
      AddCounter("sluice_suppression_hits_total",
                 "Recipients refused at injection because they are suppressed, by listener.",
                 {{"listener", "http"}});
  if (absl::StatusOr<dns::ResolverMetrics> dns = dns::RegisterResolverMetrics(registry_);
      dns.ok()) {
    m.dns = *dns;
  } else {
    status_.Update(dns.status());
  }
}

void DaemonMetrics::RegisterDkim() {
  dkim_by_domain_ = AddBounded("sluice_dkim_signatures_total",
                               "DKIM signatures made, by algorithm and signing domain.", "domain",
                               config_.max_tenants,
                               {{{"algorithm", "rsa-sha256"}}, {{"algorithm", "ed25519-sha256"}}});
  dkim_.signatures = dkim_by_domain_.get();
  dkim_.failures =
      AddCounter("sluice_dkim_failures_total", "Messages that could not be signed (answered 451).");
  dkim_.sign_seconds =
      AddHistogram("sluice_dkim_sign_seconds", "Time to sign one message (all its signatures).",
                   {0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05});
}

void DaemonMetrics::RegisterSmtp(api::SmtpListenerKind kind) {
  const int column = static_cast<int>(kind);
  const std::string name(api::SmtpListenerName(kind));
  const common::MetricLabels label = {{"listener", name}};
  api::SmtpListenerMetrics& m = smtp_[column];
  m.connections = AddCounter("sluice_smtp_connections_total", "SMTP connections accepted.", label);
  m.connections_refused =
      AddCounter("sluice_smtp_connections_refused_total", "SMTP connections over a limit.", label);
  m.connections_open =
      AddGauge("sluice_smtp_connections_open", "SMTP connections open now.", label);
  m.messages_accepted = AddCounter("sluice_smtp_messages_accepted_total",
                                   "Messages acknowledged after spooling.", label);
  m.messages_failed = AddCounter("sluice_smtp_messages_failed_total",
                                 "Messages refused because the spool failed.", label);
  m.bytes_accepted =
      AddCounter("sluice_smtp_bytes_accepted_total", "Bytes of acknowledged messages.", label);
  m.tls_sessions =
      AddCounter("sluice_smtp_tls_sessions_total", "SMTP TLS handshakes completed.", label);
  m.refused_temporary =
      AddCounter("sluice_smtp_refusals_total", "SMTP replies refusing something, by class.",
                 {{"listener", name}, {"class", "4xx"}});
  m.refused_permanent =
      AddCounter("sluice_smtp_refusals_total", "SMTP replies refusing something, by class.",
                 {{"listener", name}, {"class", "5xx"}});
  m.suppressed =
      AddCounter("sluice_suppression_hits_total",
                 "Recipients refused at injection because they are suppressed, by listener.",
                 {{"listener", name}});
  if (common::BoundedLabels* received = received_.get(); received != nullptr) {
    m.received = [received, column](std::string_view tenant, uint64_t messages) {
      received->Add(column, tenant, messages);
    };
  }
}

api::StatsSources DaemonMetrics::stats() const {
  api::StatsSources sources;
  sources.accepted.push_back(http_.injection.messages_accepted);
  for (const api::SmtpListenerMetrics& smtp : smtp_) {
    sources.accepted.push_back(smtp.messages_accepted);
    sources.inbound.push_back(smtp.connections_open);
  }
  sources.delivered = delivery_.delivered;
  sources.deferred = delivery_.deferred;
  sources.bounced = delivery_.bounced;
  sources.expired = delivery_.expired;
  sources.scheduled = delivery_.scheduled;
  sources.ready = delivery_.ready;
  sources.outbound = delivery_.open_connections;
  sources.spool_commit = spool_.commit_seconds;
  sources.loop_lag.assign(loop_lag_.begin(), loop_lag_.end());
  return sources;
}

common::Counter* DaemonMetrics::AddCounter(absl::string_view name, absl::string_view help,
                                           common::MetricLabels labels) {
  absl::StatusOr<common::Counter*> counter = registry_.AddCounter(name, help, std::move(labels));
  status_.Update(counter.status());
  return counter.ok() ? *counter : nullptr;
}

common::Gauge* DaemonMetrics::AddGauge(absl::string_view name, absl::string_view help,
                                       common::MetricLabels labels) {
  absl::StatusOr<common::Gauge*> gauge = registry_.AddGauge(name, help, std::move(labels));
  status_.Update(gauge.status());
  return gauge.ok() ? *gauge : nullptr;
}

common::Histogram* DaemonMetrics::AddHistogram(absl::string_view name, absl::string_view help,
                                               std::vector<double> bounds,
                                               common::MetricLabels labels) {
  absl::StatusOr<common::Histogram*> histogram =
      registry_.AddHistogram(name, help, std::move(bounds), std::move(labels));
  status_.Update(histogram.status());
  return histogram.ok() ? *histogram : nullptr;
}

std::unique_ptr<common::BoundedLabels> DaemonMetrics::AddBounded(
    absl::string_view name, absl::string_view help, absl::string_view label, int max_values,
    std::vector<common::MetricLabels> columns) {
  absl::StatusOr<std::unique_ptr<common::BoundedLabels>> bounded = common::BoundedLabels::Create(
      registry_, {.name = std::string(name),
                  .help = std::string(help),
                  .label = std::string(label),
                  .columns = std::move(columns),
                  .max_values = max_values,
                  .promote_after = static_cast<uint64_t>(config_.promote_after)});
  status_.Update(bounded.status());
  return bounded.ok() ? *std::move(bounded) : nullptr;
}

}  // namespace sluice::server
