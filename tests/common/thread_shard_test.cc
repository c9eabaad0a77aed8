#include "common/thread_shard.h"

#include <gtest/gtest.h>

#include <thread>

namespace sluice::common {
namespace {

TEST(ThreadShardTest, IsMinusOneOnThreadsThatNeverSetIt) {
  int seen = 0;
  std::thread([&] { seen = CurrentShard(); }).join();
  EXPECT_EQ(seen, -1);
}

TEST(ThreadShardTest, EachThreadSeesOnlyItsOwnShard) {
  SetCurrentShard(3);
  int before = 0;
  int after = 0;
  std::thread([&] {
    before = CurrentShard();
    SetCurrentShard(5);
    after = CurrentShard();
  }).join();
  EXPECT_EQ(before, -1);
  EXPECT_EQ(after, 5);
  EXPECT_EQ(CurrentShard(), 3);
  SetCurrentShard(-1);
  EXPECT_EQ(CurrentShard(), -1);
}

TEST(ThreadShardTest, StoresAnyNegativeValueAsMinusOne) {
  SetCurrentShard(-7);
  EXPECT_EQ(CurrentShard(), -1);
}

}  // namespace
}  // namespace sluice::common
