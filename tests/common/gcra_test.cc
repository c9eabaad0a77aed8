#include "common/gcra.h"

#include "gtest/gtest.h"

namespace sluice::common {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

TEST(GcraTest, SpacesMessagesAtTheRateWithoutBurst) {
  Gcra limit(10, absl::Seconds(1));  // one per 100 ms
  EXPECT_EQ(limit.TryAcquire(kStart), absl::ZeroDuration());
  EXPECT_EQ(limit.TryAcquire(kStart), absl::Milliseconds(100));
  EXPECT_EQ(limit.TryAcquire(kStart + absl::Milliseconds(40)), absl::Milliseconds(60));
  EXPECT_EQ(limit.TryAcquire(kStart + absl::Milliseconds(100)), absl::ZeroDuration());
}

TEST(GcraTest, AllowsTheBurstThenTheRate) {
  Gcra limit(60, absl::Minutes(1), 5);  // one per second, five at once
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limit.TryAcquire(kStart), absl::ZeroDuration()) << i;
  EXPECT_EQ(limit.TryAcquire(kStart), absl::Seconds(1));
  EXPECT_EQ(limit.TryAcquire(kStart + absl::Seconds(1)), absl::ZeroDuration());
  EXPECT_GT(limit.TryAcquire(kStart + absl::Seconds(1)), absl::ZeroDuration());
}

TEST(GcraTest, IdleTimeRefillsTheBurstButNoMore) {
  Gcra limit(1, absl::Seconds(1), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limit.TryAcquire(kStart), absl::ZeroDuration());
  const absl::Time later = kStart + absl::Hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limit.TryAcquire(later), absl::ZeroDuration());
  EXPECT_EQ(limit.TryAcquire(later), absl::Seconds(1));
}

TEST(GcraTest, HourlyRatesUseTheRightInterval) {
  Gcra limit(3600, absl::Hours(1));
  EXPECT_EQ(limit.emission_interval(), absl::Seconds(1));
}

}  // namespace
}  // namespace sluice::common
