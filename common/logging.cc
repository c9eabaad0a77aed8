#include "common/logging.h"

#include <errno.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/mpmc_queue.h"
#include "common/thread_shard.h"

namespace sluice::common {
namespace {

using LineQueue = MpmcQueue<std::string>;

// Lines written with one write(2) by the logger thread, at most.
constexpr size_t kMaxBatch = 1024;

bool NeedsQuoting(absl::string_view value) {
  if (value.empty()) return true;
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

// Quotes and escapes so that a value can never end the line or be mistaken
// for the next key: a log line stays one line whatever the caller passes.
void AppendQuoted(std::string* out, absl::string_view value) {
  out->push_back('"');
  for (const char c : value) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) {
          absl::StrAppendFormat(out, "\\x%02x", static_cast<unsigned char>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendValue(std::string* out, absl::string_view value) {
  if (NeedsQuoting(value)) {
    AppendQuoted(out, value);
  } else {
    out->append(value.data(), value.size());
  }
}

// Writes all of `data` to stderr, retrying short writes and EINTR. Other
// errors are ignored: stderr is the last place an error could be reported.
void WriteToStderr(absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// The process-wide logging state. Logging is the one process-wide service:
// every thread must reach it without being handed a pointer.
class Logger {
 public:
  absl::Time Now() const {
    const Clock* clock = clock_.load(std::memory_order_acquire);
    return (clock != nullptr ? clock : Clock::Real())->Now();
  }
  void SetClock(const Clock* clock) { clock_.store(clock, std::memory_order_release); }

  // Starts a line: timestamp, level, shard and the quoted message.
  std::string BeginLine(LogLevel level, absl::string_view msg) const {
    std::string text;
    text.reserve(256);
    text.append(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", Now(), absl::UTCTimeZone()));
    absl::StrAppend(&text, " level=", LogLevelName(level));
    const int shard = CurrentShard();
    if (shard >= 0) absl::StrAppend(&text, " shard=", shard);
    text.append(" msg=");
    AppendQuoted(&text, msg);
    return text;
  }

  void Emit(std::string line) {
    LineQueue* queue = queue_.load(std::memory_order_acquire);
    if (queue == nullptr) {
      std::vector<std::string> one;
      one.push_back(std::move(line));
      Write(&one);
      return;
    }
    if (!queue->TryPush(std::move(line))) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    WakeLoggerThread();
  }

  void SetSink(absl::AnyInvocable<void(absl::string_view)> sink) {
    {
      std::lock_guard<std::mutex> lock(sink_mu_);
      std::swap(sink_, sink);
    }
    // The old sink (and whatever it captured) dies outside the lock.
  }

  void Start(size_t capacity) {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (thread_.joinable()) return;
    queues_.push_back(std::make_unique<LineQueue>(capacity));
    LineQueue* queue = queues_.back().get();
    stop_.store(false, std::memory_order_relaxed);
    sleeping_.store(0, std::memory_order_relaxed);
    thread_ = std::thread([this, queue] { Run(queue); });
    queue_.store(queue, std::memory_order_release);
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (!thread_.joinable()) return;
    // New lines go the synchronous way from here on.
    LineQueue* queue = queue_.exchange(nullptr, std::memory_order_acq_rel);
    stop_.store(true, std::memory_order_relaxed);
    WakeLoggerThread();
    thread_.join();
    // A producer that read the queue pointer just before the exchange may
    // have pushed after the logger thread's last look.
    std::vector<std::string> batch;
    while (Drain(queue, &batch)) Write(&batch);
    // The queue stays allocated (in queues_): a producer that loaded its
    // address before the exchange may still touch it.
  }

 private:
  // Pops up to kMaxBatch lines into *batch; false if there was nothing to
  // write (no lines and no drops to report).
  bool Drain(LineQueue* queue, std::vector<std::string>* batch) {
    std::string line;
    while (batch->size() < kMaxBatch && queue->TryPop(&line)) batch->push_back(std::move(line));
    return !batch->empty() || dropped_.load(std::memory_order_relaxed) != 0;
  }

  // Writes *batch (plus a report of lines dropped since the last write) to
  // the sink and clears it.
  void Write(std::vector<std::string>* batch) {
    const uint64_t dropped = dropped_.exchange(0, std::memory_order_relaxed);
    if (dropped != 0) {
      std::string report =
          BeginLine(LogLevel::kWarning, absl::StrCat("dropped ", dropped, " log lines"));
      absl::StrAppend(&report, " dropped=", dropped);
      batch->push_back(std::move(report));
    }
    std::lock_guard<std::mutex> lock(sink_mu_);
    if (sink_ != nullptr) {
      for (const std::string& line : *batch) sink_(line);
    } else {
      write_buffer_.clear();
      for (const std::string& line : *batch) absl::StrAppend(&write_buffer_, line, "\n");
      WriteToStderr(write_buffer_);
    }
    batch->clear();
  }

  // Called by a producer after it published a line, and by Stop. Both sides
  // of the handshake are read-modify-writes on sleeping_, so one of them
  // sees the other: either the logger thread's exchange(1) comes later and
  // acquires this thread's line (and sees it before sleeping), or this
  // exchange comes later, reads 1 and wakes it.
  void WakeLoggerThread() {
    if (sleeping_.exchange(0, std::memory_order_acq_rel) != 0) sleeping_.notify_one();
  }

  void Run(LineQueue* queue) {
    std::vector<std::string> batch;
    batch.reserve(kMaxBatch + 1);
    for (;;) {
      if (Drain(queue, &batch)) {
        Write(&batch);
        continue;
      }
      if (stop_.load(std::memory_order_relaxed)) return;
      sleeping_.exchange(1, std::memory_order_acq_rel);
      if (!queue->Empty() || stop_.load(std::memory_order_relaxed)) {
        sleeping_.exchange(0, std::memory_order_acq_rel);
        continue;
      }
      // Returns once a producer (or Stop) has reset the flag.
      sleeping_.wait(1, std::memory_order_acquire);
    }
  }

  std::atomic<const Clock*> clock_{nullptr};
  std::atomic<LineQueue*> queue_{nullptr};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<bool> stop_{false};
  // 1 while the logger thread waits (or is about to wait) for lines. A
  // uint32_t so the wait is a plain futex. Once threads run, every write to
  // it is an acq_rel read-modify-write: each one then synchronizes with all
  // earlier ones, which is what makes the wake-up handshake sound.
  // Every producer writes it, so it gets a cache line of its own, away from
  // queue_, which every producer reads.
  alignas(64) std::atomic<uint32_t> sleeping_{0};

  // std::mutex rather than absl::Mutex: Debian's abseil is not instrumented,
  // so ThreadSanitizer would not see absl::Mutex order these writes.
  alignas(64) std::mutex sink_mu_;
  absl::AnyInvocable<void(absl::string_view)> sink_;
  std::string write_buffer_;

  std::mutex lifecycle_mu_;
  std::thread thread_;
  std::vector<std::unique_ptr<LineQueue>> queues_;
};

Logger& GetLogger() {
  // Never destroyed: threads may still log during static destruction.
  static Logger* logger = new Logger();
  return *logger;
}

}  // namespace

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text) {
  for (const LogLevel level :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (absl::EqualsIgnoreCase(text, LogLevelName(level))) return level;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level '", text, "' (expected debug, info, warning or error)"));
}

void SetLogLevel(LogLevel level) {
  logging_internal::min_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

void StartAsyncLogging(size_t queue_capacity) { GetLogger().Start(queue_capacity); }

void StopAsyncLogging() { GetLogger().Stop(); }

void SetLogSinkForTest(absl::AnyInvocable<void(absl::string_view line)> sink) {
  GetLogger().SetSink(std::move(sink));
}

void SetLogClockForTest(const Clock* clock) { GetLogger().SetClock(clock); }

LogLine::LogLine(LogLevel level, absl::string_view msg, const char* file, int line)
    : text_(GetLogger().BeginLine(level, msg)), file_(file), line_(line) {}

LogLine::~LogLine() {
  absl::StrAppend(&text_, " src=", file_, ":", line_);
  GetLogger().Emit(std::move(text_));
}

LogLine& LogLine::Field(absl::string_view key, absl::string_view value) {
  absl::StrAppend(&text_, " ", key, "=");
  AppendValue(&text_, value);
  return *this;
}

LogLine& LogLine::Field(absl::string_view key, bool value) {
  return FieldRaw(key, value ? "true" : "false");
}

LogLine& LogLine::Field(absl::string_view key, double value) {
  return FieldRaw(key, absl::StrCat(value));
}

LogLine& LogLine::Field(absl::string_view key, const absl::Status& status) {
  return Field(key, status.ToString());
}

LogLine& LogLine::Field(absl::string_view key, absl::Duration duration) {
  return FieldRaw(key, absl::FormatDuration(duration));
}

LogLine& LogLine::FieldInt(absl::string_view key, int64_t value) {
  absl::StrAppend(&text_, " ", key, "=", value);
  return *this;
}

LogLine& LogLine::FieldUint(absl::string_view key, uint64_t value) {
  absl::StrAppend(&text_, " ", key, "=", value);
  return *this;
}

LogLine& LogLine::FieldRaw(absl::string_view key, absl::string_view value) {
  absl::StrAppend(&text_, " ", key, "=", value);
  return *this;
}

}  // namespace sluice::common
