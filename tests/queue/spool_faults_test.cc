// Write failures become temporary errors for the submitter, nothing that
// was acknowledged is lost, and the spool writes again once the disk does.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "gtest/gtest.h"
#include "queue/rocksdb_spool.h"
#include "tests/queue/faulty_file_system.h"
#include "tests/queue/spool_test_util.h"

namespace sluice::queue {
namespace {

using testing::FaultyEnv;
using testing::FaultyFileSystem;
using testing::IdOf;
using testing::MakeMessage;

class SpoolFaultsTest : public ::testing::TestWithParam<FaultyFileSystem::Fault> {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/spool-faults-", static_cast<int>(GetParam()), "-",
                         getpid());
    std::filesystem::remove_all(path_);
    RocksDbSpoolOptions options;
    options.path = path_;
    options.env = faulty_.env.get();
    options.resume_interval = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<RocksDbSpool>> spool = RocksDbSpool::Open(std::move(options));
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = std::move(*spool);
  }
  void TearDown() override {
    spool_.reset();
    std::filesystem::remove_all(path_);
  }

  absl::Status Enqueue(NewMessage message) { return testing::EnqueueAndWait(*spool_, message); }
  absl::StatusOr<StoredMessage> Read(common::MessageId id) {
    return testing::ReadAndWait(*spool_, id);
  }
  int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

  std::string path_;
  FaultyEnv faulty_;
  common::MessageIdGenerator ids_{common::Clock::Real(), 0, 9};
  std::unique_ptr<RocksDbSpool> spool_;
};

TEST_P(SpoolFaultsTest, FailedWriteIsTemporaryAndWritingResumesWhenTheDiskRecovers) {
  NewMessage before = MakeMessage(ids_, {"example.com"}, "before", NowMs());
  const common::MessageId before_id = IdOf(before.envelopes[0]);
  ASSERT_TRUE(Enqueue(std::move(before)).ok());

  faulty_.fs->Inject(GetParam());
  NewMessage during = MakeMessage(ids_, {"example.com"}, "during", NowMs());
  const common::MessageId during_id = IdOf(during.envelopes[0]);
  absl::Status failed = Enqueue(std::move(during));
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  // Still failing: still temporary, and the spool keeps serving reads.
  EXPECT_TRUE(absl::IsUnavailable(Enqueue(MakeMessage(ids_, {"example.com"}, "x", NowMs()))));
  absl::StatusOr<StoredMessage> still_there = Read(before_id);
  ASSERT_TRUE(still_there.ok()) << still_there.status();
  EXPECT_EQ(still_there->body, "before");

  faulty_.fs->Inject(FaultyFileSystem::Fault::kNone);
  NewMessage after = MakeMessage(ids_, {"example.com"}, "after", NowMs());
  const common::MessageId after_id = IdOf(after.envelopes[0]);
  absl::Status resumed = Enqueue(std::move(after));
  ASSERT_TRUE(resumed.ok()) << resumed;

  // The refused message was not stored; the others are, across a restart.
  EXPECT_TRUE(absl::IsNotFound(Read(during_id).status()));
  spool_.reset();
  RocksDbSpoolOptions options;
  options.path = path_;
  absl::StatusOr<std::unique_ptr<RocksDbSpool>> reopened = RocksDbSpool::Open(std::move(options));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  spool_ = std::move(*reopened);
  EXPECT_EQ(spool_->recovery().envelopes, 2u);
  EXPECT_TRUE(Read(before_id).ok());
  EXPECT_TRUE(Read(after_id).ok());
}

INSTANTIATE_TEST_SUITE_P(Faults, SpoolFaultsTest,
                         ::testing::Values(FaultyFileSystem::Fault::kNoSpace,
                                           FaultyFileSystem::Fault::kIoError),
                         [](const auto& info) {
                           return info.param == FaultyFileSystem::Fault::kNoSpace
                                      ? std::string("NoSpace")
                                      : std::string("IoError");
                         });

}  // namespace
}  // namespace sluice::queue
