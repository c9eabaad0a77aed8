#include "queue/rocksdb_spool.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "gtest/gtest.h"
#include "queue/spool_keys.h"
#include "rocksdb/db.h"
#include "tests/queue/spool_test_util.h"

namespace sluice::queue {
namespace {

using testing::Answer;
using testing::Countdown;
using testing::DueCollector;
using testing::IdOf;
using testing::MakeMessage;

// The spool's database opened directly, behind the spool's back, to damage
// it or to look inside. Column families in the spool's order: default,
// bodies, envelopes, schedule, quarantine.
class RawSpoolDb {
 public:
  enum Family { kDefault, kBodies, kEnvelopes, kSchedule, kQuarantine };

  RawSpoolDb(const std::string& path, bool read_only) {
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name :
         {"default", "bodies", "envelopes", "schedule", "quarantine", "suppression"}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    const rocksdb::DBOptions options;
    status_ = read_only ? rocksdb::DB::OpenForReadOnly(options, path, families, &handles_, &db_)
                        : rocksdb::DB::Open(options, path, families, &handles_, &db_);
  }
  ~RawSpoolDb() {
    for (rocksdb::ColumnFamilyHandle* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
    delete db_;
  }
  const rocksdb::Status& status() const { return status_; }
  rocksdb::Status Put(Family family, const std::string& key, const std::string& value) {
    return db_->Put(rocksdb::WriteOptions(), handles_[family], key, value);
  }
  rocksdb::Status Get(Family family, const std::string& key, std::string* value) {
    return db_->Get(rocksdb::ReadOptions(), handles_[family], key, value);
  }

 private:
  rocksdb::Status status_;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

class RocksDbSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/spool-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                         getpid());
    std::filesystem::remove_all(path_);
  }
  void TearDown() override {
    spool_.reset();
    std::filesystem::remove_all(path_);
  }

  RocksDbSpoolOptions Options() {
    RocksDbSpoolOptions options;
    options.path = path_;
    options.clock = &clock_;
    options.due_sink = due_.Sink();
    // The fake clock does not move by itself: run the loader every turn.
    options.loader_interval = absl::ZeroDuration();
    return options;
  }
  void Open() {
    absl::StatusOr<std::unique_ptr<RocksDbSpool>> spool = RocksDbSpool::Open(Options());
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = std::move(*spool);
  }
  int64_t NowMs() const { return absl::ToUnixMillis(clock_.Now()); }

  absl::Status Enqueue(NewMessage message) { return testing::EnqueueAndWait(*spool_, message); }
  absl::StatusOr<StoredMessage> Read(common::MessageId id) {
    return testing::ReadAndWait(*spool_, id);
  }
  absl::Status Update(Envelope envelope) {
    Answer<absl::Status> answer;
    spool_->Update(std::move(envelope), answer.Callback());
    return answer.Get();
  }
  absl::Status Remove(common::MessageId id) {
    Answer<absl::Status> answer;
    spool_->Remove(id, answer.Callback());
    return answer.Get();
  }

  std::string path_;
  common::FakeClock clock_;
  common::MessageIdGenerator ids_{&clock_, 0, 7};
  DueCollector due_;
  std::unique_ptr<RocksDbSpool> spool_;
};

TEST_F(RocksDbSpoolTest, EnqueuedMessageReadsBackWithItsBody) {
  Open();
  NewMessage message = MakeMessage(ids_, {"example.com"}, "Subject: hi\r\n\r\nbody\r\n", NowMs());
  const Envelope envelope = message.envelopes[0];
  ASSERT_TRUE(Enqueue(std::move(message)).ok());

  absl::StatusOr<StoredMessage> stored = Read(IdOf(envelope));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->body, "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(stored->envelope.SerializeAsString(), envelope.SerializeAsString());
  EXPECT_GE(spool_->commits(), 1u);
}

TEST_F(RocksDbSpoolTest, ReadOfUnknownIdIsNotFound) {
  Open();
  EXPECT_TRUE(absl::IsNotFound(Read(ids_.Next()).status()));
}

TEST_F(RocksDbSpoolTest, EnqueueWithoutEnvelopesIsRefusedAndStoresNothing) {
  Open();
  NewMessage message = MakeMessage(ids_, {}, "body", NowMs());
  EXPECT_TRUE(absl::IsInvalidArgument(Enqueue(std::move(message))));
}

TEST_F(RocksDbSpoolTest, DueMessageIsHandedOutOnceItIsCommitted) {
  Open();
  NewMessage message = MakeMessage(ids_, {"a.example", "b.example"}, "body", NowMs());
  const common::MessageId first = IdOf(message.envelopes[0]);
  ASSERT_TRUE(Enqueue(std::move(message)).ok());
  ASSERT_TRUE(due_.WaitFor(2, absl::Seconds(30)));
  std::vector<ScheduledMessage> due = due_.Take();
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].id, first);
  EXPECT_EQ(due[0].domain, "a.example");
  EXPECT_EQ(due[1].domain, "b.example");
}

TEST_F(RocksDbSpoolTest, MessageDueLaterStaysOnDiskUntilTheWindowReachesIt) {
  Open();
  // Due in an hour; the window is five minutes.
  NewMessage later = MakeMessage(ids_, {"later.example"}, "body", NowMs() + 3'600'000);
  const common::MessageId later_id = IdOf(later.envelopes[0]);
  ASSERT_TRUE(Enqueue(std::move(later)).ok());
  // A message due now, enqueued after it, is handed out; the later one is not.
  NewMessage now = MakeMessage(ids_, {"now.example"}, "body", NowMs());
  ASSERT_TRUE(Enqueue(std::move(now)).ok());
  ASSERT_TRUE(due_.WaitFor(1, absl::Seconds(30)));
  std::vector<ScheduledMessage> due = due_.Take();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].domain, "now.example");

  clock_.Advance(absl::Minutes(56));  // 4 minutes before it is due: inside the window
  ASSERT_TRUE(due_.WaitFor(1, absl::Seconds(30)));
  due = due_.Take();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, later_id);
  EXPECT_EQ(due[0].due_unix_ms, NowMs() + 4 * 60'000);
}

TEST_F(RocksDbSpoolTest, ScheduledMessagesCarryTheirRoutingNames) {
  Open();
  auto label = [](NewMessage message, absl::string_view tag) {
    Envelope& envelope = message.envelopes[0];
    envelope.set_pool(absl::StrCat("pool-", tag));
    envelope.set_tenant(absl::StrCat("tenant-", tag));
    envelope.set_campaign(absl::StrCat("campaign-", tag));
    return message;
  };
  // One handed out as it commits, one later by the loader's index scan.
  ASSERT_TRUE(
      Enqueue(label(MakeMessage(ids_, {"later.example"}, "b", NowMs() + 3'600'000), "later")).ok());
  ASSERT_TRUE(Enqueue(label(MakeMessage(ids_, {"now.example"}, "b", NowMs()), "now")).ok());
  ASSERT_TRUE(due_.WaitFor(1, absl::Seconds(30)));
  clock_.Advance(absl::Minutes(56));
  ASSERT_TRUE(due_.WaitFor(2, absl::Seconds(30)));
  std::vector<ScheduledMessage> due = due_.Take();
  ASSERT_EQ(due.size(), 2u);
  for (const ScheduledMessage& message : due) {
    const std::string tag = message.domain == "now.example" ? "now" : "later";
    EXPECT_EQ(message.pool, "pool-" + tag);
    EXPECT_EQ(message.tenant, "tenant-" + tag);
    EXPECT_EQ(message.campaign, "campaign-" + tag);
  }
}

TEST_F(RocksDbSpoolTest, UpdateMovesTheScheduleEntryAndRewritesTheRecord) {
  Open();
  NewMessage message = MakeMessage(ids_, {"example.com"}, "body", NowMs());
  Envelope envelope = message.envelopes[0];
  ASSERT_TRUE(Enqueue(std::move(message)).ok());
  ASSERT_TRUE(due_.WaitFor(1, absl::Seconds(30)));
  due_.Take();

  // A temporary failure: retry in an hour.
  envelope.mutable_recipients(0)->set_state(proto::DEFERRED);
  envelope.mutable_recipients(0)->set_last_reply("451 4.7.1 try later");
  envelope.set_attempts(1);
  envelope.set_next_due_unix_ms(NowMs() + 3'600'000);
  ASSERT_TRUE(Update(envelope).ok());
  absl::StatusOr<StoredMessage> stored = Read(IdOf(envelope));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->envelope.recipients(0).last_reply(), "451 4.7.1 try later");

  // Reopened, only the new schedule entry exists: nothing is due now.
  spool_.reset();
  Open();
  EXPECT_EQ(spool_->recovery().envelopes, 1u);
  clock_.Advance(absl::Minutes(30));
  // A marker due now proves the loader has run past the old entry.
  ASSERT_TRUE(Enqueue(MakeMessage(ids_, {"marker.example"}, "m", NowMs())).ok());
  ASSERT_TRUE(due_.WaitFor(1, absl::Seconds(30)));
  std::vector<ScheduledMessage> due = due_.Take();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].domain, "marker.example");
  clock_.Advance(absl::Minutes(27));
  ASSERT_TRUE(due_.WaitFor(1, absl::Seconds(30)));
  due = due_.Take();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, IdOf(envelope));
}

TEST_F(RocksDbSpoolTest, RemoveDeletesEnvelopeAndReleasesSharedBodyWithTheLastOne) {
  Open();
  NewMessage message = MakeMessage(ids_, {"a.example", "b.example"}, "shared body", NowMs());
  const common::MessageId a = IdOf(message.envelopes[0]);
  const common::MessageId b = IdOf(message.envelopes[1]);
  ASSERT_TRUE(Enqueue(std::move(message)).ok());

  ASSERT_TRUE(Remove(a).ok());
  EXPECT_TRUE(absl::IsNotFound(Read(a).status()));
  // Removing it again changes nothing: b's body must survive.
  EXPECT_TRUE(absl::IsNotFound(Remove(a)));
  absl::StatusOr<StoredMessage> stored = Read(b);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->body, "shared body");

  ASSERT_TRUE(Remove(b).ok());
  spool_.reset();
  Open();
  EXPECT_EQ(spool_->recovery().envelopes, 0u);
}

TEST_F(RocksDbSpoolTest, SharedBodyCountsSurviveARestart) {
  Open();
  NewMessage message = MakeMessage(ids_, {"a.example", "b.example", "c.example"}, "x", NowMs());
  const common::MessageId a = IdOf(message.envelopes[0]);
  const common::MessageId b = IdOf(message.envelopes[1]);
  const common::MessageId c = IdOf(message.envelopes[2]);
  ASSERT_TRUE(Enqueue(std::move(message)).ok());
  ASSERT_TRUE(Remove(a).ok());
  spool_.reset();
  Open();
  EXPECT_EQ(spool_->recovery().bodies_shared, 1u);
  ASSERT_TRUE(Remove(b).ok());
  absl::StatusOr<StoredMessage> stored = Read(c);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->body, "x");
}

TEST_F(RocksDbSpoolTest, UpdateOfPurgedEnvelopeIsNotFoundAndDoesNotBringItBack) {
  Open();
  NewMessage message = MakeMessage(ids_, {"example.com"}, "body", NowMs());
  Envelope envelope = message.envelopes[0];
  ASSERT_TRUE(Enqueue(std::move(message)).ok());
  ASSERT_TRUE(Remove(IdOf(envelope)).ok());
  envelope.set_attempts(1);
  EXPECT_TRUE(absl::IsNotFound(Update(envelope)));
  EXPECT_TRUE(absl::IsNotFound(Read(IdOf(envelope)).status()));
}

TEST_F(RocksDbSpoolTest, RestartHandsOutEveryPendingMessageAgain) {
  Open();
  std::vector<common::MessageId> expected;
  for (int i = 0; i < 100; ++i) {
    NewMessage message =
        MakeMessage(ids_, {absl::StrCat("d", i % 7, ".example")}, "body", NowMs() + i);
    expected.push_back(IdOf(message.envelopes[0]));
    ASSERT_TRUE(Enqueue(std::move(message)).ok());
  }
  ASSERT_TRUE(due_.WaitFor(100, absl::Seconds(30)));
  due_.Take();
  spool_.reset();

  Open();
  EXPECT_EQ(spool_->recovery().envelopes, 100u);
  ASSERT_TRUE(due_.WaitFor(100, absl::Seconds(30)));
  std::vector<common::MessageId> got;
  for (const ScheduledMessage& message : due_.Take()) got.push_back(message.id);
  EXPECT_EQ(got, expected);  // in due order
}

TEST_F(RocksDbSpoolTest, UndecodableRecordIsQuarantinedNotDroppedOrFatal) {
  Open();
  NewMessage good = MakeMessage(ids_, {"example.com"}, "body", NowMs());
  const common::MessageId good_id = IdOf(good.envelopes[0]);
  ASSERT_TRUE(Enqueue(std::move(good)).ok());
  spool_.reset();

  // Damage the spool behind sluice's back: an envelope that is not protobuf.
  const std::string bad_key = IdKey(ids_.Next());
  {
    RawSpoolDb db(path_, /*read_only=*/false);
    ASSERT_TRUE(db.status().ok()) << db.status().ToString();
    ASSERT_TRUE(db.Put(RawSpoolDb::kEnvelopes, bad_key, "\xff\xff garbage").ok());
  }

  Open();
  EXPECT_EQ(spool_->recovery().quarantined, 1u);
  EXPECT_EQ(spool_->recovery().envelopes, 1u);
  EXPECT_TRUE(Read(good_id).ok());
  spool_.reset();

  // The damaged record was moved, not lost.
  RawSpoolDb db(path_, /*read_only=*/true);
  ASSERT_TRUE(db.status().ok()) << db.status().ToString();
  std::string value;
  EXPECT_TRUE(db.Get(RawSpoolDb::kEnvelopes, bad_key, &value).IsNotFound());
  ASSERT_TRUE(db.Get(RawSpoolDb::kQuarantine, bad_key, &value).ok());
  proto::Quarantined record;
  ASSERT_TRUE(record.ParseFromString(value));
  EXPECT_EQ(record.value(), "\xff\xff garbage");
  EXPECT_EQ(record.column_family(), "envelopes");
  EXPECT_FALSE(record.reason().empty());
}

TEST_F(RocksDbSpoolTest, ManyProducersAreCommittedInFewerSyncsThanMessages) {
  Open();
  constexpr int kMessages = 2000;
  Countdown countdown(kMessages);
  std::vector<std::thread> producers;
  for (int p = 0; p < 8; ++p) {
    producers.emplace_back([&, p] {
      common::MessageIdGenerator ids(&clock_, p + 1, 7);
      for (int i = 0; i < kMessages / 8; ++i) {
        spool_->Enqueue(MakeMessage(ids, {"example.com"}, std::string(2048, 'x'), NowMs()),
                        countdown.Callback());
      }
    });
  }
  for (auto& producer : producers) producer.join();
  EXPECT_TRUE(countdown.Wait().empty());
  EXPECT_LT(spool_->commits(), static_cast<uint64_t>(kMessages));
  spool_.reset();
  Open();
  EXPECT_EQ(spool_->recovery().envelopes, static_cast<uint64_t>(kMessages));
}

TEST_F(RocksDbSpoolTest, NewerFormatVersionIsRefusedWithAClearError) {
  Open();
  spool_.reset();
  {
    RawSpoolDb db(path_, /*read_only=*/false);
    ASSERT_TRUE(db.status().ok()) << db.status().ToString();
    ASSERT_TRUE(db.Put(RawSpoolDb::kDefault, "format", "99").ok());
  }
  absl::StatusOr<std::unique_ptr<RocksDbSpool>> spool = RocksDbSpool::Open(Options());
  ASSERT_FALSE(spool.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(spool.status()));
  EXPECT_NE(spool.status().message().find("format 99"), std::string::npos);
}

}  // namespace
}  // namespace sluice::queue
