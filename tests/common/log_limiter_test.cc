#include "common/log_limiter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/logging.h"

namespace sluice::common {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

class LogLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSinkForTest([this](absl::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override { SetLogSinkForTest(nullptr); }

  std::vector<std::string> lines_;
};

TEST_F(LogLimiterTest, LetsTheBurstThroughThenRefuses) {
  LogLimiter limiter(/*per_second=*/1, /*burst=*/3);
  EXPECT_TRUE(limiter.Allow(kStart, "x"));
  EXPECT_TRUE(limiter.Allow(kStart, "x"));
  EXPECT_TRUE(limiter.Allow(kStart, "x"));
  EXPECT_FALSE(limiter.Allow(kStart, "x"));
  EXPECT_FALSE(limiter.Allow(kStart, "x"));
  EXPECT_EQ(limiter.suppressed(), 2u);
  EXPECT_TRUE(lines_.empty());
}

TEST_F(LogLimiterTest, RefillsAtTheRateAndReportsWhatItSuppressed) {
  LogLimiter limiter(/*per_second=*/2, /*burst=*/1);
  EXPECT_TRUE(limiter.Allow(kStart, "smtp refusals"));
  EXPECT_FALSE(limiter.Allow(kStart + absl::Milliseconds(100), "smtp refusals"));
  EXPECT_FALSE(limiter.Allow(kStart + absl::Milliseconds(200), "smtp refusals"));
  // Half a second after the first line one token is back.
  EXPECT_TRUE(limiter.Allow(kStart + absl::Milliseconds(500), "smtp refusals"));
  EXPECT_EQ(limiter.suppressed(), 0u);
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines_[0], "msg=\"log lines suppressed\"")) << lines_[0];
  EXPECT_TRUE(absl::StrContains(lines_[0], "what=\"smtp refusals\"")) << lines_[0];
  EXPECT_TRUE(absl::StrContains(lines_[0], "lines=2")) << lines_[0];
}

TEST_F(LogLimiterTest, NeverHoldsMoreThanTheBurstAfterAQuietSpell) {
  LogLimiter limiter(/*per_second=*/100, /*burst=*/2);
  EXPECT_TRUE(limiter.Allow(kStart, "x"));
  const absl::Time later = kStart + absl::Hours(1);
  EXPECT_TRUE(limiter.Allow(later, "x"));
  EXPECT_TRUE(limiter.Allow(later, "x"));
  EXPECT_FALSE(limiter.Allow(later, "x"));
}

TEST_F(LogLimiterTest, AClockThatStepsBackGivesNothingBack) {
  LogLimiter limiter(/*per_second=*/1, /*burst=*/1);
  EXPECT_TRUE(limiter.Allow(kStart, "x"));
  EXPECT_FALSE(limiter.Allow(kStart - absl::Hours(1), "x"));
  EXPECT_FALSE(limiter.Allow(kStart + absl::Milliseconds(500), "x"));
  EXPECT_TRUE(limiter.Allow(kStart + absl::Seconds(1), "x"));
}

}  // namespace
}  // namespace sluice::common
