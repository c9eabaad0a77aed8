// Recovery at scale: a spool holding a million queued messages comes back
// whole, and every one of them is scheduled again.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "queue/rocksdb_spool.h"
#include "tests/queue/spool_test_util.h"

namespace sluice::queue {
namespace {

using testing::Countdown;
using testing::DueCollector;
using testing::MakeMessage;

constexpr int kMessages = 1'000'000;
constexpr int kProducers = 8;

TEST(SpoolRecoveryTest, AMillionQueuedMessagesAreAllRecoveredAndScheduled) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/spool-recovery-", getpid());
  std::filesystem::remove_all(path);
  // Half due now, half in a day: both kinds must survive; only the due
  // half is handed out.
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  {
    RocksDbSpoolOptions options;
    options.path = path;
    absl::StatusOr<std::unique_ptr<RocksDbSpool>> spool = RocksDbSpool::Open(std::move(options));
    ASSERT_TRUE(spool.ok()) << spool.status();
    std::vector<std::thread> producers;
    std::atomic<int> failures{0};
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&, p] {
        common::MessageIdGenerator ids(common::Clock::Real(), p, 1);
        constexpr int kWave = 5000;  // stays well inside the spool's queue
        for (int done = 0; done < kMessages / kProducers; done += kWave) {
          Countdown wave(kWave);
          for (int i = 0; i < kWave; ++i) {
            const int n = done + i;
            (*spool)->Enqueue(MakeMessage(ids, {absl::StrCat("d", n % 1000, ".example")},
                                          std::string(200, 'b'), now_ms + (n % 2) * 86'400'000),
                              wave.Callback());
          }
          failures += static_cast<int>(wave.Wait().size());
        }
      });
    }
    for (std::thread& producer : producers) producer.join();
    ASSERT_EQ(failures.load(), 0);
  }

  DueCollector due;
  RocksDbSpoolOptions options;
  options.path = path;
  options.due_sink = due.Sink();
  absl::StatusOr<std::unique_ptr<RocksDbSpool>> spool = RocksDbSpool::Open(std::move(options));
  ASSERT_TRUE(spool.ok()) << spool.status();
  EXPECT_EQ((*spool)->recovery().envelopes, static_cast<uint64_t>(kMessages));
  EXPECT_EQ((*spool)->recovery().quarantined, 0u);
  ASSERT_TRUE(due.WaitFor(kMessages / 2, absl::Seconds(120)));
  std::vector<ScheduledMessage> handed_out = due.Take();
  absl::flat_hash_set<common::MessageId> distinct;
  for (const ScheduledMessage& message : handed_out) {
    EXPECT_LE(message.due_unix_ms, now_ms);
    distinct.insert(message.id);
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kMessages / 2));
  std::cerr << "recovered " << (*spool)->recovery().envelopes << " envelopes in "
            << absl::FormatDuration((*spool)->recovery().took) << "\n";
  spool->reset();
  std::filesystem::remove_all(path);
}

}  // namespace
}  // namespace sluice::queue
