#include "common/task_thread.h"

#include <pthread.h>

#include <utility>

namespace sluice::common {

TaskThread::TaskThread(std::string name, size_t capacity) : queue_(capacity) {
  thread_ = std::thread([this, name = std::move(name)] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    Loop();
  });
}

TaskThread::~TaskThread() {
  stop_.store(true, std::memory_order_release);
  posted_.fetch_add(1, std::memory_order_acq_rel);
  posted_.notify_one();
  thread_.join();
}

bool TaskThread::Post(Task&& task) {
  if (!queue_.TryPush(std::move(task))) return false;
  // Dekker-style with Loop(): either it sees this post before sleeping, or
  // this sees it asleep and wakes it (both sides are sequentially
  // consistent).
  posted_.fetch_add(1, std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst)) posted_.notify_one();
  return true;
}

void TaskThread::Loop() {
  Task task;
  while (true) {
    // Read the counter before draining: a post that lands after the drain
    // changes it, so wait() returns at once instead of sleeping on it.
    const uint64_t seen = posted_.load(std::memory_order_acquire);
    while (queue_.TryPop(&task)) {
      task();
      task = nullptr;
    }
    if (stop_.load(std::memory_order_acquire)) break;
    sleeping_.store(true, std::memory_order_seq_cst);
    if (posted_.load(std::memory_order_seq_cst) == seen)
      posted_.wait(seen, std::memory_order_acquire);
    sleeping_.store(false, std::memory_order_relaxed);
  }
  while (queue_.TryPop(&task)) task();
}

}  // namespace sluice::common
