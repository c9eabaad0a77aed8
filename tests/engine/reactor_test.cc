#include "engine/reactor.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace sluice::engine {
namespace {

std::unique_ptr<Reactor> MakeReactor(unsigned ring_entries = 64) {
  ReactorOptions options;
  options.ring_entries = ring_entries;
  options.recv_buffer_count = 8;
  options.recv_buffer_size = 4096;
  absl::StatusOr<std::unique_ptr<Reactor>> reactor = Reactor::Create(options);
  EXPECT_TRUE(reactor.ok()) << reactor.status();
  return *std::move(reactor);
}

// Counts completions of NOP requests.
class CountingCompletion final : public Completion {
 public:
  void OnComplete(int32_t res, uint32_t /*flags*/) override {
    ++count;
    if (res != 0) ++errors;
    if (on_complete) on_complete();
  }
  int count = 0;
  int errors = 0;
  std::function<void()> on_complete;
};

TEST(ReactorTest, TimersFireInDeadlineOrder) {
  auto reactor = MakeReactor();
  std::vector<int> order;
  reactor->RunAfter(absl::Milliseconds(15), [&] {
    order.push_back(15);
    reactor->RequestStop();
  });
  reactor->RunAfter(absl::Milliseconds(5), [&] { order.push_back(5); });
  reactor->RunAfter(absl::Milliseconds(1), [&] { order.push_back(1); });
  reactor->Run();
  EXPECT_EQ(order, (std::vector<int>{1, 5, 15}));
}

TEST(ReactorTest, CancelledTimerDoesNotFire) {
  auto reactor = MakeReactor();
  bool cancelled_fired = false;
  TimerId doomed = reactor->RunAfter(absl::Milliseconds(2), [&] { cancelled_fired = true; });
  reactor->RunAfter(absl::Milliseconds(1), [&] { EXPECT_TRUE(reactor->CancelTimer(doomed)); });
  reactor->RunAfter(absl::Milliseconds(10), [&] { reactor->RequestStop(); });
  reactor->Run();
  EXPECT_FALSE(cancelled_fired);
}

TEST(ReactorTest, ManyTimersWithHalfCancelled) {
  auto reactor = MakeReactor();
  constexpr int kTimers = 100000;
  int fired = 0;
  std::vector<TimerId> ids;
  ids.reserve(kTimers);
  for (int i = 0; i < kTimers; ++i) {
    ids.push_back(reactor->RunAfter(absl::Microseconds(i % 2000), [&] { ++fired; }));
  }
  for (int i = 0; i < kTimers; i += 2) ASSERT_TRUE(reactor->CancelTimer(ids[i]));
  reactor->RunAfter(absl::Milliseconds(3), [&] { reactor->RequestStop(); });
  reactor->Run();
  EXPECT_EQ(fired, kTimers / 2);
}

TEST(ReactorTest, FullSubmissionQueueIsFlushedNotFatal) {
  // An 8-entry ring, and 1,000 requests prepared in one callback.
  auto reactor = MakeReactor(8);
  CountingCompletion nops;
  constexpr int kRequests = 1000;
  nops.on_complete = [&] {
    if (nops.count == kRequests) reactor->RequestStop();
  };
  reactor->Defer([&] {
    for (int i = 0; i < kRequests; ++i) io_uring_prep_nop(reactor->PrepareSqe(&nops));
  });
  reactor->Run();
  EXPECT_EQ(nops.count, kRequests);
  EXPECT_EQ(nops.errors, 0);
  EXPECT_EQ(reactor->in_flight(), 0u);
}

TEST(ReactorTest, StopWaitsForInFlightRequests) {
  auto reactor = MakeReactor();
  CountingCompletion timeout;
  __kernel_timespec ts{0, 20'000'000};  // a 20 ms kernel timeout request
  reactor->Defer([&] {
    io_uring_prep_timeout(reactor->PrepareSqe(&timeout), &ts, 0, 0);
    reactor->RequestStop();
  });
  reactor->Run();
  EXPECT_EQ(timeout.count, 1);  // Run() returned only after it completed
  EXPECT_EQ(reactor->in_flight(), 0u);
}

TEST(ReactorTest, DeferredTaskThatDefersRunsOnNextTurn) {
  auto reactor = MakeReactor();
  std::vector<int> order;
  reactor->Defer([&] {
    order.push_back(1);
    reactor->Defer([&] {
      order.push_back(3);
      reactor->RequestStop();
    });
  });
  reactor->Defer([&] { order.push_back(2); });
  reactor->Run();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace sluice::engine
