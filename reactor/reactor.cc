#include "reactor/reactor.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "common/status_macros.h"

namespace sluice::reactor {
namespace {

// user_data encoding. Completion objects are at least 8-byte aligned, so the
// low bit is free to mark requests that do not count towards draining.
constexpr uint64_t kBackgroundBit = 1;
constexpr uint16_t kRecvBufferGroup = 0;

uint64_t Encode(Completion* completion, bool background) {
  return reinterpret_cast<uintptr_t>(completion) | (background ? kBackgroundBit : 0);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Reactor>> Reactor::Create(const ReactorOptions& options) {
  std::unique_ptr<Reactor> reactor(new Reactor(options));
  io_uring_params params{};
  // One thread submits and reaps (SINGLE_ISSUER), and task work runs only
  // when we ask for completions (DEFER_TASKRUN): fewer interrupts, better
  // batching. Older kernels refuse the flags; fall back to a plain ring.
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  params.cq_entries = options.ring_entries * 4;
  params.flags |= IORING_SETUP_CQSIZE;
  int rc = io_uring_queue_init_params(options.ring_entries, &reactor->ring_, &params);
  if (rc == -EINVAL) {
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = options.ring_entries * 4;
    rc = io_uring_queue_init_params(options.ring_entries, &reactor->ring_, &params);
  }
  if (rc < 0) return absl::UnavailableError(absl::StrCat("io_uring_queue_init: ", strerror(-rc)));
  reactor->ring_ready_ = true;
  SLUICE_ASSIGN_OR_RETURN(reactor->recv_buffers_,
                          BufferRing::Create(&reactor->ring_, kRecvBufferGroup,
                                             options.recv_buffer_count, options.recv_buffer_size));
  return reactor;
}

Reactor::Reactor(const ReactorOptions& options)
    : clock_(options.clock), stop_grace_(options.stop_grace) {}

Reactor::~Reactor() {
  recv_buffers_.reset();
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

io_uring_sqe* Reactor::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    // The submission queue is full: hand what is queued to the kernel.
    // With IORING_FEAT_NODROP the kernel keeps completions it cannot post
    // yet, so a full completion queue delays but never loses them.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

io_uring_sqe* Reactor::PrepareSqe(Completion* completion) {
  io_uring_sqe* sqe = GetSqe();
  ++in_flight_;
  io_uring_sqe_set_data64(sqe, Encode(completion, false));
  return sqe;
}

io_uring_sqe* Reactor::PrepareBackgroundSqe(Completion* completion) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_sqe_set_data64(sqe, Encode(completion, true));
  return sqe;
}

io_uring_sqe* Reactor::PrepareUnobservedSqe() { return PrepareSqe(nullptr); }

void Reactor::ReserveSqes(unsigned n) {
  if (io_uring_sq_space_left(&ring_) < n) io_uring_submit(&ring_);
}

void Reactor::Cancel(Completion* completion) {
  io_uring_prep_cancel64(PrepareUnobservedSqe(), Encode(completion, false), 0);
}

void Reactor::CancelAll(int fd) {
  io_uring_prep_cancel_fd(PrepareUnobservedSqe(), fd, IORING_ASYNC_CANCEL_ALL);
}

TimerId Reactor::RunAt(common::SteadyTime deadline, TimerQueue::Callback callback) {
  return timers_.Add(deadline, std::move(callback));
}

TimerId Reactor::RunAfter(absl::Duration delay, TimerQueue::Callback callback) {
  return timers_.Add(clock_->SteadyNow() + absl::ToChronoNanoseconds(delay), std::move(callback));
}

void Reactor::StartLagProbe(common::Histogram* histogram, absl::Duration period) {
  if (histogram == nullptr || period <= absl::ZeroDuration() || lag_histogram_ != nullptr) return;
  lag_histogram_ = histogram;
  lag_period_ = period;
  ArmLagProbe(clock_->SteadyNow() + absl::ToChronoNanoseconds(period));
}

void Reactor::ArmLagProbe(common::SteadyTime deadline) {
  timers_.Add(deadline, [this, deadline] {
    const common::SteadyTime now = clock_->SteadyNow();
    lag_histogram_->Observe(std::chrono::duration<double>(now - deadline).count());
    // From now, not from the old deadline: a stalled loop gets one late
    // observation, not a burst of catch-up ones.
    ArmLagProbe(now + absl::ToChronoNanoseconds(lag_period_));
  });
}

void Reactor::Defer(absl::AnyInvocable<void()> task) { deferred_.push_back(std::move(task)); }

void Reactor::RunDeferred() {
  // Only what was queued before we started: a task that defers another
  // waits for the next turn of the loop.
  for (size_t n = deferred_.size(); n > 0 && !deferred_.empty(); --n) {
    absl::AnyInvocable<void()> task = std::move(deferred_.front());
    deferred_.pop_front();
    task();
  }
}

void Reactor::Run() {
  common::SteadyTime stop_deadline{};
  bool stop_seen = false;
  while (true) {
    ++loop_iterations_;
    if (hook_ != nullptr) hook_->Poll();
    timers_.RunExpired(clock_->SteadyNow());
    RunDeferred();
    if (stop_requested_) {
      if (!stop_seen) {
        stop_seen = true;
        stop_deadline = clock_->SteadyNow() + absl::ToChronoNanoseconds(stop_grace_);
      }
      if ((in_flight_ == 0 && deferred_.empty()) || clock_->SteadyNow() >= stop_deadline) break;
    }
    bool may_sleep = deferred_.empty();
    if (may_sleep && hook_ != nullptr) may_sleep = hook_->PrepareToSleep();
    Wait(may_sleep);
    if (hook_ != nullptr) hook_->Woke();
    ReapCompletions();
  }
  // Submit whatever the last callbacks queued (closes, cancellations).
  io_uring_submit(&ring_);
  stop_requested_ = false;
}

void Reactor::Wait(bool may_sleep) {
  io_uring_cqe* cqe = nullptr;
  if (!may_sleep) {
    io_uring_submit(&ring_);
    return;
  }
  std::optional<common::SteadyTime> deadline = timers_.NextDeadline();
  if (stop_requested_) {
    // Wake up periodically to check the drain deadline.
    const common::SteadyTime poll = clock_->SteadyNow() + std::chrono::milliseconds(100);
    if (!deadline || *deadline > poll) deadline = poll;
  }
  if (!deadline) {
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, nullptr, nullptr);
    return;
  }
  const auto wait = *deadline - clock_->SteadyNow();
  if (wait <= std::chrono::nanoseconds(0)) {
    io_uring_submit(&ring_);
    return;
  }
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
  __kernel_timespec ts{};
  ts.tv_sec = ns / 1'000'000'000;
  ts.tv_nsec = ns % 1'000'000'000;
  // -ETIME (timer due) and -EINTR (a signal) both just mean "go round".
  io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
}

void Reactor::ReapCompletions() {
  // Callbacks may submit more requests (and so produce more completions);
  // keep reaping until the queue is empty, in batches.
  io_uring_cqe* cqes[256];
  while (true) {
    const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, 256);
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) {
      const uint64_t data = io_uring_cqe_get_data64(cqes[i]);
      const int32_t res = cqes[i]->res;
      const uint32_t flags = cqes[i]->flags;
      const bool background = (data & kBackgroundBit) != 0;
      Completion* completion = reinterpret_cast<Completion*>(data & ~kBackgroundBit);
      // Account before the callback: it may destroy the completion's owner.
      if (!background && (flags & IORING_CQE_F_MORE) == 0) --in_flight_;
      if (completion != nullptr) completion->OnComplete(res, flags);
    }
    io_uring_cq_advance(&ring_, n);
    if (n < 256) break;
  }
}

}  // namespace sluice::reactor
