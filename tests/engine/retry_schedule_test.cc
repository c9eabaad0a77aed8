#include "engine/retry_schedule.h"

#include <random>

#include "gtest/gtest.h"

namespace sluice::engine {
namespace {

const absl::Time kCreated = absl::FromUnixSeconds(1'800'000'000);

TEST(RetryScheduleTest, DefaultIntervalsDoubleFromFiveMinutesUpToFourHours) {
  RetrySchedule schedule{RetryPolicy{}};
  EXPECT_EQ(schedule.Interval(1), absl::Minutes(5));
  EXPECT_EQ(schedule.Interval(2), absl::Minutes(10));
  EXPECT_EQ(schedule.Interval(3), absl::Minutes(20));
  EXPECT_EQ(schedule.Interval(6), absl::Minutes(160));
  EXPECT_EQ(schedule.Interval(7), absl::Hours(4));
  EXPECT_EQ(schedule.Interval(1000), absl::Hours(4));
}

TEST(RetryScheduleTest, JitterStaysWithinItsFraction) {
  RetrySchedule schedule{RetryPolicy{}};
  std::mt19937_64 random(7);
  absl::Duration low = absl::InfiniteDuration();
  absl::Duration high = absl::ZeroDuration();
  for (int i = 0; i < 1000; ++i) {
    const absl::Duration wait = *schedule.Next(kCreated, kCreated, 1, random) - kCreated;
    low = std::min(low, wait);
    high = std::max(high, wait);
  }
  EXPECT_GE(low, absl::Minutes(4));
  EXPECT_LE(high, absl::Minutes(6));
  EXPECT_LT(low, absl::Minutes(4) + absl::Seconds(20));  // the spread is really used
  EXPECT_GT(high, absl::Minutes(6) - absl::Seconds(20));
}

TEST(RetryScheduleTest, MessageExpiresWhenTheNextAttemptWouldBePastItsMaximumAge) {
  RetryPolicy policy;
  policy.jitter = 0;
  RetrySchedule schedule(policy);
  std::mt19937_64 random(1);
  const absl::Time almost = kCreated + absl::Hours(24 * 5) - absl::Hours(4);
  EXPECT_EQ(schedule.Next(kCreated, almost, 20, random), almost + absl::Hours(4));
  EXPECT_FALSE(schedule.Next(kCreated, almost + absl::Seconds(1), 20, random).has_value());
}

}  // namespace
}  // namespace sluice::engine
