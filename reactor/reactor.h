// Reactor: one io_uring event loop, owned by one shard thread.
//
// Everything a shard does (sockets, timers, work posted from other shards)
// runs as callbacks from Run(), on the thread that created the Reactor, and
// never blocks: system calls go through the ring, waiting happens only in
// io_uring_submit_and_wait_timeout. Not thread-safe: other threads reach a
// reactor only through its shard's Inbox (see ShardGroup).
//
// Requests: PrepareSqe() returns an SQE whose user_data points at the given
// Completion; the caller then fills it with an io_uring_prep_* helper (they
// leave user_data alone but reset sqe->flags, so IOSQE_* flags go after). When the submission queue
// is full the pending entries are submitted to make room, so a burst never fails. Requests are
// counted until their final CQE, which is how a stopping reactor knows it has drained.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <deque>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "reactor/buffer_ring.h"
#include "reactor/completion.h"
#include "reactor/timer_queue.h"

namespace sluice::common {
class Histogram;
}  // namespace sluice::common

namespace sluice::reactor {

// Work that reaches a reactor from outside its ring (cross-shard inboxes).
class LoopHook {
 public:
  virtual ~LoopHook() = default;
  // Runs whatever is pending.
  virtual void Poll() = 0;
  // Called right before the loop sleeps. Returns false if work arrived in
  // the meantime, in which case the loop polls again instead of sleeping.
  virtual bool PrepareToSleep() = 0;
  // Called when the loop wakes up.
  virtual void Woke() = 0;
};

struct ReactorOptions {
  unsigned ring_entries = 4096;
  // Provided receive buffers: count (power of two) x size bytes per shard.
  uint32_t recv_buffer_count = 1024;
  uint32_t recv_buffer_size = 16 * 1024;
  // How long a stopping reactor waits for in-flight requests to finish.
  absl::Duration stop_grace = absl::Seconds(10);
  const common::Clock* clock = common::Clock::Real();
};

class Reactor {
 public:
  // Must be called on the thread that will call Run(): the ring is created
  // with IORING_SETUP_SINGLE_ISSUER where the kernel supports it.
  static absl::StatusOr<std::unique_ptr<Reactor>> Create(const ReactorOptions& options = {});
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // An SQE for a request that reports to `completion`, counted as in flight
  // until its final CQE. Never returns null.
  io_uring_sqe* PrepareSqe(Completion* completion);
  // The same for a request that lives as long as the loop (an inbox read),
  // which must not keep a stopping reactor alive.
  io_uring_sqe* PrepareBackgroundSqe(Completion* completion);
  // An SQE whose result nobody needs (cancellations, linked timeouts).
  io_uring_sqe* PrepareUnobservedSqe();

  // Makes sure the next `n` SQEs come from one submission batch, which a
  // linked chain (IOSQE_IO_LINK) needs.
  void ReserveSqes(unsigned n);
  // Asks the kernel to cancel the request reporting to `completion`; its
  // final CQE (usually -ECANCELED) still arrives.
  void Cancel(Completion* completion);
  // Cancels every request on `fd`.
  void CancelAll(int fd);

  TimerId RunAt(common::SteadyTime deadline, TimerQueue::Callback callback);
  TimerId RunAfter(absl::Duration delay, TimerQueue::Callback callback);
  bool CancelTimer(TimerId id) { return timers_.Cancel(id); }

  // Runs `task` on this loop soon, after the current callback returns.
  void Defer(absl::AnyInvocable<void()> task);

  // Runs until RequestStop() and then until every counted request has
  // completed (or stop_grace has passed). May run again afterwards (tests
  // drive a loop in steps).
  void Run();
  void RequestStop() { stop_requested_ = true; }

  void SetLoopHook(LoopHook* hook) { hook_ = hook; }

  // Loop lag: every `period`, a timer observes into `histogram` how late
  // it ran, in seconds (from its deadline to the moment its callback ran:
  // the time the loop spent on other callbacks or could not wake up). On
  // the loop's thread; `histogram` must outlive the reactor. Timers do not
  // keep a stopping reactor alive, so this needs no stopping.
  void StartLagProbe(common::Histogram* histogram, absl::Duration period);

  const common::Clock& clock() const { return *clock_; }
  BufferRing& recv_buffers() { return *recv_buffers_; }
  uint64_t in_flight() const { return in_flight_; }
  uint64_t loop_iterations() const { return loop_iterations_; }

 private:
  explicit Reactor(const ReactorOptions& options);

  io_uring_sqe* GetSqe();
  void RunDeferred();
  void Wait(bool may_sleep);
  void ReapCompletions();
  void ArmLagProbe(common::SteadyTime deadline);

  io_uring ring_{};
  bool ring_ready_ = false;
  const common::Clock* clock_;
  const absl::Duration stop_grace_;
  std::unique_ptr<BufferRing> recv_buffers_;
  TimerQueue timers_;
  std::deque<absl::AnyInvocable<void()>> deferred_;
  LoopHook* hook_ = nullptr;
  common::Histogram* lag_histogram_ = nullptr;
  absl::Duration lag_period_;
  uint64_t in_flight_ = 0;
  uint64_t loop_iterations_ = 0;
  bool stop_requested_ = false;
};

}  // namespace sluice::reactor
