// ShardGroup, Mailbox and Sharded<T>: posts between shards and from other
// threads, ordering, overflow of full queues, and stopping with work open.
#include "reactor/shard_group.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "common/thread_shard.h"
#include "reactor/sharded.h"
#include "reactor/tcp_listener.h"
#include "tests/reactor/blocking_client.h"
#include "tests/reactor/echo_service.h"
#include "tests/testing/notification.h"

namespace sluice::reactor {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

std::unique_ptr<ShardGroup> StartGroup(int shards, size_t mailbox_capacity) {
  ShardGroupOptions options;
  options.shards = shards;
  options.mailbox_capacity = mailbox_capacity;
  options.reactor.recv_buffer_count = 16;
  absl::StatusOr<std::unique_ptr<ShardGroup>> group = ShardGroup::Start(options);
  EXPECT_TRUE(group.ok()) << group.status();
  return *std::move(group);
}

// Per-shard state touched only by its own shard.
struct Counter {
  explicit Counter(int shards) : last_seen(shards, -1) {}
  void Stop(absl::AnyInvocable<void()> done) { done(); }
  int64_t received = 0;
  std::vector<int64_t> last_seen;  // by sender: the last sequence number
  bool out_of_order = false;
  bool wrong_thread = false;
};

void CrossShardPosts(int shards, size_t capacity, int posts_per_pair) {
  auto group = StartGroup(shards, capacity);
  Sharded<Counter> counters(*group);
  ASSERT_TRUE(counters
                  .Start([shards](int, Reactor&) -> absl::StatusOr<std::unique_ptr<Counter>> {
                    return std::make_unique<Counter>(shards);
                  })
                  .ok());
  std::latch all_received(static_cast<ptrdiff_t>(shards) * shards * posts_per_pair);
  // Every shard floods every shard (itself included) with numbered posts.
  for (int from = 0; from < shards; ++from) {
    group->Post(from, [&, from] {
      for (int seq = 0; seq < posts_per_pair; ++seq) {
        for (int to = 0; to < shards; ++to) {
          counters.InvokeOn(to, [&, from, to, seq](Counter& c) {
            c.wrong_thread |= common::CurrentShard() != to;
            c.out_of_order |= c.last_seen[from] != seq - 1;
            c.last_seen[from] = seq;
            ++c.received;
            all_received.count_down();
          });
        }
      }
    });
  }
  all_received.wait();
  int64_t total = 0;
  counters.InvokeOnAllAndWait([&](Counter& c) {
    EXPECT_FALSE(c.wrong_thread);
    EXPECT_FALSE(c.out_of_order);
    for (int64_t last : c.last_seen) EXPECT_EQ(last, posts_per_pair - 1);
  });
  for (int s = 0; s < shards; ++s) {
    sluice::testing::Notification read;
    counters.InvokeOn(s, [&](Counter& c) {
      total += c.received;
      read.Notify();
    });
    ASSERT_TRUE(read.WaitForNotificationWithTimeout(kWait));
  }
  EXPECT_EQ(total, static_cast<int64_t>(shards) * shards * posts_per_pair);
  counters.Stop();
  group->Stop();
}

TEST(ShardGroupTest, CrossShardPostsArriveOnceInOrderOnTheRightShard) {
  CrossShardPosts(3, 4096, 20000);
}

TEST(ShardGroupTest, FullQueuesOverflowOnTheSenderWithoutLossOrReordering) {
  // Queues of 4 slots against 20,000 posts per pair: most go through the
  // sender's overflow list.
  CrossShardPosts(2, 4, 20000);
}

TEST(ShardGroupTest, ForeignThreadsPostToShards) {
  auto group = StartGroup(2, 8);
  constexpr int kThreads = 4;
  constexpr int kPosts = 10000;
  std::atomic<int> wrong_thread{0};
  std::latch done(kThreads * kPosts);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPosts; ++i) {
        const int to = (t + i) % 2;
        group->Post(to, [&, to] {
          if (common::CurrentShard() != to) wrong_thread.fetch_add(1);
          done.count_down();
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  done.wait();
  EXPECT_EQ(wrong_thread.load(), 0);
  group->Stop();
}

TEST(ShardedTest, InvokeOnRepliesOnTheCallingShard) {
  auto group = StartGroup(2, 64);
  Sharded<Counter> counters(*group);
  ASSERT_TRUE(counters
                  .Start([](int, Reactor&) -> absl::StatusOr<std::unique_ptr<Counter>> {
                    return std::make_unique<Counter>(2);
                  })
                  .ok());
  sluice::testing::Notification replied;
  int reply_shard = -1;
  int answer = 0;
  group->Post(0, [&] {
    counters.InvokeOn(
        1, [](Counter&) { return common::CurrentShard() * 100 + 42; },
        [&](int result) {
          answer = result;
          reply_shard = common::CurrentShard();
          replied.Notify();
        });
  });
  ASSERT_TRUE(replied.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(answer, 142);
  EXPECT_EQ(reply_shard, 0);
  counters.Stop();
  group->Stop();
}

TEST(ShardedTest, StartFailureStopsTheInstancesThatStarted) {
  auto group = StartGroup(2, 64);
  std::atomic<int> stopped{0};
  struct Service {
    explicit Service(std::atomic<int>* stopped) : stopped(stopped) {}
    void Stop(absl::AnyInvocable<void()> done) {
      stopped->fetch_add(1);
      done();
    }
    std::atomic<int>* stopped;
  };
  Sharded<Service> services(*group);
  absl::Status status =
      services.Start([&](int shard, Reactor&) -> absl::StatusOr<std::unique_ptr<Service>> {
        if (shard == 1) return absl::InvalidArgumentError("shard 1 refuses");
        return std::make_unique<Service>(&stopped);
      });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(stopped.load(), 1);
  group->Stop();
}

TEST(ShardedTest, StopsCleanlyWithConnectionsOpen) {
  auto group = StartGroup(2, 64);
  absl::StatusOr<std::vector<int>> fds =
      TcpListener::OpenReusePort(*SocketAddress::Parse("127.0.0.1:0"), 2);
  ASSERT_TRUE(fds.ok());
  const SocketAddress address = *SocketAddress::LocalOf((*fds)[0]);
  Sharded<testing::EchoService> echo(*group);
  const std::vector<int> listen_fds = *fds;
  ASSERT_TRUE(echo.Start([&](int shard, Reactor& reactor) {
                    return testing::EchoService::Create(reactor, listen_fds[shard]);
                  })
                  .ok());
  // Open connections, each proven live by one echo, then left open.
  std::vector<int> clients;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<int> fd = testing::ConnectBlocking(address);
    ASSERT_TRUE(fd.ok());
    ASSERT_TRUE(testing::SendAll(*fd, "x").ok());
    ASSERT_TRUE(testing::RecvExactly(*fd, 1).ok());
    clients.push_back(*fd);
  }
  echo.Stop();
  group->Stop();
  // Every client sees its connection closed by the server.
  for (int fd : clients) {
    EXPECT_TRUE(testing::WaitForClose(fd).ok());
    close(fd);
  }
  // And nothing listens any more.
  EXPECT_FALSE(testing::ConnectBlocking(address).ok());
}

}  // namespace
}  // namespace sluice::reactor
