#include "reactor/spsc_queue.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <thread>

namespace sluice::reactor {
namespace {

TEST(SpscQueueTest, RefusesWhenFullAndKeepsTheItem) {
  SpscQueue<std::unique_ptr<int>> queue(4);
  for (int i = 0; i < 4; ++i) {
    auto item = std::make_unique<int>(i);
    ASSERT_TRUE(queue.TryPush(item));
  }
  auto extra = std::make_unique<int>(99);
  EXPECT_FALSE(queue.TryPush(extra));
  ASSERT_NE(extra, nullptr);
  EXPECT_EQ(*extra, 99);
  std::unique_ptr<int> out;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(queue.TryPop(out));
    EXPECT_EQ(*out, i);
  }
  EXPECT_FALSE(queue.TryPop(out));
  EXPECT_TRUE(queue.Empty());
}

TEST(SpscQueueTest, TwoThreadsPassEveryItemInOrder) {
  constexpr uint64_t kItems = 2'000'000;
  SpscQueue<uint64_t> queue(1024);
  std::thread producer([&] {
    for (uint64_t i = 0; i < kItems; ++i) {
      uint64_t item = i;
      while (!queue.TryPush(item)) std::this_thread::yield();
    }
  });
  uint64_t expected = 0;
  uint64_t item = 0;
  while (expected < kItems) {
    if (queue.TryPop(item)) {
      ASSERT_EQ(item, expected);
      ++expected;
    }
  }
  producer.join();
  EXPECT_TRUE(queue.Empty());
}

}  // namespace
}  // namespace sluice::reactor
