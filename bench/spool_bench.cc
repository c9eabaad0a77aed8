// The durable spool against the disk it runs on.
//
//   bazel build //bench:spool_bench && bazel-bin/bench/spool_bench
//
// BM_SpoolEnqueue: producers (SMTP sessions, API requests) each submit one
// message and wait until it is durable before the next, the way a listener
// acknowledges. BM_WriteFdatasync is the physical limit for the same load:
// the same bodies appended to one file by a group-commit thread with one
// write() and one fdatasync() per batch, after the same 1 ms batch delay
// (taken, as by the spool, only when the previous batch had company).
// Compare bytes_per_second between the two at equal size and producers.
//
// BM_SpoolDequeueDelete: read and remove of spooled messages, as delivery
// does after a successful attempt. BM_SpoolRecovery: reopening a spool that
// holds a million deferred messages (recovery time, and resident memory per
// message once recovered). BM_ScheduleWindowBytes: memory per entry of the
// in-memory window of messages due soon.
//
// The spool is created under $SLUICE_BENCH_DIR (default: /var/tmp), which
// should be on the disk the daemon would use.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "queue/rocksdb_spool.h"
#include "queue/schedule_window.h"
#include "queue/spool_keys.h"

namespace sluice::bench {
namespace {

std::string BenchDir(const std::string& name) {
  const char* base = getenv("SLUICE_BENCH_DIR");
  std::string dir = absl::StrCat(base != nullptr ? base : "/var/tmp", "/sluice-spool-bench-", name,
                                 "-", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

queue::NewMessage Message(common::MessageIdGenerator& ids, size_t size, int64_t due_ms, int n) {
  queue::NewMessage message;
  message.body_id = ids.Next();
  message.body.assign(size, 'x');
  queue::Envelope envelope;
  envelope.set_id(queue::IdKey(ids.Next()));
  envelope.set_body_id(queue::IdKey(message.body_id));
  envelope.set_sender("bounces@sender.example");
  queue::proto::Recipient* recipient = envelope.add_recipients();
  recipient->set_address(absl::StrCat("user", n, "@d", n % 1000, ".example"));
  recipient->set_state(queue::proto::PENDING);
  envelope.set_domain(absl::StrCat("d", n % 1000, ".example"));
  envelope.set_size(size);
  envelope.set_created_unix_ms(due_ms);
  envelope.set_next_due_unix_ms(due_ms);
  message.envelopes.push_back(std::move(envelope));
  return message;
}

// Blocks a producer until its one outstanding request is answered.
class Waiter {
 public:
  queue::Spool::Done Callback() {
    return [this](absl::Status status) {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = std::move(status);
      done_ = true;
      cv_.notify_one();
    };
  }
  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    done_ = false;
    return status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  absl::Status status_;
};

std::unique_ptr<queue::RocksDbSpool> OpenSpool(const std::string& path,
                                               queue::RocksDbSpoolOptions options = {}) {
  options.path = path;
  auto spool = queue::RocksDbSpool::Open(std::move(options));
  if (!spool.ok()) {
    fprintf(stderr, "%s\n", std::string(spool.status().message()).c_str());
    abort();
  }
  return std::move(*spool);
}

// Runs `producers` closed-loop producers for `total` operations in all and
// returns the seconds it took. `op(producer, n)` does one operation.
template <typename Op>
double RunProducers(int producers, int total, Op op) {
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int n = next++; n < total; n = next++) {
        if (!op(p, n)) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  if (failures.load() > 0) fprintf(stderr, "%d operations failed\n", failures.load());
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

constexpr int kMessagesPerRun = 20'000;

// Enough messages to take a few seconds even when each waits for its own
// sync (a lone producer gets one sync per message).
int MessagesFor(int producers) { return std::min(kMessagesPerRun, 2'000 * producers); }

void BM_SpoolEnqueue(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const int producers = static_cast<int>(state.range(1));
  const std::string dir = BenchDir("enqueue");
  auto spool = OpenSpool(dir);
  std::vector<std::unique_ptr<common::MessageIdGenerator>> ids;
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (int p = 0; p < producers; ++p) {
    ids.push_back(std::make_unique<common::MessageIdGenerator>(common::Clock::Real(), p % 256, 1));
    waiters.push_back(std::make_unique<Waiter>());
  }
  const int64_t later = absl::ToUnixMillis(absl::Now()) + 86'400'000;  // nothing gets handed out
  const uint64_t commits_before = spool->commits();
  for (auto _ : state) {
    const double seconds = RunProducers(producers, MessagesFor(producers), [&](int p, int n) {
      spool->Enqueue(Message(*ids[p], size, later, n), waiters[p]->Callback());
      return waiters[p]->Wait().ok();
    });
    state.SetIterationTime(seconds);
  }
  const double messages = static_cast<double>(state.iterations()) * MessagesFor(producers);
  state.SetItemsProcessed(static_cast<int64_t>(messages));
  state.SetBytesProcessed(static_cast<int64_t>(messages * size));
  state.counters["msgs_per_sync"] =
      messages / static_cast<double>(spool->commits() - commits_before);
  spool.reset();
  std::filesystem::remove_all(dir);
}

// The same producers and bodies, straight to a file: the disk's limit.
class GroupCommitFile {
 public:
  explicit GroupCommitFile(const std::string& path)
      : fd_(open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644)),
        writer_([this] { Loop(); }) {}
  ~GroupCommitFile() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_.notify_one();
    writer_.join();
    close(fd_);
  }
  // Appends `bytes` and returns once they are on disk.
  void Append(const std::string& bytes) {
    std::unique_lock<std::mutex> lock(mu_);
    pending_ += bytes;
    const uint64_t ticket = ++submitted_;
    work_.notify_one();
    synced_cv_.wait(lock, [&] { return synced_ >= ticket; });
  }
  uint64_t syncs() const { return syncs_; }

 private:
  void Loop() {
    std::string batch;
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      work_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      if (stop_ && pending_.empty()) return;
      // The spool's batch delay, under the spool's rule: only when the last
      // batch had company.
      if (last_batch_ > 1) {
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        lock.lock();
      }
      batch.swap(pending_);
      const uint64_t ticket = submitted_;
      last_batch_ = ticket - synced_;
      lock.unlock();
      if (write(fd_, batch.data(), batch.size()) != static_cast<ssize_t>(batch.size()) ||
          fdatasync(fd_) != 0) {
        perror("write/fdatasync");
        abort();
      }
      ++syncs_;
      batch.clear();
      lock.lock();
      synced_ = ticket;
      synced_cv_.notify_all();
    }
  }

  int fd_;
  std::mutex mu_;
  std::condition_variable work_;
  std::condition_variable synced_cv_;
  std::string pending_;
  uint64_t submitted_ = 0;
  uint64_t synced_ = 0;
  uint64_t syncs_ = 0;
  uint64_t last_batch_ = 0;
  bool stop_ = false;
  std::thread writer_;
};

void BM_WriteFdatasync(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const int producers = static_cast<int>(state.range(1));
  const std::string dir = BenchDir("fdatasync");
  uint64_t syncs = 0;
  {
    GroupCommitFile file(dir + "/data");
    const std::string body(size, 'x');
    for (auto _ : state) {
      const double seconds = RunProducers(producers, MessagesFor(producers), [&](int, int) {
        file.Append(body);
        return true;
      });
      state.SetIterationTime(seconds);
    }
    syncs = file.syncs();
  }
  const double messages = static_cast<double>(state.iterations()) * MessagesFor(producers);
  state.SetItemsProcessed(static_cast<int64_t>(messages));
  state.SetBytesProcessed(static_cast<int64_t>(messages * size));
  state.counters["msgs_per_sync"] = messages / static_cast<double>(syncs);
  std::filesystem::remove_all(dir);
}

void EnqueueArgs(benchmark::internal::Benchmark* bench) {
  for (int size : {2048, 20480}) {
    for (int producers : {1, 8, 64}) bench->Args({size, producers});
  }
}
BENCHMARK(BM_SpoolEnqueue)->Apply(EnqueueArgs)->UseManualTime()->Iterations(1);
BENCHMARK(BM_WriteFdatasync)->Apply(EnqueueArgs)->UseManualTime()->Iterations(1);

// Fills a spool with `count` messages, up to 5,000 in flight; returns
// their ids.
std::vector<common::MessageId> Fill(queue::RocksDbSpool& spool, int count, size_t size,
                                    int64_t due_ms) {
  constexpr int kWave = 5'000;
  std::vector<common::MessageId> all;
  all.reserve(count);
  common::MessageIdGenerator ids(common::Clock::Real(), 0, 2);
  for (int done = 0; done < count; done += kWave) {
    const int wave = std::min(kWave, count - done);
    std::mutex mu;
    std::condition_variable cv;
    int remaining = wave;
    for (int i = 0; i < wave; ++i) {
      queue::NewMessage message = Message(ids, size, due_ms, done + i);
      all.push_back(*queue::ParseIdKey(message.envelopes[0].id()));
      spool.Enqueue(std::move(message), [&](absl::Status status) {
        if (!status.ok()) {
          fprintf(stderr, "fill: %s\n", std::string(status.message()).c_str());
          abort();
        }
        std::lock_guard<std::mutex> lock(mu);
        if (--remaining == 0) cv.notify_one();
      });
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return remaining == 0; });
  }
  return all;
}

void BM_SpoolDequeueDelete(benchmark::State& state) {
  const int consumers = static_cast<int>(state.range(0));
  const std::string dir = BenchDir("dequeue");
  auto spool = OpenSpool(dir);
  for (auto _ : state) {
    state.PauseTiming();
    const std::vector<common::MessageId> ids =
        Fill(*spool, kMessagesPerRun, 2048, absl::ToUnixMillis(absl::Now()) + 86'400'000);
    std::vector<std::unique_ptr<Waiter>> waiters;
    for (int p = 0; p < consumers; ++p) waiters.push_back(std::make_unique<Waiter>());
    state.ResumeTiming();
    const double seconds = RunProducers(consumers, kMessagesPerRun, [&](int p, int n) {
      std::mutex mu;
      std::condition_variable cv;
      bool read = false;
      bool ok = false;
      spool->Read(ids[n], [&](absl::StatusOr<queue::StoredMessage> message) {
        std::lock_guard<std::mutex> lock(mu);
        ok = message.ok();
        read = true;
        cv.notify_one();
      });
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return read; });
      }
      spool->Remove(ids[n], waiters[p]->Callback());
      return waiters[p]->Wait().ok() && ok;
    });
    state.SetIterationTime(seconds);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kMessagesPerRun);
  spool.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SpoolDequeueDelete)->Arg(1)->Arg(64)->UseManualTime()->Iterations(1);

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

void BM_SpoolRecovery(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  const std::string dir = BenchDir("recovery");
  {
    auto spool = OpenSpool(dir);
    Fill(*spool, count, 2048, absl::ToUnixMillis(absl::Now()) + 86'400'000);
  }
  size_t rss_before = 0;
  size_t rss_after = 0;
  for (auto _ : state) {
    rss_before = ResidentBytes();
    const auto start = std::chrono::steady_clock::now();
    auto spool = OpenSpool(dir);
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    rss_after = ResidentBytes();
    if (spool->recovery().envelopes != static_cast<uint64_t>(count)) {
      state.SkipWithError("recovered the wrong number of messages");
    }
  }
  state.counters["messages"] = count;
  state.counters["rss_bytes_per_msg"] =
      static_cast<double>(rss_after > rss_before ? rss_after - rss_before : 0) / count;
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SpoolRecovery)
    ->Arg(1'000'000)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_ScheduleWindowBytes(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  double per_entry = 0;
  for (auto _ : state) {
    queue::ScheduleWindow window;
    for (int i = 0; i < count; ++i) {
      window.Add({common::MessageId(i + 1, 0), 1000 + i % 300'000,
                  absl::StrCat("d", i % 1000, ".example"), "", "", "", ""});
    }
    per_entry = static_cast<double>(window.MemoryBytes()) / count;
    std::vector<queue::ScheduledMessage> out;
    window.PopDue(1'000'000, count, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * count);
  state.counters["bytes_per_entry"] = per_entry;
}
BENCHMARK(BM_ScheduleWindowBytes)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice::bench

BENCHMARK_MAIN();
