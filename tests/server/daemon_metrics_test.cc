#include "server/daemon_metrics.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sluice::server {
namespace {

TEST(DaemonMetricsTest, EveryComponentGetsItsCounters) {
  absl::StatusOr<std::unique_ptr<DaemonMetrics>> metrics = DaemonMetrics::Create(
      2, common::MetricsConfig{.max_sites = 10, .max_tenants = 10, .promote_after = 1});
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const DaemonMetrics& m = **metrics;
  ASSERT_EQ(m.loop_lag().size(), 2u);
  EXPECT_NE(m.loop_lag()[1], nullptr);
  EXPECT_NE(m.delivery().delivered, nullptr);
  EXPECT_NE(m.delivery().by_site, nullptr);
  EXPECT_NE(m.spool().commit_seconds, nullptr);
  EXPECT_NE(m.http().requests, nullptr);
  EXPECT_NE(m.dkim().signatures, nullptr);
  EXPECT_NE(m.dkim().sign_seconds, nullptr);
  EXPECT_NE(m.smtp(api::SmtpListenerKind::kSubmissions).tls_sessions, nullptr);
  EXPECT_NE(m.smtp(api::SmtpListenerKind::kRelay).connections,
            m.smtp(api::SmtpListenerKind::kSubmission).connections);
}

TEST(DaemonMetricsTest, ReceivedCountsByListenerAndTenant) {
  absl::StatusOr<std::unique_ptr<DaemonMetrics>> metrics = DaemonMetrics::Create(
      1, common::MetricsConfig{.max_sites = 10, .max_tenants = 10, .promote_after = 1});
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  (*metrics)->smtp(api::SmtpListenerKind::kSubmission).received("acme", 2);
  (*metrics)->http().injection.received("acme", 3);
  const std::string text = (*metrics)->registry().RenderPrometheus();
  EXPECT_TRUE(absl::StrContains(
      text, R"(sluice_messages_received_total{listener="submission",tenant="acme"} 2)"))
      << text;
  EXPECT_TRUE(
      absl::StrContains(text, R"(sluice_messages_received_total{listener="http",tenant="acme"} 3)"))
      << text;
}

}  // namespace
}  // namespace sluice::server
