#include "common/logging.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "common/fake_clock.h"
#include "common/thread_shard.h"

namespace sluice::common {
namespace {

constexpr absl::Duration kPatience = absl::Seconds(30);

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogClockForTest(&clock_);
    SetLogLevel(LogLevel::kInfo);
    SetLogSinkForTest([this](absl::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
      threads_.push_back(std::this_thread::get_id());
      line_arrived_.notify_all();
    });
  }

  void TearDown() override {
    StopAsyncLogging();
    SetLogSinkForTest(nullptr);
    SetLogClockForTest(nullptr);
    SetLogLevel(LogLevel::kInfo);
    SetCurrentShard(-1);
  }

  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

  // Waits (without polling) until the sink has received `n` lines.
  bool AwaitLines(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return line_arrived_.wait_for(lock, absl::ToChronoSeconds(kPatience),
                                  [this, n] { return lines_.size() >= n; });
  }

  FakeClock clock_{absl::FromUnixMillis(1'700'000'000'123)};
  // std::mutex rather than absl::Mutex: Debian's abseil is not built for
  // ThreadSanitizer, which would then miss absl::Mutex's ordering and report
  // false races under --config=tsan.
  std::mutex mu_;
  std::condition_variable line_arrived_;
  std::vector<std::string> lines_;        // guarded by mu_
  std::vector<std::thread::id> threads_;  // guarded by mu_
};

TEST_F(LoggingTest, WritesOneLogfmtLineWithFieldsAndSource) {
  const int line = __LINE__ + 1;
  SLUICE_LOG(kInfo, "listening").Field("port", 2525).Field("addr", "127.0.0.1");
  EXPECT_EQ(Lines(), std::vector<std::string>{absl::StrCat(
                         "2023-11-14T22:13:20.123000Z level=info msg=\"listening\" port=2525 "
                         "addr=127.0.0.1 src=",
                         __FILE__, ":", line)});
}

TEST_F(LoggingTest, NamesTheShardOnlyOnShardThreads) {
  SLUICE_LOG(kWarning, "off shard");
  SetCurrentShard(1);
  SLUICE_LOG(kWarning, "on shard");
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_FALSE(absl::StrContains(lines[0], "shard="));
  EXPECT_TRUE(absl::StrContains(lines[1], " level=warning shard=1 msg=\"on shard\" ")) << lines[1];
}

TEST_F(LoggingTest, QuotesAndEscapesValuesOnlyWhenNeeded) {
  SLUICE_LOG(kInfo, "say \"hi\"\n")
      .Field("plain", std::string("abc"))
      .Field("empty", "")
      .Field("space", "a b")
      .Field("quote", "x\"y")
      .Field("equals", "k=v")
      .Field("backslash", absl::string_view("c:\\dir"))
      .Field("newline", std::string_view("one\ntwo"));
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(
      lines[0], R"( msg="say \"hi\"\n" plain=abc empty="" space="a b" quote="x\"y" equals="k=v" )"
                R"(backslash="c:\\dir" newline="one\ntwo" src=)"))
      << lines[0];
}

TEST_F(LoggingTest, FormatsNumbersBoolsStatusesAndDurations) {
  SLUICE_LOG(kError, "values")
      .Field("neg", -3)
      .Field("big", uint64_t{18446744073709551615u})
      .Field("ratio", 1.5)
      .Field("flag", true)
      .Field("error", absl::UnavailableError("disk full"))
      .Field("ok", absl::OkStatus())
      .Field("took", absl::Milliseconds(1500));
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], R"( neg=-3 big=18446744073709551615 ratio=1.5 flag=true )"
                                          R"(error="UNAVAILABLE: disk full" ok=OK took=1.5s src=)"))
      << lines[0];
}

TEST_F(LoggingTest, DisabledLevelEvaluatesNoArguments) {
  int evaluations = 0;
  auto counted = [&evaluations](absl::string_view s) {
    ++evaluations;
    return s;
  };
  SetLogLevel(LogLevel::kWarning);
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  SLUICE_LOG(kInfo, counted("message")).Field("field", counted("value"));
  SLUICE_LOG(kDebug, counted("message")).Field("field", counted("value"));
  EXPECT_EQ(evaluations, 0);
  EXPECT_TRUE(Lines().empty());

  SLUICE_LOG(kError, counted("message")).Field("field", counted("value"));
  EXPECT_EQ(evaluations, 2);
  EXPECT_EQ(Lines().size(), 1u);
}

TEST_F(LoggingTest, MacroIsOneStatementInsideIfElse) {
  bool flag = false;
  if (flag)
    SLUICE_LOG(kInfo, "then");
  else
    SLUICE_LOG(kInfo, "else");
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], "msg=\"else\""));
}

TEST_F(LoggingTest, ParseLogLevelAcceptsTheFourNamesInAnyCase) {
  EXPECT_EQ(ParseLogLevel("debug").value(), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("info").value(), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("WARNING").value(), LogLevel::kWarning);
  EXPECT_EQ(ParseLogLevel("Error").value(), LogLevel::kError);
  const absl::StatusOr<LogLevel> bad = ParseLogLevel("warn");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "unknown log level 'warn' (expected debug, info, warning or error)");
}

TEST_F(LoggingTest, WritesSynchronouslyBeforeStartAndAfterStop) {
  SLUICE_LOG(kInfo, "before");
  StartAsyncLogging();
  StopAsyncLogging();
  SLUICE_LOG(kInfo, "after");
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(threads_[0], std::this_thread::get_id());
  EXPECT_EQ(threads_[1], std::this_thread::get_id());
}

// Logs one line at a time and waits for each, so the logger thread goes to
// sleep between lines and must be woken every time.
TEST_F(LoggingTest, AsyncLoggerWakesForEachLineWithoutStop) {
  StartAsyncLogging();
  for (size_t i = 0; i < 200; ++i) {
    SLUICE_LOG(kInfo, "tick").Field("i", i);
    ASSERT_TRUE(AwaitLines(i + 1)) << "line " << i << " never arrived";
  }
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_NE(threads_[0], std::this_thread::get_id());
}

TEST_F(LoggingTest, AsyncLoggingDeliversEveryLineFromManyThreadsByStop) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  StartAsyncLogging();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      SetCurrentShard(t);
      for (int i = 0; i < kPerThread; ++i) SLUICE_LOG(kInfo, "line").Field("i", i);
    });
  }
  for (std::thread& thread : threads) thread.join();
  StopAsyncLogging();

  std::vector<std::vector<int>> seen(kThreads, std::vector<int>(kPerThread, 0));
  for (const std::string& line : Lines()) {
    int shard = -1;
    int i = -1;
    for (absl::string_view part : absl::StrSplit(line, ' ')) {
      if (absl::ConsumePrefix(&part, "shard=")) {
        ASSERT_TRUE(absl::SimpleAtoi(part, &shard));
      } else if (absl::ConsumePrefix(&part, "i=")) {
        ASSERT_TRUE(absl::SimpleAtoi(part, &i));
      }
    }
    ASSERT_TRUE(shard >= 0 && shard < kThreads && i >= 0 && i < kPerThread) << line;
    ++seen[shard][i];
  }
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(seen[t][i], 1) << t << "/" << i;
  }
}

TEST_F(LoggingTest, DropsLinesWhenQueueIsFullAndReportsHowMany) {
  absl::Notification writing_first;
  absl::Notification release;
  SetLogSinkForTest([&](absl::string_view line) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    }
    if (absl::StrContains(line, "msg=\"first\"")) {
      writing_first.Notify();
      release.WaitForNotification();
    }
  });
  StartAsyncLogging(/*queue_capacity=*/8);
  SLUICE_LOG(kInfo, "first");
  // The logger thread now sits in the sink, so nothing leaves the queue.
  ASSERT_TRUE(writing_first.WaitForNotificationWithTimeout(kPatience));
  for (int i = 0; i < 8 + 5; ++i) SLUICE_LOG(kInfo, "fill").Field("i", i);
  release.Notify();
  StopAsyncLogging();

  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u + 8u + 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], "msg=\"first\""));
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(absl::StrContains(lines[1 + i], absl::StrCat(" i=", i, " "))) << lines[1 + i];
  }
  EXPECT_EQ(lines[9],
            "2023-11-14T22:13:20.123000Z level=warning msg=\"dropped 5 log lines\" dropped=5");
}

// Redirects fd 2 to a temporary file for the life of the object.
class CapturedStderr {
 public:
  CapturedStderr() {
    char path[] = "/tmp/logging_test_XXXXXX";
    file_ = mkstemp(path);
    unlink(path);
    saved_ = dup(STDERR_FILENO);
    dup2(file_, STDERR_FILENO);
  }
  ~CapturedStderr() {
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    close(file_);
  }
  std::string Contents() {
    std::string out;
    char buffer[4096];
    ssize_t n;
    off_t offset = 0;
    while ((n = pread(file_, buffer, sizeof(buffer), offset)) > 0) {
      out.append(buffer, n);
      offset += n;
    }
    return out;
  }

 private:
  int file_ = -1;
  int saved_ = -1;
};

TEST_F(LoggingTest, NullSinkWritesNewlineTerminatedLinesToStderr) {
  SetLogSinkForTest(nullptr);
  CapturedStderr captured;
  SLUICE_LOG(kInfo, "sync");
  StartAsyncLogging();
  SLUICE_LOG(kInfo, "async one");
  SLUICE_LOG(kInfo, "async two");
  StopAsyncLogging();
  const std::vector<std::string> lines = absl::StrSplit(captured.Contents(), '\n');
  ASSERT_EQ(lines.size(), 4u);  // three lines and the empty rest after the last newline
  EXPECT_TRUE(absl::StrContains(lines[0], "msg=\"sync\""));
  EXPECT_TRUE(absl::StrContains(lines[1], "msg=\"async one\""));
  EXPECT_TRUE(absl::StrContains(lines[2], "msg=\"async two\""));
  EXPECT_EQ(lines[3], "");
}

}  // namespace
}  // namespace sluice::common
