// EventLog: the delivery event log, JSON lines (delivery_event.h) appended
// to a file by a thread of its own, so shard threads never block on it.
//
// Log() and LogLine() may be called from any thread. They never block and
// take no lock: the line goes into a bounded lock-free queue (MpmcQueue)
// and the writer thread is woken with a futex only when it sleeps. When the
// queue is full the line is dropped and counted (dropped(), and the
// optional `dropped` counter); nothing else is allocated per line beyond
// the line itself.
//
// The writer thread drains the queue and writes many lines per write(2)
// (up to max_batch_bytes). It rotates by size: before a line would take
// the file past max_bytes (and the file is not empty), `path` becomes
// `path.1`, `path.1` becomes `path.2` and so on up to `path.<max_files>`
// (the oldest is replaced), and a new `path` is opened; max_files = 0 keeps
// no old files. Data reaches the kernel at once; fdatasync follows
// flush_interval after the first unsynced write, at rotation, Flush() and
// Close(). Reopen() closes and reopens `path` for an external logrotate
// (after it renamed the file); it is async-signal-safe, so a SIGHUP handler
// may call it.
//
// Errors: Open() reports a file that cannot be opened. Later I/O errors
// (disk full) lose the lines concerned, which write_errors() counts; they
// are logged once per run of failures, and Close() returns the first one.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "common/mpmc_queue.h"
#include "engine/delivery_event.h"

namespace sluice::engine {

struct EventLogOptions {
  std::string path;                        // "/var/log/sluice/events.jsonl"
  uint64_t max_bytes = uint64_t{1} << 30;  // rotate before exceeding; 0 = never
  int max_files = 10;                      // rotated files kept: path.1 .. path.N
  size_t queue_capacity = 1 << 16;         // lines; rounded up to a power of two
  absl::Duration flush_interval = absl::Seconds(1);
  size_t max_batch_bytes = 1 << 20;    // per write(2)
  common::Counter* written = nullptr;  // lines written, optional
  common::Counter* dropped = nullptr;  // lines dropped (queue full or closed), optional
};

class EventLog {
 public:
  // Opens (creates, appends to) options.path and starts the writer thread.
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(EventLogOptions options);

  // Close()s.
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Formats `event` on the calling thread and queues it. False if dropped.
  bool Log(const DeliveryEvent& event);
  // Queues one line (without its newline; it must not contain one). False
  // if dropped (queue full, or the log is closed).
  bool LogLine(std::string line);

  // Makes the writer reopen the file. Async-signal-safe; returns at once,
  // so lines logged just after it may still go to the old file; once a
  // later Flush() returns, the reopen has happened.
  void Reopen();

  // Blocks until every line queued before the call is written and synced.
  // Not for shard threads. Waits for ResumeForTest() while paused.
  void Flush();

  // Writes everything queued, syncs, closes the file and joins the writer.
  // Lines logged after it begins are dropped (a Log racing with Close may
  // also be lost). Returns the first I/O error of the log's life, if any.
  // Idempotent.
  absl::Status Close();

  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t write_errors() const { return write_errors_.load(std::memory_order_relaxed); }
  uint64_t rotations() const { return rotations_.load(std::memory_order_relaxed); }

  // Test hooks: stalls the writer thread (it takes nothing from the queue
  // once PauseForTest returns) and lets it go on. Close() ends a pause.
  void PauseForTest();
  void ResumeForTest();

 private:
  EventLog(EventLogOptions options, int fd, uint64_t size);

  void Wake();
  void Run();
  // Pops and writes every ready line; true if there was any.
  bool DrainAndWrite();
  void WriteBuffer();
  void Sync();
  void Rotate();
  void ReopenFile();
  void NoteError(absl::Status status);
  bool ShouldWake(uint64_t flush_seen, bool paused) const;

  const EventLogOptions options_;
  common::MpmcQueue<std::string> queue_;

  // Writer thread only.
  int fd_;
  uint64_t size_;  // bytes in the current file
  std::string buffer_;
  uint64_t buffered_lines_ = 0;
  bool dirty_ = false;  // written since the last sync
  bool failing_ = false;
  absl::Status first_error_;  // read by Close() after the join

  std::atomic<bool> closed_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> reopen_{false};
  std::atomic<bool> paused_{false};
  std::atomic<uint64_t> pause_requested_{0};
  std::atomic<uint64_t> pause_acked_{0};
  std::atomic<uint64_t> flush_requested_{0};
  std::atomic<uint64_t> flush_done_{0};
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> rotations_{0};
  // 1 while the writer waits (or is about to); producers reset it and wake
  // the writer. Every write is a read-modify-write, which makes the
  // handshake sound (see common/logging.cc). A cache line of its own.
  alignas(64) std::atomic<uint32_t> sleeping_{0};
  // Lines pushed since the writer last drained (wake-up batching).
  alignas(64) std::atomic<uint32_t> unwoken_{0};
  std::thread thread_;
};

}  // namespace sluice::engine
