#include "common/fake_clock.h"

#include <gtest/gtest.h>

namespace sluice::common {
namespace {

TEST(FakeClockTest, AdvancesWallAndSteadyTogether) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  const SteadyTime steady0 = clock.SteadyNow();
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1000));
  clock.Advance(absl::Milliseconds(1500));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1000) + absl::Milliseconds(1500));
  EXPECT_EQ(clock.SteadyNow() - steady0, std::chrono::milliseconds(1500));
}

TEST(FakeClockTest, RealClockIsMonotonic) {
  const SteadyTime a = Clock::Real()->SteadyNow();
  const SteadyTime b = Clock::Real()->SteadyNow();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace sluice::common
