// RocksDbSpool: the Spool on RocksDB (its column families: queue/spool_db.h).
//
// Threads. One writer thread is the only caller of synced writes: it takes
// everything the shards submitted since its last commit, writes it as one
// WriteBatch with one WAL sync (group commit) and then completes each
// request on the shard that made it. The same thread runs the scheduler's
// loader, so the window it has loaded and the entries it commits never race.
// A reader thread serves Read(). Shards only push requests into lock-free
// queues.
//
// Scheduling. Only envelopes due within `schedule_window` are handed to the
// delivery side (through `due_sink`); the rest stay in the schedule index on
// disk and are loaded as their time comes, so a deep deferred queue costs
// disk, not memory.
//
// Errors: a failed write fails every request of its batch with kUnavailable
// and nothing of them is kept; later writes first try to resume the
// database (after a disk-full error, once there is room again).
//
// Operations (counts, listings, purge, reschedule-now) run on their own
// thread over a RocksDB snapshot, so a scan of millions of records never
// holds the writer up; their changes go through the writer like any other.
//
// The suppression list (queue/suppression.h) lives in the same database:
// ingest's lookups run on a thread of their own (one MultiGet per request,
// never queued behind delivery's reads or an operator's scan), listings,
// imports, exports and the sweep of expired entries on the operations
// thread, and every change goes through the writer, synced.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/mpmc_queue.h"
#include "common/task_thread.h"
#include "queue/spool.h"
#include "queue/spool_admin.h"
#include "queue/spool_db.h"
#include "queue/suppression.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace sluice::queue {

struct RocksDbSpoolOptions {
  std::string path;
  const common::Clock* clock = common::Clock::Real();

  // Group commit: after the first request arrives, wait this long for more
  // before writing, when the previous synced batch showed concurrent
  // submitters (0: never wait; the sync itself then batches).
  absl::Duration batch_delay = absl::Milliseconds(1);
  // A batch is written without waiting further once it holds this much.
  size_t max_batch_bytes = 16 << 20;
  // Requests waiting for the writer (or the reader) before submitters get
  // kUnavailable instead of queueing more.
  size_t queue_capacity = 1 << 16;

  // Envelopes due within this window are handed to `due_sink`.
  absl::Duration schedule_window = absl::Minutes(5);
  // How often the loader moves the window forward.
  absl::Duration loader_interval = absl::Seconds(1);
  // At most this many schedule entries are loaded per pass, so a large
  // backlog is fed in slices between commits instead of stalling them.
  size_t max_loaded_per_pass = 50'000;
  // After a failed write, how long to wait before trying to resume.
  absl::Duration resume_interval = absl::Milliseconds(500);

  // Runs `task` on shard `shard`: how completions get back to their shard.
  absl::AnyInvocable<void(int shard, absl::AnyInvocable<void()> task)> post;
  // Receives envelopes as they come due within the window, on the writer
  // thread; it must hand them on without blocking.
  absl::AnyInvocable<void(std::vector<ScheduledMessage>)> due_sink;
  // False: nothing goes to due_sink until StartScheduling(), so the
  // delivery side can be started after the spool it reads from.
  bool schedule_on_open = true;

  // Optional: synced commits, their size in requests and their latency.
  common::Counter* commits_metric = nullptr;
  common::Counter* write_errors_metric = nullptr;
  common::Histogram* batch_size_metric = nullptr;
  common::Histogram* commit_seconds_metric = nullptr;

  // Suppression: a gauge of the entries stored, and how often expired
  // entries are swept away (the first sweep runs at open).
  common::Gauge* suppression_entries_metric = nullptr;
  absl::Duration suppression_sweep_interval = absl::Hours(1);

  // For tests: a RocksDB Env that injects faults.
  rocksdb::Env* env = nullptr;
  // RocksDB's own write buffer (memtable) size.
  size_t write_buffer_bytes = 64 << 20;
};

class SpoolBatch;

class RocksDbSpool final : public Spool, public SpoolAdmin, public SuppressionList {
 public:
  // Opens (or creates) the spool and recovers it: every envelope is checked,
  // undecodable records move to quarantine, and the loader starts from the
  // beginning of the schedule, so every pending message is scheduled again.
  static absl::StatusOr<std::unique_ptr<RocksDbSpool>> Open(RocksDbSpoolOptions options);
  ~RocksDbSpool() override;

  void Enqueue(NewMessage message, Done done) override;
  void Update(Envelope envelope, Done done) override;
  void Remove(common::MessageId id, Done done) override;
  void Read(common::MessageId id,
            absl::AnyInvocable<void(absl::StatusOr<StoredMessage>)> done) override;

  // With schedule_on_open = false: starts handing due envelopes to
  // due_sink. Any thread.
  void StartScheduling();

  // SpoolAdmin (queue/spool_admin.h). Each answers once, on the operations
  // thread (or, when the caller is a shard, on that shard), with
  // kUnavailable if the operations thread is busy with too many requests.
  void Count(SpoolFilter filter, SpoolGroupBy group_by, CountDone done) override;
  void List(SpoolFilter filter, common::MessageId after, size_t limit, ListDone done) override;
  void Purge(SpoolFilter filter, AffectedDone done) override;
  void RescheduleNow(SpoolFilter filter, AffectedDone done) override;

  // SuppressionList (queue/suppression.h).
  bool MayHaveSuppressions() const override {
    return suppressions_.load(std::memory_order_relaxed) > 0;
  }
  void LookUpSuppressed(std::string tenant, std::vector<std::string> addresses,
                        LookupDone done) override;
  void Suppress(std::vector<SuppressionEntry> entries, SuppressDone done) override;
  void Unsuppress(std::string scope, std::vector<std::string> addresses, RemovedDone done) override;
  void ListSuppressed(std::string scope, std::string prefix, std::string after, size_t limit,
                      EntriesDone done) override;
  void ImportSuppressions(std::string scope, std::string csv, ImportDone done) override;
  void ExportSuppressions(std::string scope, TextDone done) override;
  // Entries stored, live or expired but not yet swept.
  int64_t suppressions() const { return suppressions_.load(std::memory_order_relaxed); }

  const RecoveryStats& recovery() const { return recovery_; }
  // Synced writes so far; for tests and metrics.
  uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }

 private:
  struct Request;

  explicit RocksDbSpool(RocksDbSpoolOptions options);
  // After a failed write: resumes RocksDB, or reopens it. Writer thread.
  absl::Status ResumeWriting();
  void Submit(std::unique_ptr<Request> request);
  void Complete(Request& request, absl::Status status);
  // Runs `work` on `thread`; its answer goes to the caller's shard (or runs
  // where it is produced, for a caller that is not a shard).
  template <typename Result>
  void RunOn(common::TaskThread& thread, absl::AnyInvocable<void(absl::StatusOr<Result>)> done,
             absl::AnyInvocable<absl::StatusOr<Result>()> work);
  absl::StatusOr<StoredMessage> ReadNow(const common::MessageId& id);
  // Calls `visit` for each envelope matching `filter`, over one snapshot.
  absl::Status ScanEnvelopes(const SpoolFilter& filter, const std::string& start,
                             absl::FunctionRef<bool(const Envelope&)> visit);
  // Sends ids to the writer in chunks (a remove or a reschedule) and waits;
  // operations thread only.
  absl::StatusOr<uint64_t> ApplyToMatching(const SpoolFilter& filter, bool remove);
  // Hands `request` to the writer and waits for its answer (how many it
  // changed); operations thread only.
  absl::StatusOr<uint64_t> SubmitAndWait(std::unique_ptr<Request> request);
  // Removes the suppression entries that have expired; operations thread.
  void SweepSuppressions();

  void WriterLoop();
  void WaitForWork(absl::Duration timeout);
  void CommitBatch(std::vector<std::unique_ptr<Request>>& batch);
  // Adds one request's writes to `batch` (queue/spool_batch.h says what a
  // failure leaves in it).
  absl::Status AddToBatch(Request& request, SpoolBatch& batch);
  void RunLoader();

  RocksDbSpoolOptions options_;
  RecoveryStats recovery_;
  // Only the writer closes and reopens db_ (after a write failure),
  // holding this exclusively; the reader and operations threads hold it
  // shared while they use db_. The writer's own reads need no lock.
  std::shared_mutex db_mutex_;
  SpoolDb db_;

  // Shards -> writer.
  common::MpmcQueue<std::unique_ptr<Request>> requests_;
  int wake_fd_ = -1;
  std::atomic<bool> writer_sleeping_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> scheduling_{false};
  std::atomic<uint64_t> commits_{0};
  std::atomic<int64_t> suppressions_{0};

  // Writer thread only.
  // Bodies shared by two or more live envelopes, with their count; a body
  // missing here has exactly one.
  absl::flat_hash_map<common::MessageId, uint32_t> shared_bodies_;
  // Every schedule entry with a key below this has been handed to due_sink;
  // the next loader pass starts here.
  std::string loader_resume_key_;
  common::SteadyTime next_loader_run_{};
  bool write_failed_ = false;
  size_t last_synced_batch_size_ = 0;
  common::SteadyTime next_resume_attempt_{};
  common::SteadyTime next_sweep_{};

  std::thread writer_;
  std::unique_ptr<common::TaskThread> reader_;
  std::unique_ptr<common::TaskThread> suppression_reader_;
  std::unique_ptr<common::TaskThread> operations_;
  // The writer posts sweeps to operations_ under this lock, and never
  // once the destructor has set operations_closed_.
  std::mutex operations_mutex_;
  bool operations_closed_ = false;
};

}  // namespace sluice::queue
