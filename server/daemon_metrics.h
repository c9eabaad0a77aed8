// DaemonMetrics: every metric sluiced exports, registered once at start in
// one registry (one cell per shard plus one for other threads) and handed to
// the components as the counter structs they take. GET /metrics renders
// registry(). Built and read on the main thread before the components start;
// the counters themselves are safe from any thread.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "api/dkim_signing_pool.h"
#include "api/http_server.h"
#include "api/smtp_server.h"
#include "api/stats_history.h"
#include "common/bounded_labels.h"
#include "common/config.h"
#include "common/metrics.h"
#include "engine/delivery_shared.h"

namespace sluice::server {

// The spool's own metrics (queue::RocksDbSpoolOptions takes them one by one).
struct SpoolMetrics {
  common::Counter* commits = nullptr;
  common::Counter* write_errors = nullptr;
  common::Histogram* batch_size = nullptr;
  common::Histogram* commit_seconds = nullptr;
};

// The suppression list's gauge and delivery's additions to it.
struct SuppressionMetrics {
  common::Gauge* entries = nullptr;
  common::Counter* added_bounces = nullptr;
  common::Counter* added_complaints = nullptr;
};

class DaemonMetrics {
 public:
  // Registers everything; an error names the metric that could not be.
  static absl::StatusOr<std::unique_ptr<DaemonMetrics>> Create(int shards,
                                                               const common::MetricsConfig& config);
  DaemonMetrics(const DaemonMetrics&) = delete;
  DaemonMetrics& operator=(const DaemonMetrics&) = delete;

  const common::MetricsRegistry& registry() const { return registry_; }
  // Per shard: how late its 100 ms probe timer ran.
  const std::vector<common::Histogram*>& loop_lag() const { return loop_lag_; }
  const engine::DeliveryMetrics& delivery() const { return delivery_; }
  const SpoolMetrics& spool() const { return spool_; }
  const SuppressionMetrics& suppression() const { return suppression_; }
  const api::HttpServerMetrics& http() const { return http_; }
  const api::DkimMetrics& dkim() const { return dkim_; }
  const api::SmtpListenerMetrics& smtp(api::SmtpListenerKind kind) const {
    return smtp_[static_cast<int>(kind)];
  }
  // What GET /api/v1/stats reads (api/stats_history.h).
  api::StatsSources stats() const;

 private:
  DaemonMetrics(int shards, const common::MetricsConfig& config);
  absl::Status Register();
  void RegisterDelivery();
  void RegisterDkim();
  void RegisterSmtp(api::SmtpListenerKind kind);
  // Records the first registration error; the pointer is then null.
  common::Counter* AddCounter(absl::string_view name, absl::string_view help,
                              common::MetricLabels labels = {});
  common::Gauge* AddGauge(absl::string_view name, absl::string_view help,
                          common::MetricLabels labels = {});
  common::Histogram* AddHistogram(absl::string_view name, absl::string_view help,
                                  std::vector<double> bounds, common::MetricLabels labels = {});
  // A family whose label values are not ours to bound (sites, tenants).
  std::unique_ptr<common::BoundedLabels> AddBounded(absl::string_view name, absl::string_view help,
                                                    absl::string_view label, int max_values,
                                                    std::vector<common::MetricLabels> columns);

  common::MetricsRegistry registry_;
  const common::MetricsConfig config_;
  absl::Status status_;
  std::vector<common::Histogram*> loop_lag_;
  // Messages acknowledged, by listener (columns: relay, submission,
  // submissions, http) and tenant.
  std::unique_ptr<common::BoundedLabels> received_;
  std::unique_ptr<common::BoundedLabels> delivery_by_site_;
  std::unique_ptr<common::BoundedLabels> delivery_by_tenant_;
  std::unique_ptr<common::BoundedLabels> dkim_by_domain_;
  std::unique_ptr<common::BoundedLabels> bounces_by_site_;
  std::unique_ptr<common::BoundedLabels> bounces_by_tenant_;
  std::unique_ptr<common::BoundedLabels> complaints_by_site_;
  std::unique_ptr<common::BoundedLabels> complaints_by_tenant_;
  engine::DeliveryMetrics delivery_;
  SpoolMetrics spool_;
  SuppressionMetrics suppression_;
  api::HttpServerMetrics http_;
  api::DkimMetrics dkim_;
  api::SmtpListenerMetrics smtp_[3];
};

}  // namespace sluice::server
