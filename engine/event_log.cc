#include "engine/event_log.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace sluice::engine {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Lines wait at most this long for the writer when nobody wakes it, and a
// producer wakes it only once this many lines are waiting.
constexpr std::chrono::nanoseconds kLingerChrono = std::chrono::milliseconds(20);
constexpr uint32_t kWakeBatch = 256;

absl::Status ErrnoStatus(const char* what, const std::string& path, int error) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(error)));
}

// Opens `path` for appending; the fd and the current size.
absl::StatusOr<std::pair<int, uint64_t>> OpenForAppend(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    return ErrnoStatus("cannot stat", path, error);
  }
  return std::make_pair(fd, static_cast<uint64_t>(st.st_size));
}

// The futex syscalls on an atomic word: std::atomic::wait has no timeout,
// and a signal handler (Reopen) may not call notify_one.
uint32_t* FutexWord(std::atomic<uint32_t>* word) { return reinterpret_cast<uint32_t*>(word); }

void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, const timespec* timeout) {
  ::syscall(SYS_futex, FutexWord(word), FUTEX_WAIT_PRIVATE, expected, timeout, nullptr, 0);
}

void FutexWake(std::atomic<uint32_t>* word) {
  ::syscall(SYS_futex, FutexWord(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Open(EventLogOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("event log path is empty");
  if (options.max_files < 0) return absl::InvalidArgumentError("max_files must be >= 0");
  if (options.queue_capacity == 0) return absl::InvalidArgumentError("queue_capacity must be > 0");
  if (options.max_batch_bytes == 0) options.max_batch_bytes = 1;
  absl::StatusOr<std::pair<int, uint64_t>> file = OpenForAppend(options.path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<EventLog>(new EventLog(std::move(options), file->first, file->second));
}

EventLog::EventLog(EventLogOptions options, int fd, uint64_t size)
    : options_(std::move(options)), queue_(options_.queue_capacity), fd_(fd), size_(size) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "event-log");
    Run();
  });
}

EventLog::~EventLog() { Close().IgnoreError(); }

bool EventLog::Log(const DeliveryEvent& event) { return LogLine(FormatEventJson(event)); }

bool EventLog::LogLine(std::string line) {
  if (closed_.load(std::memory_order_acquire) || !queue_.TryPush(std::move(line))) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    if (options_.dropped != nullptr) options_.dropped->Add();
    return false;
  }
  // The writer looks every kLinger anyway; a wake-up (a system call on this
  // shard and a context switch) is worth it only for a batch of lines.
  if (unwoken_.fetch_add(1, std::memory_order_relaxed) + 1 >= kWakeBatch) Wake();
  return true;
}

// Both sides of the handshake are read-modify-writes on sleeping_: either
// the writer's exchange(1) comes later and sees what this thread published,
// or this exchange comes later, reads 1 and wakes it.
void EventLog::Wake() {
  if (sleeping_.exchange(0, std::memory_order_acq_rel) != 0) FutexWake(&sleeping_);
}

void EventLog::Reopen() {
  reopen_.store(true, std::memory_order_release);
  Wake();
}

void EventLog::Flush() {
  const uint64_t ticket = flush_requested_.fetch_add(1, std::memory_order_acq_rel) + 1;
  Wake();
  uint64_t done = flush_done_.load(std::memory_order_acquire);
  while (done < ticket) {
    flush_done_.wait(done, std::memory_order_acquire);
    done = flush_done_.load(std::memory_order_acquire);
  }
}

void EventLog::PauseForTest() {
  const uint64_t ticket = pause_requested_.fetch_add(1, std::memory_order_acq_rel) + 1;
  paused_.store(true, std::memory_order_release);
  Wake();
  uint64_t acked = pause_acked_.load(std::memory_order_acquire);
  while (acked < ticket) {
    pause_acked_.wait(acked, std::memory_order_acquire);
    acked = pause_acked_.load(std::memory_order_acquire);
  }
}

void EventLog::ResumeForTest() {
  paused_.store(false, std::memory_order_release);
  Wake();
}

absl::Status EventLog::Close() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return first_error_;
  stop_.store(true, std::memory_order_release);
  Wake();
  thread_.join();
  // Lines pushed by a Log that passed the closed_ check just before it.
  DrainAndWrite();
  Sync();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  // Wakes any Flush() still waiting.
  flush_done_.store(UINT64_MAX, std::memory_order_release);
  flush_done_.notify_all();
  return first_error_;
}

bool EventLog::ShouldWake(uint64_t flush_seen, bool paused) const {
  return stop_.load(std::memory_order_acquire) || reopen_.load(std::memory_order_acquire) ||
         flush_requested_.load(std::memory_order_acquire) != flush_seen ||
         paused_.load(std::memory_order_acquire) != paused || (!paused && !queue_.Empty());
}

void EventLog::Run() {
  SteadyClock::time_point first_unsynced{};
  for (;;) {
    const bool stopping = stop_.load(std::memory_order_acquire);
    const uint64_t flush_seen = flush_requested_.load(std::memory_order_acquire);
    if (reopen_.exchange(false, std::memory_order_acq_rel)) ReopenFile();
    const bool paused = !stopping && paused_.load(std::memory_order_acquire);
    if (paused) {
      pause_acked_.store(pause_requested_.load(std::memory_order_acquire),
                         std::memory_order_release);
      pause_acked_.notify_all();
    } else {
      const bool was_dirty = dirty_;
      DrainAndWrite();
      if (dirty_ && !was_dirty) first_unsynced = SteadyClock::now();
      const bool sync_due = dirty_ && SteadyClock::now() - first_unsynced >=
                                          absl::ToChronoNanoseconds(options_.flush_interval);
      if (stopping || sync_due || flush_seen != flush_done_.load(std::memory_order_relaxed)) {
        Sync();
      }
      if (flush_seen != flush_done_.load(std::memory_order_relaxed)) {
        flush_done_.store(flush_seen, std::memory_order_release);
        flush_done_.notify_all();
      }
      if (stopping) return;
    }

    // Sleep until woken, or until a sync is due.
    sleeping_.exchange(1, std::memory_order_acq_rel);
    if (ShouldWake(flush_seen, paused)) {
      sleeping_.exchange(0, std::memory_order_acq_rel);
      continue;
    }
    if (dirty_ && !paused) {
      const auto left = absl::ToChronoNanoseconds(options_.flush_interval) -
                        (SteadyClock::now() - first_unsynced);
      if (left.count() > 0) {
        timespec timeout;
        timeout.tv_sec = static_cast<time_t>(left.count() / 1000000000);
        timeout.tv_nsec = static_cast<long>(left.count() % 1000000000);
        if (left > kLingerChrono) {
          timeout.tv_sec = 0;
          timeout.tv_nsec = static_cast<long>(kLingerChrono.count());
        }
        FutexWait(&sleeping_, 1, &timeout);
      }
    } else {
      timespec timeout{0, static_cast<long>(kLingerChrono.count())};
      FutexWait(&sleeping_, 1, &timeout);
    }
    sleeping_.exchange(0, std::memory_order_acq_rel);
  }
}

bool EventLog::DrainAndWrite() {
  bool any = false;
  std::string line;
  unwoken_.store(0, std::memory_order_relaxed);
  while (queue_.TryPop(&line)) {
    any = true;
    const uint64_t pending = size_ + buffer_.size();
    if (options_.max_bytes > 0 && pending > 0 && pending + line.size() + 1 > options_.max_bytes) {
      WriteBuffer();
      Rotate();
    }
    buffer_.append(line);
    buffer_.push_back('\n');
    ++buffered_lines_;
    if (buffer_.size() >= options_.max_batch_bytes) WriteBuffer();
  }
  WriteBuffer();
  return any;
}

void EventLog::WriteBuffer() {
  if (buffer_.empty()) return;
  size_t done = 0;
  int error = 0;
  if (fd_ < 0) ReopenFile();  // a failed reopen or rotation: try again
  if (fd_ < 0) error = EBADF;
  while (error == 0 && done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
    } else {
      done += static_cast<size_t>(n);
    }
  }
  size_ += done;
  if (done > 0) dirty_ = true;
  if (error == 0) {
    written_.fetch_add(buffered_lines_, std::memory_order_relaxed);
    if (options_.written != nullptr) options_.written->Add(buffered_lines_);
    failing_ = false;
  } else {
    // A partial write leaves a torn last line; the lines are counted lost.
    write_errors_.fetch_add(buffered_lines_, std::memory_order_relaxed);
    NoteError(ErrnoStatus("cannot write", options_.path, error));
  }
  buffer_.clear();
  buffered_lines_ = 0;
}

void EventLog::Sync() {
  if (!dirty_ || fd_ < 0) return;
  dirty_ = false;
  if (::fdatasync(fd_) != 0) NoteError(ErrnoStatus("cannot sync", options_.path, errno));
}

void EventLog::Rotate() {
  Sync();
  ::close(fd_);
  fd_ = -1;
  const std::string& path = options_.path;
  if (options_.max_files == 0) {
    ::unlink(path.c_str());
  } else {
    for (int k = options_.max_files - 1; k >= 1; --k) {
      const std::string from = absl::StrCat(path, ".", k);
      const std::string to = absl::StrCat(path, ".", k + 1);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
        NoteError(ErrnoStatus("cannot rename", from, errno));
      }
    }
    const std::string first = absl::StrCat(path, ".1");
    if (::rename(path.c_str(), first.c_str()) != 0 && errno != ENOENT) {
      NoteError(ErrnoStatus("cannot rename", path, errno));
    }
  }
  rotations_.fetch_add(1, std::memory_order_relaxed);
  ReopenFile();
}

void EventLog::ReopenFile() {
  Sync();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  size_ = 0;
  absl::StatusOr<std::pair<int, uint64_t>> file = OpenForAppend(options_.path);
  if (!file.ok()) {
    NoteError(file.status());
    return;
  }
  fd_ = file->first;
  size_ = file->second;
}

void EventLog::NoteError(absl::Status status) {
  if (!failing_) {
    SLUICE_LOG(kError, "event log I/O error").Field("error", status);
  }
  failing_ = true;
  if (first_error_.ok()) first_error_ = std::move(status);
}

}  // namespace sluice::engine
