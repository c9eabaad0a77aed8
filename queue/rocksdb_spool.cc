#include "queue/rocksdb_spool.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/thread_shard.h"
#include "queue/rocksdb_convert.h"
#include "queue/spool_batch.h"
#include "queue/spool_keys.h"
#include "queue/suppression_csv.h"
#include "queue/suppression_records.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace sluice::queue {

// One submission from a shard (or any thread).
struct RocksDbSpool::Request {
  enum class Kind { kEnqueue, kUpdate, kRemove, kReschedule, kSuppress, kUnsuppress };
  Kind kind = Kind::kEnqueue;
  int origin_shard = -1;
  // Status, and how many envelopes a kRemove or kReschedule changed.
  absl::AnyInvocable<void(absl::Status, uint64_t)> done;
  NewMessage message;                     // kEnqueue
  Envelope envelope;                      // kUpdate
  std::vector<common::MessageId> ids;     // kRemove, kReschedule
  int64_t due_unix_ms = 0;                // kReschedule
  std::vector<SuppressionEntry> entries;  // kSuppress
  std::vector<std::string> keys;          // kUnsuppress
  int64_t expired_at = 0;                 // kUnsuppress: a sweep's time, 0: unconditional
  size_t bytes = 0;
  uint64_t affected = 0;
};

RocksDbSpool::RocksDbSpool(RocksDbSpoolOptions options)
    : options_(std::move(options)),
      db_(options_.path, options_.env, options_.write_buffer_bytes, options_.clock),
      requests_(options_.queue_capacity) {}

absl::StatusOr<std::unique_ptr<RocksDbSpool>> RocksDbSpool::Open(RocksDbSpoolOptions options) {
  std::unique_ptr<RocksDbSpool> spool(new RocksDbSpool(std::move(options)));
  SLUICE_RETURN_IF_ERROR(spool->db_.Open(/*read_only=*/false));
  SLUICE_ASSIGN_OR_RETURN(spool->recovery_, spool->db_.Recover(&spool->shared_bodies_));
  SLUICE_ASSIGN_OR_RETURN(
      const SuppressionCensus census,
      TakeSuppressionCensus(spool->db_, absl::ToUnixMillis(spool->options_.clock->Now())));
  spool->suppressions_.store(static_cast<int64_t>(census.entries), std::memory_order_relaxed);
  if (spool->options_.suppression_entries_metric != nullptr) {
    spool->options_.suppression_entries_metric->Set(static_cast<int64_t>(census.entries));
  }
  // The loader starts at the beginning of the schedule: everything overdue
  // is due now, and is handed out again.
  spool->loader_resume_key_.clear();
  spool->scheduling_.store(spool->options_.schedule_on_open, std::memory_order_relaxed);
  spool->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (spool->wake_fd_ < 0) {
    return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  }
  spool->reader_ =
      std::make_unique<common::TaskThread>("spool-reader", spool->options_.queue_capacity);
  spool->suppression_reader_ =
      std::make_unique<common::TaskThread>("spool-suppress", spool->options_.queue_capacity);
  spool->operations_ = std::make_unique<common::TaskThread>("spool-ops", 64);
  spool->writer_ = std::thread([s = spool.get()] {
    pthread_setname_np(pthread_self(), "spool-writer");
    s->WriterLoop();
  });
  return spool;
}

absl::Status RocksDbSpool::ResumeWriting() {
  // After a failed flush or compaction RocksDB resumes in place, once the
  // disk has room again.
  if (db_.is_open() && !db_.read_only() && db_.db()->Resume().ok()) return absl::OkStatus();
  // A failed WAL write stops it for good: reopen, which replays what did
  // reach the disk. A failed batch can reappear that way (its submitter
  // was told to try again, so at worst the message goes out twice); the
  // body reference counts are rebuilt from what is stored, and the loader
  // keeps its place.
  std::unique_lock<std::shared_mutex> lock(db_mutex_);
  db_.Close();
  absl::Status opened = db_.Open(/*read_only=*/false);
  if (opened.ok()) return db_.Recover(&shared_bodies_).status();
  // The disk still fails: keep serving reads (and the loader) from a
  // read-only instance until the next attempt.
  db_.Close();
  if (absl::Status read_only = db_.Open(/*read_only=*/true); !read_only.ok()) {
    SLUICE_LOG(kError, "spool cannot be reopened, not even read-only")
        .Field("error", read_only.message());
  }
  return opened;
}

RocksDbSpool::~RocksDbSpool() {
  // Operations first: they may still be feeding the writer (which then
  // posts no more sweeps to them).
  {
    std::lock_guard<std::mutex> lock(operations_mutex_);
    operations_closed_ = true;
  }
  operations_.reset();
  if (writer_.joinable()) {
    stopping_.store(true, std::memory_order_release);
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
    writer_.join();  // commits what was submitted before returning
  }
  reader_.reset();
  suppression_reader_.reset();
  db_.Flush();
  if (wake_fd_ >= 0) close(wake_fd_);
  db_.Close();
}

void RocksDbSpool::Enqueue(NewMessage message, Done done) {
  auto request = std::make_unique<Request>();
  request->kind = Request::Kind::kEnqueue;
  request->bytes = message.body.size() + 256 * message.envelopes.size();
  request->message = std::move(message);
  request->done = [done = std::move(done)](absl::Status status, uint64_t) mutable {
    done(std::move(status));
  };
  Submit(std::move(request));
}

void RocksDbSpool::Update(Envelope envelope, Done done) {
  auto request = std::make_unique<Request>();
  request->kind = Request::Kind::kUpdate;
  request->bytes = 256;
  request->envelope = std::move(envelope);
  request->done = [done = std::move(done)](absl::Status status, uint64_t) mutable {
    done(std::move(status));
  };
  Submit(std::move(request));
}

void RocksDbSpool::Remove(common::MessageId id, Done done) {
  auto request = std::make_unique<Request>();
  request->kind = Request::Kind::kRemove;
  request->bytes = 64;
  request->ids.push_back(id);
  request->done = [id, done = std::move(done)](absl::Status status, uint64_t affected) mutable {
    if (status.ok() && affected == 0) {
      status = absl::NotFoundError(absl::StrCat("message ", id.ToString(), " is not spooled"));
    }
    done(std::move(status));
  };
  Submit(std::move(request));
}

void RocksDbSpool::Submit(std::unique_ptr<Request> request) {
  request->origin_shard = common::CurrentShard();
  if (stopping_.load(std::memory_order_acquire) || !requests_.TryPush(std::move(request))) {
    // Full (the disk cannot keep up) or shutting down: a temporary failure
    // for the submitter, who still holds the message.
    Complete(*request, absl::UnavailableError("spool is busy; try again later"));
    return;
  }
  if (writer_sleeping_.exchange(false, std::memory_order_acq_rel)) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  }
}

void RocksDbSpool::Complete(Request& request, absl::Status status) {
  auto done = std::move(request.done);
  if (!done) return;
  const uint64_t affected = request.affected;
  if (request.origin_shard >= 0 && options_.post) {
    options_.post(request.origin_shard,
                  [done = std::move(done), status = std::move(status), affected]() mutable {
                    done(std::move(status), affected);
                  });
  } else {
    done(std::move(status), affected);
  }
}

template <typename Result>
void RocksDbSpool::RunOn(common::TaskThread& thread,
                         absl::AnyInvocable<void(absl::StatusOr<Result>)> done,
                         absl::AnyInvocable<absl::StatusOr<Result>()> work) {
  struct Job {
    RocksDbSpool* spool;
    int origin;
    absl::AnyInvocable<void(absl::StatusOr<Result>)> done;
    absl::AnyInvocable<absl::StatusOr<Result>()> work;

    void Answer(absl::StatusOr<Result> result) {
      if (origin >= 0 && spool->options_.post) {
        spool->options_.post(origin,
                             [done = std::move(done), result = std::move(result)]() mutable {
                               done(std::move(result));
                             });
      } else {
        done(std::move(result));
      }
    }
  };
  auto job =
      std::make_unique<Job>(Job{this, common::CurrentShard(), std::move(done), std::move(work)});
  Job* raw = job.get();
  common::TaskThread::Task task = [job = std::move(job)]() mutable { job->Answer(job->work()); };
  // A refused task stays with us, and the job with it.
  if (!thread.Post(std::move(task))) {
    raw->Answer(absl::UnavailableError("spool is busy; try again later"));
  }
}

absl::StatusOr<StoredMessage> RocksDbSpool::ReadNow(const common::MessageId& id) {
  std::shared_lock<std::shared_mutex> lock(db_mutex_);
  if (!db_.is_open()) return absl::UnavailableError("spool is reopening after a write failure");
  StoredMessage message;
  SLUICE_ASSIGN_OR_RETURN(message.envelope, db_.ReadEnvelope(id));
  SLUICE_RETURN_IF_ERROR(
      FromRocks(db_.db()->Get(rocksdb::ReadOptions(), db_.bodies(),
                              ToSlice(message.envelope.body_id()), &message.body),
                "read body"));
  return message;
}

void RocksDbSpool::Read(common::MessageId id,
                        absl::AnyInvocable<void(absl::StatusOr<StoredMessage>)> done) {
  RunOn<StoredMessage>(*reader_, std::move(done), [this, id] { return ReadNow(id); });
}

void RocksDbSpool::WaitForWork(absl::Duration timeout) {
  // Announce, then look: a submitter that pushed before seeing the flag is
  // found by the check; one that pushes after it writes the eventfd.
  writer_sleeping_.exchange(true, std::memory_order_acq_rel);
  if (requests_.Empty() && !stopping_.load(std::memory_order_acquire)) {
    pollfd p{wake_fd_, POLLIN, 0};
    const int ms = static_cast<int>(
        std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout + absl::Microseconds(999))));
    poll(&p, 1, ms);
    uint64_t drained;
    [[maybe_unused]] ssize_t n = read(wake_fd_, &drained, sizeof(drained));
  }
  writer_sleeping_.store(false, std::memory_order_release);
}

void RocksDbSpool::WriterLoop() {
  std::vector<std::unique_ptr<Request>> batch;
  std::unique_ptr<Request> request;
  while (true) {
    if (options_.clock->SteadyNow() >= next_loader_run_) RunLoader();
    if (options_.clock->SteadyNow() >= next_sweep_) {
      next_sweep_ = options_.clock->SteadyNow() +
                    absl::ToChronoNanoseconds(options_.suppression_sweep_interval);
      std::lock_guard<std::mutex> lock(operations_mutex_);
      // Refused when the operations thread is full: the next interval
      // tries again.
      if (!operations_closed_) operations_->Post([this] { SweepSuppressions(); });
    }
    if (requests_.Empty()) {
      if (stopping_.load(std::memory_order_acquire)) break;
      WaitForWork(absl::FromChrono(next_loader_run_ - options_.clock->SteadyNow()));
      continue;
    }
    if (!requests_.TryPop(&request)) continue;
    size_t bytes = request->bytes;
    // Group commit: a batch that will be synced waits a moment for other
    // submitters to join it, so one sync serves them all; but only while
    // there are others (the last synced batch had company). A lone client
    // would only wait for nobody, and under load requests pile up during
    // each sync anyway. Unsynced work (updates, removes) never waits.
    if (request->kind == Request::Kind::kEnqueue && last_synced_batch_size_ > 1 &&
        options_.batch_delay > absl::ZeroDuration() && !stopping_.load(std::memory_order_acquire)) {
      const int64_t ns = absl::ToInt64Nanoseconds(options_.batch_delay);
      timespec delay{ns / 1'000'000'000, ns % 1'000'000'000};
      nanosleep(&delay, nullptr);
    }
    batch.push_back(std::move(request));
    while (bytes < options_.max_batch_bytes && requests_.TryPop(&request)) {
      bytes += request->bytes;
      batch.push_back(std::move(request));
    }
    CommitBatch(batch);
    batch.clear();
  }
}

absl::Status RocksDbSpool::AddToBatch(Request& request, SpoolBatch& batch) {
  switch (request.kind) {
    case Request::Kind::kEnqueue:
      return batch.Enqueue(request.message);
    case Request::Kind::kUpdate:
      SLUICE_RETURN_IF_ERROR(batch.Update(request.envelope));
      request.affected = 1;
      return absl::OkStatus();
    case Request::Kind::kReschedule:
      return batch.Reschedule(request.ids, request.due_unix_ms, &request.affected);
    case Request::Kind::kRemove:
      return batch.Remove(request.ids, &request.affected);
    case Request::Kind::kSuppress:
      SLUICE_RETURN_IF_ERROR(batch.Suppress(request.entries));
      request.affected = request.entries.size();
      return absl::OkStatus();
    case Request::Kind::kUnsuppress:
      return batch.Unsuppress(request.keys, request.expired_at, &request.affected);
  }
  return absl::OkStatus();
}

void RocksDbSpool::CommitBatch(std::vector<std::unique_ptr<Request>>& batch) {
  if (batch.empty()) return;
  const common::SteadyTime now = options_.clock->SteadyNow();
  auto fail_all = [&](const absl::Status& status) {
    // A fresh copy per request: each goes to its own shard, and a shared
    // Status's reference count lives in an uninstrumented libabsl, where
    // TSan cannot see that the sharing is safe.
    for (auto& request : batch) Complete(*request, absl::Status(status.code(), status.message()));
  };
  if (write_failed_) {
    if (now < next_resume_attempt_) {
      fail_all(
          absl::UnavailableError("spool cannot write (disk full or failing); try again later"));
      return;
    }
    if (absl::Status resumed = ResumeWriting(); !resumed.ok()) {
      next_resume_attempt_ =
          options_.clock->SteadyNow() + absl::ToChronoNanoseconds(options_.resume_interval);
      fail_all(absl::UnavailableError(absl::StrCat("spool cannot write: ", resumed.message())));
      return;
    }
    write_failed_ = false;
    SLUICE_LOG(kInfo, "spool writes resumed");
  }

  SpoolBatch writes(db_, shared_bodies_, loader_resume_key_);
  std::vector<absl::Status> results(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) results[i] = AddToBatch(*batch[i], writes);
  rocksdb::WriteOptions write_options;
  write_options.sync = writes.sync();
  if (writes.sync()) last_synced_batch_size_ = batch.size();
  const common::SteadyTime write_start = options_.clock->SteadyNow();
  const rocksdb::Status status = db_.db()->Write(write_options, writes.write_batch());
  if (writes.sync() && status.ok()) {
    if (options_.commits_metric != nullptr) options_.commits_metric->Add();
    if (options_.batch_size_metric != nullptr) {
      options_.batch_size_metric->Observe(static_cast<double>(batch.size()));
    }
    if (options_.commit_seconds_metric != nullptr) {
      options_.commit_seconds_metric->Observe(
          absl::ToDoubleSeconds(absl::FromChrono(options_.clock->SteadyNow() - write_start)));
    }
  }
  if (!status.ok() && options_.write_errors_metric != nullptr) {
    options_.write_errors_metric->Add();
  }
  if (!status.ok()) {
    write_failed_ = true;
    next_resume_attempt_ = now + absl::ToChronoNanoseconds(options_.resume_interval);
    SLUICE_LOG(kError, "spool write failed")
        .Field("requests", static_cast<int64_t>(batch.size()))
        .Field("error", status.ToString());
    fail_all(absl::UnavailableError(absl::StrCat("spool write failed: ", status.ToString())));
    return;
  }
  commits_.fetch_add(1, std::memory_order_relaxed);
  for (const auto& [body_id, count] : writes.body_refs()) {
    if (count > 1) {
      shared_bodies_[body_id] = count;
    } else {
      shared_bodies_.erase(body_id);
    }
  }
  if (writes.suppression_delta() != 0) {
    const int64_t entries =
        suppressions_.fetch_add(writes.suppression_delta(), std::memory_order_relaxed) +
        writes.suppression_delta();
    if (options_.suppression_entries_metric != nullptr) {
      options_.suppression_entries_metric->Set(entries);
    }
  }
  std::vector<ScheduledMessage> due = writes.TakeDue();
  if (!due.empty() && options_.due_sink) options_.due_sink(std::move(due));
  for (size_t i = 0; i < batch.size(); ++i) Complete(*batch[i], std::move(results[i]));
}

void RocksDbSpool::StartScheduling() {
  scheduling_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void RocksDbSpool::RunLoader() {
  const common::SteadyTime now = options_.clock->SteadyNow();
  if (!scheduling_.load(std::memory_order_acquire)) {
    // Not started yet: look again soon (StartScheduling also wakes us).
    next_loader_run_ = now + absl::ToChronoNanoseconds(absl::Milliseconds(10));
    return;
  }
  next_loader_run_ = now + absl::ToChronoNanoseconds(options_.loader_interval);
  if (!db_.is_open()) return;  // reopening after a write failure
  const int64_t limit_ms = absl::ToUnixMillis(options_.clock->Now() + options_.schedule_window);
  const std::string limit_key = ScheduleKey(limit_ms, common::MessageId());
  if (limit_key <= loader_resume_key_) return;
  std::vector<ScheduledMessage> due;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.schedule()));
  proto::ScheduleEntry entry;
  std::string resume_key = limit_key;
  for (it->Seek(loader_resume_key_); it->Valid(); it->Next()) {
    const absl::string_view key = ToView(it->key());
    if (key >= limit_key) break;
    if (due.size() >= options_.max_loaded_per_pass) {
      // A big backlog: hand out this slice and go on right after the next
      // commit instead of holding the writer up.
      resume_key = std::string(key);
      next_loader_run_ = now;
      break;
    }
    absl::StatusOr<ScheduleKeyParts> parts = ParseScheduleKey(key);
    if (!parts.ok()) continue;  // not ours to interpret; recovery reports envelopes
    const absl::string_view value = ToView(it->value());
    entry.Clear();
    entry.ParseFromArray(value.data(), static_cast<int>(value.size()));
    due.push_back({parts->id, parts->due_unix_ms, entry.domain(), entry.queue(), entry.pool(),
                   entry.tenant(), entry.campaign()});
  }
  if (!it->status().ok()) {
    // Try again next pass from the same place; nothing is skipped.
    SLUICE_LOG(kError, "spool schedule scan failed").Field("error", it->status().ToString());
    return;
  }
  loader_resume_key_ = std::move(resume_key);
  if (!due.empty() && options_.due_sink) options_.due_sink(std::move(due));
}

// Operations.

absl::Status RocksDbSpool::ScanEnvelopes(const SpoolFilter& filter, const std::string& start,
                                         absl::FunctionRef<bool(const Envelope&)> visit) {
  std::shared_lock<std::shared_mutex> lock(db_mutex_);
  if (!db_.is_open()) return absl::UnavailableError("spool is reopening after a write failure");
  rocksdb::ReadOptions read_options;
  // One consistent view; RocksDB iterators never block the writer.
  const rocksdb::Snapshot* snapshot = db_.db()->GetSnapshot();
  read_options.snapshot = snapshot;
  read_options.fill_cache = false;  // a full scan would evict what delivery reads
  absl::Status status;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(read_options, db_.envelopes()));
    Envelope envelope;
    for (it->Seek(start); it->Valid(); it->Next()) {
      const rocksdb::Slice value = it->value();
      if (!envelope.ParseFromArray(value.data(), static_cast<int>(value.size()))) continue;
      if (filter.Matches(envelope) && !visit(envelope)) break;
    }
    status = FromRocks(it->status(), "scan envelopes");
  }
  db_.db()->ReleaseSnapshot(snapshot);
  return status;
}

void RocksDbSpool::Count(SpoolFilter filter, SpoolGroupBy group_by, CountDone done) {
  RunOn<std::vector<SpoolCount>>(
      *operations_, std::move(done),
      [this, filter = std::move(filter), group_by]() -> absl::StatusOr<std::vector<SpoolCount>> {
        absl::flat_hash_map<std::string, SpoolCount> groups;
        const int64_t now_ms = absl::ToUnixMillis(options_.clock->Now());
        SLUICE_RETURN_IF_ERROR(ScanEnvelopes(filter, "", [&](const Envelope& envelope) {
          const std::string* key = &envelope.site();
          switch (group_by) {
            case SpoolGroupBy::kSite:
              break;
            case SpoolGroupBy::kDomain:
              key = &envelope.domain();
              break;
            case SpoolGroupBy::kTenant:
              key = &envelope.tenant();
              break;
            case SpoolGroupBy::kCampaign:
              key = &envelope.campaign();
              break;
          }
          SpoolCount& count = groups[*key];
          ++count.envelopes;
          ++count.ages[SpoolAgeBucket(now_ms - envelope.created_unix_ms())];
          for (const proto::Recipient& recipient : envelope.recipients()) {
            if (recipient.state() == proto::PENDING || recipient.state() == proto::DEFERRED) {
              ++count.recipients;
            }
          }
          return true;
        }));
        std::vector<SpoolCount> rows;
        rows.reserve(groups.size());
        for (auto& [key, count] : groups) {
          count.key = key;
          rows.push_back(std::move(count));
        }
        std::sort(rows.begin(), rows.end(), [](const SpoolCount& a, const SpoolCount& b) {
          return a.envelopes != b.envelopes ? a.envelopes > b.envelopes : a.key < b.key;
        });
        return rows;
      });
}

void RocksDbSpool::List(SpoolFilter filter, common::MessageId after, size_t limit, ListDone done) {
  RunOn<std::vector<Envelope>>(
      *operations_, std::move(done),
      [this, filter = std::move(filter), after, limit]() -> absl::StatusOr<std::vector<Envelope>> {
        std::vector<Envelope> page;
        if (limit == 0) return page;
        // The smallest key after `after`: its bytes with a zero appended.
        std::string start = IdKey(after);
        start.push_back('\0');
        SLUICE_RETURN_IF_ERROR(ScanEnvelopes(filter, start, [&](const Envelope& envelope) {
          page.push_back(envelope);
          return page.size() < limit;
        }));
        return page;
      });
}

absl::StatusOr<uint64_t> RocksDbSpool::SubmitAndWait(std::unique_ptr<Request> request) {
  // This is the operations thread, never a shard, so waiting is allowed.
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  absl::StatusOr<uint64_t> result;
  request->done = [&](absl::Status status, uint64_t n) {
    std::lock_guard<std::mutex> lock(mu);
    if (status.ok()) {
      result = n;
    } else {
      result = std::move(status);
    }
    finished = true;
    cv.notify_one();
  };
  Submit(std::move(request));
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return finished; });
  return result;
}

absl::StatusOr<uint64_t> RocksDbSpool::ApplyToMatching(const SpoolFilter& filter, bool remove) {
  constexpr size_t kChunk = 1000;
  uint64_t affected = 0;
  absl::Status failure;
  std::vector<common::MessageId> chunk;
  // Hands one chunk to the writer and waits for it.
  auto flush = [&]() -> bool {
    if (chunk.empty()) return true;
    auto request = std::make_unique<Request>();
    request->kind = remove ? Request::Kind::kRemove : Request::Kind::kReschedule;
    request->ids = std::move(chunk);
    chunk.clear();
    request->bytes = 64 * request->ids.size();
    request->due_unix_ms = absl::ToUnixMillis(options_.clock->Now());
    absl::StatusOr<uint64_t> n = SubmitAndWait(std::move(request));
    if (n.ok()) {
      affected += *n;
    } else {
      failure = n.status();
    }
    return failure.ok();
  };
  absl::Status scan = ScanEnvelopes(filter, "", [&](const Envelope& envelope) {
    absl::StatusOr<common::MessageId> id = ParseIdKey(envelope.id());
    if (id.ok()) chunk.push_back(*id);
    return chunk.size() < kChunk || flush();
  });
  SLUICE_RETURN_IF_ERROR(scan);
  flush();
  SLUICE_RETURN_IF_ERROR(failure);
  return affected;
}

void RocksDbSpool::Purge(SpoolFilter filter, AffectedDone done) {
  RunOn<uint64_t>(*operations_, std::move(done), [this, filter = std::move(filter)] {
    return ApplyToMatching(filter, /*remove=*/true);
  });
}

void RocksDbSpool::RescheduleNow(SpoolFilter filter, AffectedDone done) {
  RunOn<uint64_t>(*operations_, std::move(done), [this, filter = std::move(filter)] {
    return ApplyToMatching(filter, /*remove=*/false);
  });
}

// Suppression.

void RocksDbSpool::LookUpSuppressed(std::string tenant, std::vector<std::string> addresses,
                                    LookupDone done) {
  RunOn<std::vector<std::optional<SuppressionEntry>>>(
      *suppression_reader_, std::move(done),
      [this, tenant = std::move(tenant), addresses = std::move(addresses)] {
        std::shared_lock<std::shared_mutex> lock(db_mutex_);
        return LookUpSuppressions(db_, tenant, addresses,
                                  absl::ToUnixMillis(options_.clock->Now()));
      });
}

void RocksDbSpool::Suppress(std::vector<SuppressionEntry> entries, SuppressDone done) {
  auto request = std::make_unique<Request>();
  request->kind = Request::Kind::kSuppress;
  request->bytes = 128 * entries.size();
  for (SuppressionEntry& entry : entries) {
    entry.address = NormalizeSuppressedAddress(entry.address);
  }
  request->entries = std::move(entries);
  request->done = [done = std::move(done)](absl::Status status, uint64_t) mutable {
    done(std::move(status));
  };
  Submit(std::move(request));
}

void RocksDbSpool::Unsuppress(std::string scope, std::vector<std::string> addresses,
                              RemovedDone done) {
  auto request = std::make_unique<Request>();
  request->kind = Request::Kind::kUnsuppress;
  request->bytes = 64 * addresses.size();
  for (const std::string& address : addresses) {
    request->keys.push_back(SuppressionKey(scope, NormalizeSuppressedAddress(address)));
  }
  request->done = [done = std::move(done)](absl::Status status, uint64_t affected) mutable {
    if (status.ok()) {
      done(affected);
    } else {
      done(std::move(status));
    }
  };
  Submit(std::move(request));
}

void RocksDbSpool::ListSuppressed(std::string scope, std::string prefix, std::string after,
                                  size_t limit, EntriesDone done) {
  RunOn<std::vector<SuppressionEntry>>(
      *operations_, std::move(done),
      [this, scope = std::move(scope), prefix = absl::AsciiStrToLower(prefix),
       after = absl::AsciiStrToLower(after),
       limit]() -> absl::StatusOr<std::vector<SuppressionEntry>> {
        std::vector<SuppressionEntry> page;
        if (limit == 0) return page;
        std::shared_lock<std::shared_mutex> lock(db_mutex_);
        SLUICE_RETURN_IF_ERROR(ScanSuppressions(db_, scope, prefix, after,
                                                absl::ToUnixMillis(options_.clock->Now()),
                                                [&](const SuppressionEntry& entry) {
                                                  page.push_back(entry);
                                                  return page.size() < limit;
                                                }));
        return page;
      });
}

void RocksDbSpool::ImportSuppressions(std::string scope, std::string csv, ImportDone done) {
  RunOn<SuppressionImport>(
      *operations_, std::move(done),
      [this, scope = std::move(scope),
       csv = std::move(csv)]() -> absl::StatusOr<SuppressionImport> {
        SLUICE_ASSIGN_OR_RETURN(
            ParsedSuppressionCsv parsed,
            ParseSuppressionCsv(csv, scope, absl::ToUnixMillis(options_.clock->Now())));
        SuppressionImport result;
        result.refused = parsed.refused;
        result.errors = std::move(parsed.errors);
        // Slices of a few thousand: each is one synced commit, which other
        // writers share instead of waiting behind the whole file.
        constexpr size_t kSlice = 5000;
        for (size_t at = 0; at < parsed.entries.size(); at += kSlice) {
          auto request = std::make_unique<Request>();
          request->kind = Request::Kind::kSuppress;
          const size_t end = std::min(parsed.entries.size(), at + kSlice);
          request->entries.assign(std::make_move_iterator(parsed.entries.begin() + at),
                                  std::make_move_iterator(parsed.entries.begin() + end));
          request->bytes = 128 * request->entries.size();
          absl::StatusOr<uint64_t> written = SubmitAndWait(std::move(request));
          if (!written.ok()) {
            return absl::Status(written.status().code(),
                                absl::StrCat(written.status().message(), " (after ",
                                             result.imported, " rows were imported)"));
          }
          result.imported += *written;
        }
        return result;
      });
}

void RocksDbSpool::ExportSuppressions(std::string scope, TextDone done) {
  RunOn<std::string>(*operations_, std::move(done),
                     [this, scope = std::move(scope)]() -> absl::StatusOr<std::string> {
                       std::string csv = FormatSuppressionCsvHeader();
                       std::shared_lock<std::shared_mutex> lock(db_mutex_);
                       SLUICE_RETURN_IF_ERROR(ScanSuppressions(
                           db_, scope, "", "", absl::ToUnixMillis(options_.clock->Now()),
                           [&](const SuppressionEntry& entry) {
                             AppendSuppressionCsvRow(entry, &csv);
                             return true;
                           }));
                       return csv;
                     });
}

void RocksDbSpool::SweepSuppressions() {
  const int64_t now = absl::ToUnixMillis(options_.clock->Now());
  absl::StatusOr<SuppressionCensus> census;
  {
    std::shared_lock<std::shared_mutex> lock(db_mutex_);
    census = TakeSuppressionCensus(db_, now);
  }
  if (!census.ok()) {
    SLUICE_LOG(kWarning, "suppression sweep failed").Field("error", census.status());
    return;
  }
  constexpr size_t kSlice = 5000;
  uint64_t removed = 0;
  for (size_t at = 0; at < census->expired_keys.size(); at += kSlice) {
    auto request = std::make_unique<Request>();
    request->kind = Request::Kind::kUnsuppress;
    const size_t end = std::min(census->expired_keys.size(), at + kSlice);
    request->keys.assign(census->expired_keys.begin() + at, census->expired_keys.begin() + end);
    request->expired_at = now;
    request->bytes = 64 * request->keys.size();
    absl::StatusOr<uint64_t> n = SubmitAndWait(std::move(request));
    if (!n.ok()) {
      SLUICE_LOG(kWarning, "suppression sweep failed").Field("error", n.status());
      return;
    }
    removed += *n;
  }
  if (removed > 0) {
    SLUICE_LOG(kInfo, "expired suppressions removed")
        .Field("entries", static_cast<int64_t>(removed));
  }
}

}  // namespace sluice::queue
