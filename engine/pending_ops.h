// PendingOps: the asynchronous calls (spool reads and writes, DNS lookups)
// that one shard's delivery components have in flight, so that a stopping
// engine knows when the last answer has come back. Single-threaded.
#pragma once

#include <cstdint>
#include <utility>

#include "absl/functional/any_invocable.h"

namespace sluice::engine {

class PendingOps {
 public:
  PendingOps() = default;
  // `on_idle` runs each time the count drops to zero.
  explicit PendingOps(absl::AnyInvocable<void()> on_idle) : on_idle_(std::move(on_idle)) {}

  void Begin() { ++count_; }
  void End() {
    if (--count_ == 0 && on_idle_) on_idle_();
  }
  uint64_t count() const { return count_; }

 private:
  absl::AnyInvocable<void()> on_idle_;
  uint64_t count_ = 0;
};

}  // namespace sluice::engine
