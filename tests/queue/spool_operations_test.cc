// The operations the admin API builds on: counts, listings, purge and
// reschedule-now by filter.
#include <unistd.h>

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "gtest/gtest.h"
#include "queue/rocksdb_spool.h"
#include "tests/queue/spool_test_util.h"

namespace sluice::queue {
namespace {

using testing::Answer;
using testing::DueCollector;
using testing::IdOf;
using testing::MakeMessage;

class SpoolOperationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/spool-ops-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                         getpid());
    std::filesystem::remove_all(path_);
    RocksDbSpoolOptions options;
    options.path = path_;
    options.clock = &clock_;
    options.due_sink = due_.Sink();
    options.loader_interval = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<RocksDbSpool>> spool = RocksDbSpool::Open(std::move(options));
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = std::move(*spool);

    // 12 envelopes: tenants acme (8) and globex (4); domains a/b/c; all
    // due in a day, so none is handed out by itself; envelope i is 7i
    // minutes old.
    for (int i = 0; i < 12; ++i) {
      NewMessage message =
          MakeMessage(ids_, {absl::StrCat(std::string(1, 'a' + i % 3), ".example")}, "body",
                      absl::ToUnixMillis(clock_.Now()) + 86'400'000);
      Envelope& envelope = message.envelopes[0];
      envelope.set_tenant(i < 8 ? "acme" : "globex");
      envelope.set_campaign(i % 2 == 0 ? "even" : "odd");
      envelope.set_site(i % 3 == 2 ? "mx.c.example" : "mx.shared.example");
      envelope.set_created_unix_ms(absl::ToUnixMillis(clock_.Now()) - i * 7 * 60'000);
      all_.push_back(IdOf(envelope));
      Answer<absl::Status> answer;
      spool_->Enqueue(std::move(message), answer.Callback());
      ASSERT_TRUE(answer.Get().ok());
    }
  }
  void TearDown() override {
    spool_.reset();
    std::filesystem::remove_all(path_);
  }

  std::vector<SpoolCount> Count(SpoolFilter filter, SpoolGroupBy group_by) {
    Answer<absl::StatusOr<std::vector<SpoolCount>>> answer;
    spool_->Count(std::move(filter), group_by, answer.Callback());
    absl::StatusOr<std::vector<SpoolCount>> rows = answer.Get();
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? *rows : std::vector<SpoolCount>{};
  }

  std::string path_;
  common::FakeClock clock_;
  common::MessageIdGenerator ids_{&clock_, 0, 11};
  DueCollector due_;
  std::unique_ptr<RocksDbSpool> spool_;
  std::vector<common::MessageId> all_;
};

TEST_F(SpoolOperationsTest, CountsGroupByTenantDomainSiteAndCampaign) {
  std::vector<SpoolCount> tenants = Count({}, SpoolGroupBy::kTenant);
  ASSERT_EQ(tenants.size(), 2u);
  EXPECT_EQ(tenants[0].key, "acme");
  EXPECT_EQ(tenants[0].envelopes, 8u);
  EXPECT_EQ(tenants[0].recipients, 8u);
  EXPECT_EQ(tenants[1].key, "globex");
  EXPECT_EQ(tenants[1].envelopes, 4u);

  std::vector<SpoolCount> domains = Count({}, SpoolGroupBy::kDomain);
  ASSERT_EQ(domains.size(), 3u);
  for (const SpoolCount& row : domains) EXPECT_EQ(row.envelopes, 4u) << row.key;

  std::vector<SpoolCount> sites = Count({}, SpoolGroupBy::kSite);
  ASSERT_EQ(sites.size(), 2u);
  EXPECT_EQ(sites[0].key, "mx.shared.example");
  EXPECT_EQ(sites[0].envelopes, 8u);

  SpoolFilter acme;
  acme.tenant = "acme";
  std::vector<SpoolCount> campaigns = Count(acme, SpoolGroupBy::kCampaign);
  ASSERT_EQ(campaigns.size(), 2u);
  EXPECT_EQ(campaigns[0].envelopes + campaigns[1].envelopes, 8u);
}

TEST_F(SpoolOperationsTest, CountsSortEnvelopesIntoAgeBuckets) {
  // Ages 0, 7, 14, ..., 77 minutes; two hours later 120-155 (< 160) and
  // 162-197 (< 320).
  std::vector<SpoolCount> all = Count({}, SpoolGroupBy::kTenant);
  ASSERT_EQ(all.size(), 2u);
  std::array<uint64_t, 10> ages{};
  for (const SpoolCount& row : all) {
    for (size_t i = 0; i < ages.size(); ++i) ages[i] += row.ages[i];
  }
  EXPECT_EQ(ages, (std::array<uint64_t, 10>{1, 1, 1, 3, 6, 0, 0, 0, 0, 0}));
  clock_.Advance(absl::Hours(2));
  all = Count({}, SpoolGroupBy::kTenant);
  ages = {};
  for (const SpoolCount& row : all) {
    for (size_t i = 0; i < ages.size(); ++i) ages[i] += row.ages[i];
  }
  EXPECT_EQ(ages, (std::array<uint64_t, 10>{0, 0, 0, 0, 0, 6, 6, 0, 0, 0}));
}

TEST(SpoolAgeBucketTest, BoundsAreExclusiveAndTheLastBucketHoldsTheOldest) {
  EXPECT_EQ(SpoolAgeBucket(-1000), 0u);  // a clock step back
  EXPECT_EQ(SpoolAgeBucket(0), 0u);
  EXPECT_EQ(SpoolAgeBucket(5 * 60'000 - 1), 0u);
  EXPECT_EQ(SpoolAgeBucket(5 * 60'000), 1u);
  EXPECT_EQ(SpoolAgeBucket(1279 * 60'000), 8u);
  EXPECT_EQ(SpoolAgeBucket(1280 * 60'000), 9u);
  EXPECT_EQ(SpoolAgeBucket(int64_t{1} << 50), 9u);
}

TEST_F(SpoolOperationsTest, ListPagesThroughMatchesInArrivalOrder) {
  SpoolFilter filter;
  filter.domain = "a.example";
  std::vector<common::MessageId> seen;
  common::MessageId after;
  while (true) {
    Answer<absl::StatusOr<std::vector<Envelope>>> answer;
    spool_->List(filter, after, 3, answer.Callback());
    absl::StatusOr<std::vector<Envelope>> page = answer.Get();
    ASSERT_TRUE(page.ok()) << page.status();
    if (page->empty()) break;
    for (const Envelope& envelope : *page) {
      EXPECT_EQ(envelope.domain(), "a.example");
      seen.push_back(IdOf(envelope));
    }
    after = seen.back();
  }
  EXPECT_EQ(seen, (std::vector<common::MessageId>{all_[0], all_[3], all_[6], all_[9]}));
}

TEST_F(SpoolOperationsTest, PurgeRemovesOnlyMatchingEnvelopes) {
  SpoolFilter filter;
  filter.tenant = "globex";
  Answer<absl::StatusOr<uint64_t>> answer;
  spool_->Purge(filter, answer.Callback());
  absl::StatusOr<uint64_t> purged = answer.Get();
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 4u);

  std::vector<SpoolCount> tenants = Count({}, SpoolGroupBy::kTenant);
  ASSERT_EQ(tenants.size(), 1u);
  EXPECT_EQ(tenants[0].key, "acme");
  Answer<absl::StatusOr<StoredMessage>> read;
  spool_->Read(all_[11], read.Callback());
  EXPECT_TRUE(absl::IsNotFound(read.Get().status()));
}

TEST_F(SpoolOperationsTest, RescheduleNowHandsMatchingEnvelopesOutAtOnce) {
  SpoolFilter filter;
  filter.domain = "b.example";
  Answer<absl::StatusOr<uint64_t>> answer;
  spool_->RescheduleNow(filter, answer.Callback());
  absl::StatusOr<uint64_t> moved = answer.Get();
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 4u);
  ASSERT_TRUE(due_.WaitFor(4, absl::Seconds(30)));
  std::vector<ScheduledMessage> due = due_.Take();
  ASSERT_EQ(due.size(), 4u);
  for (const ScheduledMessage& message : due) EXPECT_EQ(message.domain, "b.example");

  // Already due: a second reschedule moves nothing.
  Answer<absl::StatusOr<uint64_t>> again;
  spool_->RescheduleNow(filter, again.Callback());
  EXPECT_EQ(*again.Get(), 0u);
}

}  // namespace
}  // namespace sluice::queue
