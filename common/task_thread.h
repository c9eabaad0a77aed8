// TaskThread: one ordinary (non-shard) thread that runs posted tasks in
// order; for work that may block, such as reading from RocksDB.
//
// Post() never blocks and takes no lock, so shards may call it: tasks go
// through a bounded lock-free queue and the thread is woken with C++20
// atomic wait/notify. When the queue is full Post() returns false and
// leaves the task with the caller, who answers its own client with a
// temporary error. The destructor runs what is queued, then joins.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "common/mpmc_queue.h"

namespace sluice::common {

class TaskThread {
 public:
  using Task = absl::AnyInvocable<void()>;

  TaskThread(std::string name, size_t capacity);
  ~TaskThread();
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;

  bool Post(Task&& task);

 private:
  void Loop();

  MpmcQueue<Task> queue_;
  // 32 bits: libstdc++ waits on a 32-bit atomic with a futex on its own
  // address; a 64-bit one shares a proxy futex with unrelated waiters, so
  // every post would wake other idle threads too.
  std::atomic<uint32_t> posted_{0};
  // The loop is (about to be) asleep: only then does Post() notify.
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sluice::common
