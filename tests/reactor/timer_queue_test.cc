#include "reactor/timer_queue.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/fake_clock.h"

namespace sluice::reactor {
namespace {

using std::chrono::milliseconds;

class TimerQueueTest : public ::testing::Test {
 protected:
  common::SteadyTime At(int ms) { return clock_.SteadyNow() + milliseconds(ms); }
  size_t AdvanceAndRun(int ms) {
    clock_.Advance(absl::Milliseconds(ms));
    return timers_.RunExpired(clock_.SteadyNow());
  }

  common::FakeClock clock_;
  TimerQueue timers_;
  std::vector<std::string> fired_;
};

TEST_F(TimerQueueTest, FiresInDeadlineOrderOnlyWhenDue) {
  timers_.Add(At(30), [&] { fired_.push_back("c"); });
  timers_.Add(At(10), [&] { fired_.push_back("a"); });
  timers_.Add(At(20), [&] { fired_.push_back("b"); });
  EXPECT_EQ(AdvanceAndRun(9), 0u);
  EXPECT_TRUE(fired_.empty());
  EXPECT_EQ(AdvanceAndRun(11), 2u);
  EXPECT_EQ(fired_, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(AdvanceAndRun(10), 1u);
  EXPECT_EQ(fired_, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(timers_.size(), 0u);
}

TEST_F(TimerQueueTest, EqualDeadlinesFireInAddOrder) {
  for (int i = 0; i < 5; ++i)
    timers_.Add(At(5), [this, i] { fired_.push_back(std::to_string(i)); });
  AdvanceAndRun(5);
  EXPECT_EQ(fired_, (std::vector<std::string>{"0", "1", "2", "3", "4"}));
}

TEST_F(TimerQueueTest, CancelledTimerNeverFiresAndLeavesNothingBehind) {
  TimerId a = timers_.Add(At(10), [&] { fired_.push_back("a"); });
  timers_.Add(At(20), [&] { fired_.push_back("b"); });
  EXPECT_TRUE(timers_.Cancel(a));
  EXPECT_EQ(timers_.size(), 1u);
  EXPECT_FALSE(timers_.Cancel(a));  // second cancel is a no-op
  AdvanceAndRun(30);
  EXPECT_EQ(fired_, (std::vector<std::string>{"b"}));
}

TEST_F(TimerQueueTest, StaleHandleDoesNotCancelTimerThatReusedItsSlot) {
  TimerId a = timers_.Add(At(1), [&] { fired_.push_back("a"); });
  AdvanceAndRun(1);
  TimerId b = timers_.Add(At(1), [&] { fired_.push_back("b"); });
  EXPECT_EQ(a.index, b.index);  // the slot was reused
  EXPECT_FALSE(timers_.Cancel(a));
  AdvanceAndRun(1);
  EXPECT_EQ(fired_, (std::vector<std::string>{"a", "b"}));
}

TEST_F(TimerQueueTest, TimerAddedByCallbackWaitsForNextRun) {
  std::function<void()> rearm = [&] {
    fired_.push_back("tick");
    timers_.Add(clock_.SteadyNow(), rearm);
  };
  timers_.Add(At(0), rearm);
  EXPECT_EQ(timers_.RunExpired(clock_.SteadyNow()), 1u);
  EXPECT_EQ(timers_.RunExpired(clock_.SteadyNow()), 1u);
  EXPECT_EQ(fired_.size(), 2u);
}

TEST_F(TimerQueueTest, CallbackMayCancelAnotherDueTimer) {
  TimerId second;
  timers_.Add(At(1), [&] {
    fired_.push_back("first");
    timers_.Cancel(second);
  });
  second = timers_.Add(At(1), [&] { fired_.push_back("second"); });
  AdvanceAndRun(1);
  EXPECT_EQ(fired_, (std::vector<std::string>{"first"}));
}

TEST_F(TimerQueueTest, NextDeadlineTracksEarliestLiveTimer) {
  EXPECT_FALSE(timers_.NextDeadline().has_value());
  TimerId early = timers_.Add(At(5), [] {});
  timers_.Add(At(50), [] {});
  EXPECT_EQ(timers_.NextDeadline(), At(5));
  timers_.Cancel(early);
  EXPECT_EQ(timers_.NextDeadline(), At(50));
}

TEST_F(TimerQueueTest, RandomAddsAndCancelsMatchAReferenceModel) {
  std::mt19937 rng(42);
  std::vector<std::pair<TimerId, int>> live;
  std::multiset<int> expected;
  std::vector<int> fired;
  for (int i = 0; i < 20000; ++i) {
    if (live.empty() || rng() % 3 != 0) {
      const int ms = static_cast<int>(rng() % 1000);
      live.emplace_back(timers_.Add(At(ms), [&fired, ms] { fired.push_back(ms); }), ms);
      expected.insert(ms);
    } else {
      const size_t pick = rng() % live.size();
      ASSERT_TRUE(timers_.Cancel(live[pick].first));
      expected.erase(expected.find(live[pick].second));
      live[pick] = live.back();
      live.pop_back();
    }
  }
  EXPECT_EQ(timers_.size(), expected.size());
  AdvanceAndRun(1000);
  EXPECT_EQ(fired, std::vector<int>(expected.begin(), expected.end()));
}

}  // namespace
}  // namespace sluice::reactor
