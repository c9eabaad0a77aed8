#include "common/mpmc_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace sluice::common {
namespace {

TEST(MpmcQueueTest, PopsInPushOrder) {
  MpmcQueue<int> queue(8);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(queue.TryPush(int{i}));
  for (int i = 0; i < 5; ++i) {
    int value = -1;
    ASSERT_TRUE(queue.TryPop(&value));
    EXPECT_EQ(value, i);
  }
  int value = -1;
  EXPECT_FALSE(queue.TryPop(&value));
}

TEST(MpmcQueueTest, RoundsCapacityUpToAPowerOfTwo) {
  EXPECT_EQ(MpmcQueue<int>(0).capacity(), 2u);
  EXPECT_EQ(MpmcQueue<int>(5).capacity(), 8u);
  EXPECT_EQ(MpmcQueue<int>(8).capacity(), 8u);
}

TEST(MpmcQueueTest, RefusesPushWhenFullAndLeavesValueWithCaller) {
  MpmcQueue<std::unique_ptr<int>> queue(2);
  ASSERT_TRUE(queue.TryPush(std::make_unique<int>(1)));
  ASSERT_TRUE(queue.TryPush(std::make_unique<int>(2)));
  auto third = std::make_unique<int>(3);
  EXPECT_FALSE(queue.TryPush(std::move(third)));
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(*third, 3);

  // A pop frees a slot for exactly one more push, across the wrap-around.
  std::unique_ptr<int> out;
  ASSERT_TRUE(queue.TryPop(&out));
  EXPECT_EQ(*out, 1);
  EXPECT_TRUE(queue.TryPush(std::move(third)));
  ASSERT_TRUE(queue.TryPop(&out));
  EXPECT_EQ(*out, 2);
  ASSERT_TRUE(queue.TryPop(&out));
  EXPECT_EQ(*out, 3);
}

TEST(MpmcQueueTest, EmptyReportsWhetherAnItemIsReady) {
  MpmcQueue<int> queue(4);
  EXPECT_TRUE(queue.Empty());
  ASSERT_TRUE(queue.TryPush(7));
  EXPECT_FALSE(queue.Empty());
  int value = 0;
  ASSERT_TRUE(queue.TryPop(&value));
  EXPECT_TRUE(queue.Empty());
}

TEST(MpmcQueueTest, DestroysItemsStillQueued) {
  auto tracked = std::make_shared<int>(0);
  {
    MpmcQueue<std::shared_ptr<int>> queue(4);
    ASSERT_TRUE(queue.TryPush(std::shared_ptr<int>(tracked)));
    ASSERT_TRUE(queue.TryPush(std::shared_ptr<int>(tracked)));
    std::shared_ptr<int> out;
    ASSERT_TRUE(queue.TryPop(&out));
    out.reset();
    EXPECT_EQ(tracked.use_count(), 2);
  }
  EXPECT_EQ(tracked.use_count(), 1);
}

// Producers and consumers hammer a small queue so it is full and empty over
// and over; every item must come out exactly once, and each producer's items
// in the order it pushed them.
TEST(MpmcQueueTest, DeliversEveryItemExactlyOnceAcrossThreads) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 2;
  constexpr uint64_t kPerProducer = 50'000;
  constexpr uint64_t kTotal = kProducers * kPerProducer;
  MpmcQueue<uint64_t> queue(64);
  std::atomic<uint64_t> popped{0};

  std::vector<std::vector<uint64_t>> received(kConsumers);
  std::vector<std::thread> threads;
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      uint64_t item;
      while (popped.load(std::memory_order_relaxed) < kTotal) {
        if (queue.TryPop(&item)) {
          received[c].push_back(item);
          popped.fetch_add(1, std::memory_order_relaxed);
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (uint64_t i = 0; i < kPerProducer; ++i) {
        uint64_t item = (uint64_t{static_cast<uint32_t>(p)} << 32) | i;
        while (!queue.TryPush(std::move(item))) std::this_thread::yield();
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::vector<std::vector<int>> seen(kProducers, std::vector<int>(kPerProducer, 0));
  for (const std::vector<uint64_t>& items : received) {
    std::vector<int64_t> last(kProducers, -1);
    for (const uint64_t item : items) {
      const int producer = static_cast<int>(item >> 32);
      const int64_t index = static_cast<int64_t>(item & 0xffffffff);
      ASSERT_LT(producer, kProducers);
      ASSERT_LT(index, static_cast<int64_t>(kPerProducer));
      EXPECT_GT(index, last[producer]) << "producer " << producer << " out of order";
      last[producer] = index;
      ++seen[producer][index];
    }
  }
  for (int p = 0; p < kProducers; ++p) {
    for (uint64_t i = 0; i < kPerProducer; ++i) {
      ASSERT_EQ(seen[p][i], 1) << "producer " << p << " item " << i;
    }
  }
  uint64_t leftover;
  EXPECT_FALSE(queue.TryPop(&leftover));
}

}  // namespace
}  // namespace sluice::common
