// GET /api/v1/stats' numbers: rates between readings, p99s from histogram
// buckets, one hour of points, and only the newer ones for ?since=.
#include "api/stats_history.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "gtest/gtest.h"

namespace sluice::api {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

class StatsHistoryTest : public ::testing::Test {
 protected:
  StatsHistoryTest() {
    accepted_smtp_ = *registry_.AddCounter("a_smtp", "h");
    accepted_http_ = *registry_.AddCounter("a_http", "h");
    delivered_ = *registry_.AddCounter("d", "h");
    ready_ = *registry_.AddGauge("r", "h");
    scheduled_ = *registry_.AddGauge("s", "h");
    commit_ = *registry_.AddHistogram("c", "h", {0.001, 0.01, 0.1});
    sources_.accepted = {accepted_smtp_, accepted_http_};
    sources_.delivered = delivered_;
    sources_.ready = ready_;
    sources_.scheduled = scheduled_;
    sources_.spool_commit = commit_;
  }

  common::MetricsRegistry registry_{0};
  common::Counter* accepted_smtp_;
  common::Counter* accepted_http_;
  common::Counter* delivered_;
  common::Gauge* ready_;
  common::Gauge* scheduled_;
  common::Histogram* commit_;
  StatsSources sources_;
};

TEST(StatsQuantileTest, InterpolatesWithinTheBucketLikeHistogramQuantile) {
  const std::vector<double> bounds = {1, 2, 4};
  // 10 observations <= 1, 10 more <= 2, none above.
  EXPECT_DOUBLE_EQ(StatsHistory::Quantile(bounds, {10, 20, 20, 20}, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(StatsHistory::Quantile(bounds, {10, 20, 20, 20}, 0.75), 1.5);
  EXPECT_DOUBLE_EQ(StatsHistory::Quantile(bounds, {0, 0, 0, 0}, 0.99), 0.0);
  // In the +Inf bucket: the last bound.
  EXPECT_DOUBLE_EQ(StatsHistory::Quantile(bounds, {0, 0, 0, 5}, 0.99), 4.0);
}

TEST_F(StatsHistoryTest, PointsAreRatesBetweenReadingsAndP99OfTheInterval) {
  StatsHistory history(sources_, absl::Seconds(5), absl::Hours(1));
  accepted_smtp_->Add(1000);  // before the first reading: not a rate
  history.Sample(kStart);
  EXPECT_EQ(history.points(), 0u);
  accepted_smtp_->Add(30);
  accepted_http_->Add(20);
  delivered_->Add(25);
  ready_->Set(7);
  scheduled_->Set(3);
  for (int i = 0; i < 99; ++i) commit_->Observe(0.0005);
  commit_->Observe(0.05);
  history.Sample(kStart + absl::Seconds(2));  // before the interval: nothing
  EXPECT_EQ(history.points(), 0u);
  history.Sample(kStart + absl::Seconds(5));
  ASSERT_EQ(history.points(), 1u);
  const std::string json = history.Json(kStart + absl::Seconds(6));
  EXPECT_TRUE(absl::StrContains(json, "\"interval_seconds\":5,")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"totals\":{\"accepted\":1050,\"delivered\":25,")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"queue_scheduled\":3,\"queue_ready\":7")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"rates\":{\"accepted\":10.000,\"delivered\":5.000,"))
      << json;
  // 99 of 100 at or below 1 ms: the p99 is the top of that bucket.
  EXPECT_TRUE(absl::StrContains(json, "\"spool_commit_p99_ms\":1.000")) << json;
  EXPECT_TRUE(absl::StrContains(
      json, absl::StrCat("\"history\":[{\"unix_ms\":", absl::ToUnixMillis(kStart) + 5000,
                         ",\"accepted\":10.000,\"delivered\":5.000,\"deferred\":0.000,"
                         "\"bounced\":0.000,\"queue\":10,")))
      << json;
}

TEST_F(StatsHistoryTest, KeepsOneSpanOfPointsAndAnswersOnlyNewerOnesAfterSince) {
  StatsHistory history(sources_, absl::Seconds(5), absl::Minutes(1));
  for (int i = 0; i <= 30; ++i) history.Sample(kStart + absl::Seconds(5 * i));
  EXPECT_EQ(history.points(), 12u);  // a minute of 5-second points
  const absl::Time now = kStart + absl::Seconds(150);
  const std::string newest = history.Json(now, kStart + absl::Seconds(140));
  EXPECT_TRUE(absl::StrContains(
      newest, absl::StrCat("\"history\":[{\"unix_ms\":", absl::ToUnixMillis(kStart) + 145'000)))
      << newest;
  EXPECT_FALSE(absl::StrContains(newest, absl::StrCat(absl::ToUnixMillis(kStart) + 140'000)))
      << newest;
  EXPECT_TRUE(absl::StrContains(history.Json(now, now), "\"history\":[]")) << newest;
}

}  // namespace
}  // namespace sluice::api
