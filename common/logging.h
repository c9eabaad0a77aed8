// logging: structured, leveled log lines in logfmt style, one line each:
//
//   SLUICE_LOG(kInfo, "listening").Field("port", 2525).Field("addr", "127.0.0.1");
//
// writes
//
//   2026-11-24T12:00:00.123456Z level=info shard=1 msg="listening" port=2525
//   addr=127.0.0.1 src=reactor/reactor.cc:42
//
// (on one line; `shard=` only on shard threads, see thread_shard.h).
//
// Any thread may log. A line below the current level costs one relaxed load
// and a branch: the macro evaluates neither the message nor any Field
// argument. After StartAsyncLogging() a line is formatted on the calling
// thread and handed to a logger thread through a bounded lock-free queue, so
// a shard thread never blocks on a lock or a write(2); when the queue is full
// the line is dropped and counted, and the logger thread reports
// "dropped N log lines" with its next write. Before StartAsyncLogging() and
// after StopAsyncLogging() lines are written synchronously. Failing writes to
// stderr are ignored: there is nowhere left to report them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace sluice::common {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// "debug", "info", "warning", "error".
absl::string_view LogLevelName(LogLevel level);

// Accepts the names above in any letter case; anything else is an
// InvalidArgument error naming the accepted values.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text);

namespace logging_internal {
// The lowest enabled level. Inline so LogEnabled() compiles to one load.
inline std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
}  // namespace logging_internal

// Lines at `level` and above are written. Defaults to kInfo.
void SetLogLevel(LogLevel level);

inline bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= logging_internal::min_level.load(std::memory_order_relaxed);
}

// Starts the logger thread with a queue of `queue_capacity` lines (rounded up
// to a power of two). Calling it while already started does nothing.
inline constexpr size_t kDefaultLogQueueCapacity = 1 << 16;
void StartAsyncLogging(size_t queue_capacity = kDefaultLogQueueCapacity);

// Writes every line queued so far, stops and joins the logger thread. Call it
// after the shard threads have stopped: a line logged while Stop runs may be
// lost. Calling it when not started does nothing.
void StopAsyncLogging();

// Replaces the stderr sink; `sink` receives each line without its trailing
// newline, on the logger thread once async logging runs. nullptr restores
// stderr.
void SetLogSinkForTest(absl::AnyInvocable<void(absl::string_view line)> sink);

// Takes timestamps from `clock` instead of the real clock (nullptr restores
// it). `clock` must outlive its use.
void SetLogClockForTest(const Clock* clock);

// One log line being built. Use it through SLUICE_LOG only: the destructor
// hands the finished line to the writer.
class LogLine {
 public:
  LogLine(LogLevel level, absl::string_view msg, const char* file, int line);
  ~LogLine();

  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  // `key` should be a short identifier; values are quoted and escaped only
  // when they need it.
  LogLine& Field(absl::string_view key, absl::string_view value);
  LogLine& Field(absl::string_view key, std::string_view value) {
    return Field(key, absl::string_view(value.data(), value.size()));
  }
  LogLine& Field(absl::string_view key, const std::string& value) {
    return Field(key, absl::string_view(value));
  }
  // Without this overload a string literal would convert to bool.
  LogLine& Field(absl::string_view key, const char* value) {
    return Field(key, absl::string_view(value));
  }
  LogLine& Field(absl::string_view key, bool value);
  LogLine& Field(absl::string_view key, double value);
  LogLine& Field(absl::string_view key, const absl::Status& status);
  LogLine& Field(absl::string_view key, absl::Duration duration);
  template <typename Int,
            std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  LogLine& Field(absl::string_view key, Int value) {
    if constexpr (std::is_signed_v<Int>) {
      return FieldInt(key, static_cast<int64_t>(value));
    } else {
      return FieldUint(key, static_cast<uint64_t>(value));
    }
  }

 private:
  LogLine& FieldInt(absl::string_view key, int64_t value);
  LogLine& FieldUint(absl::string_view key, uint64_t value);
  // Appends " key=" followed by `value` exactly as given.
  LogLine& FieldRaw(absl::string_view key, absl::string_view value);

  std::string text_;
  const char* file_;
  int line_;
};

// Turns `LogVoidify() & LogLine(...)...` into a void expression so it can be
// the second arm of the ternary in SLUICE_LOG. `&` binds more loosely than
// the `.Field()` chain, so the whole chain is built first.
struct LogVoidify {
  void operator&(const LogLine&) {}
};

}  // namespace sluice::common

// `level` is a LogLevel enumerator name without its scope: kDebug, kInfo,
// kWarning or kError.
#define SLUICE_LOG(level, msg)                                                            \
  !::sluice::common::LogEnabled(::sluice::common::LogLevel::level)                        \
      ? (void)0                                                                           \
      : ::sluice::common::LogVoidify() &                                                  \
            ::sluice::common::LogLine(::sluice::common::LogLevel::level, (msg), __FILE__, \
                                      __LINE__)
