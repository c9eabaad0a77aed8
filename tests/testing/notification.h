// Notification: absl::Notification's interface on std::mutex and
// std::condition_variable. Debian's abseil is not built for ThreadSanitizer,
// so TSan cannot see absl::Mutex synchronise and reports races on data it
// guards; the standard library's primitives it does see. Tests that hand
// results between threads use this one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/time/time.h"

namespace sluice::testing {

class Notification {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mutex_);
    notified_ = true;
    cv_.notify_all();
  }

  bool HasBeenNotified() {
    std::lock_guard<std::mutex> lock(mutex_);
    return notified_;
  }

  // Returns false if `timeout` passed first. A bound on a wait for an event,
  // never a way to let time pass.
  bool WaitForNotificationWithTimeout(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] { return notified_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool notified_ = false;
};

}  // namespace sluice::testing
