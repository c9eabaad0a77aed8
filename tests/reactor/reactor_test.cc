#include "reactor/reactor.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "common/fake_clock.h"
#include "common/metrics.h"

namespace sluice::reactor {
namespace {

// A small reactor, on `clock` when one is given.
std::unique_ptr<Reactor> MakeReactor(unsigned ring_entries = 64,
                                     const common::Clock* clock = nullptr) {
  ReactorOptions options;
  options.ring_entries = ring_entries;
  options.recv_buffer_count = 8;
  options.recv_buffer_size = 4096;
  if (clock != nullptr) options.clock = clock;
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
  // On a fake clock, so the deadlines are exactly 1, 5 and 15 ms however
  // long the registrations take on a loaded machine; one step past them
  // all makes every timer due in the same pass.
  common::FakeClock clock;
  auto reactor = MakeReactor(64, &clock);
  std::vector<int> order;
  reactor->RunAfter(absl::Milliseconds(15), [&] {
    order.push_back(15);
    reactor->RequestStop();
  });
  reactor->RunAfter(absl::Milliseconds(5), [&] { order.push_back(5); });
  reactor->RunAfter(absl::Milliseconds(1), [&] { order.push_back(1); });
  reactor->Defer([&] { clock.Advance(absl::Milliseconds(20)); });
  reactor->Run();
  EXPECT_EQ(order, (std::vector<int>{1, 5, 15}));
}

TEST(ReactorTest, LagProbeObservesHowLateItsTimerRan) {
  common::FakeClock clock;
  auto reactor = MakeReactor(64, &clock);
  common::MetricsRegistry registry(0);
  common::Histogram* lag =
      registry.AddHistogram("sluice_test_lag_seconds", "Lag.", {0.1, 0.2, 0.5}).value();
  reactor->StartLagProbe(lag, absl::Milliseconds(100));
  // A callback due at 50 ms holds the loop until 350 ms: the probe due at
  // 100 ms runs 250 ms late. A timer at 340 ms stops the loop right after
  // it (same pass, later deadline), before the next probe at 450 ms.
  reactor->RunAfter(absl::Milliseconds(50), [&] { clock.Advance(absl::Milliseconds(300)); });
  reactor->RunAfter(absl::Milliseconds(340), [&] { reactor->RequestStop(); });
  reactor->Defer([&] { clock.Advance(absl::Milliseconds(50)); });
  reactor->Run();
  const common::Histogram::Snapshot snapshot = lag->Read();
  EXPECT_EQ(snapshot.count, 1u);
  EXPECT_DOUBLE_EQ(snapshot.sum, 0.25);
  EXPECT_EQ(snapshot.cumulative, (std::vector<uint64_t>{0, 0, 1, 1}));
}

TEST(ReactorTest, LagProbeRearmsItselfOnTheRealClock) {
  auto reactor = MakeReactor();
  common::MetricsRegistry registry(0);
  common::Histogram* lag =
      registry.AddHistogram("sluice_test_lag_seconds", "Lag.", {0.001, 0.1, 1}).value();
  reactor->StartLagProbe(lag, absl::Milliseconds(2));
  reactor->RunAfter(absl::Milliseconds(30), [&] { reactor->RequestStop(); });
  reactor->Run();
  const common::Histogram::Snapshot snapshot = lag->Read();
  EXPECT_GE(snapshot.count, 2u);  // about 15 in 30 ms on an idle machine
  EXPECT_GE(snapshot.sum, 0.0);   // never early
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
}  // namespace sluice::reactor
