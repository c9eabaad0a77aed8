#include "engine/rate_meter.h"

#include "gtest/gtest.h"

namespace sluice::engine {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

TEST(RateMeterTest, NothingCountedIsZero) {
  RateMeter meter;
  EXPECT_EQ(meter.PerMinute(kStart), 0);
}

TEST(RateMeterTest, CountsWithinTheFirstMinute) {
  RateMeter meter;
  for (int i = 0; i < 30; ++i) meter.Add(kStart + absl::Seconds(i));
  EXPECT_EQ(meter.PerMinute(kStart + absl::Seconds(30)), 30);
}

TEST(RateMeterTest, ASteadyRateReadsAsThatRate) {
  RateMeter meter;
  // Two events a second for five minutes: 120 a minute.
  for (int i = 0; i < 600; ++i) meter.Add(kStart + absl::Milliseconds(500 * i));
  EXPECT_NEAR(meter.PerMinute(kStart + absl::Seconds(300)), 120, 2);
  // Half a minute after the last event, half a minute of them is left.
  EXPECT_NEAR(meter.PerMinute(kStart + absl::Seconds(330)), 60, 2);
}

TEST(RateMeterTest, TheLastWindowFadesOutOverTheNextMinute) {
  RateMeter meter;
  meter.Add(kStart, 60);
  EXPECT_EQ(meter.PerMinute(kStart + absl::Seconds(59)), 60);
  // Half a minute into the next window, half of it still counts.
  EXPECT_NEAR(meter.PerMinute(kStart + absl::Seconds(90)), 30, 1e-9);
  EXPECT_EQ(meter.PerMinute(kStart + absl::Seconds(120)), 0);
}

TEST(RateMeterTest, ALongPauseForgetsTheOldCounts) {
  RateMeter meter;
  meter.Add(kStart, 1000);
  meter.Add(kStart + absl::Minutes(10), 5);
  EXPECT_EQ(meter.PerMinute(kStart + absl::Minutes(10)), 5);
}

TEST(RateMeterTest, EventsAfterAWindowChangeAddToTheWeightedPrevious) {
  RateMeter meter;
  meter.Add(kStart, 60);                      // first window
  meter.Add(kStart + absl::Seconds(75), 10);  // second window starts at 60 s
  // At 75 s: 10 now, plus 60 x (1 - 15/60) = 45 from the previous window.
  EXPECT_NEAR(meter.PerMinute(kStart + absl::Seconds(75)), 55, 1e-9);
}

}  // namespace
}  // namespace sluice::engine
