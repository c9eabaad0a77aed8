// The suppression list in the spool's database: scopes, expiry, paging,
// CSV import and export, and that entries outlive a restart.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "gtest/gtest.h"
#include "queue/rocksdb_spool.h"
#include "queue/suppression.h"
#include "rocksdb/db.h"
#include "tests/queue/spool_test_util.h"

namespace sluice::queue {
namespace {

using testing::Answer;
using Found = absl::StatusOr<std::vector<std::optional<SuppressionEntry>>>;

class SuppressionListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/suppression-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                         getpid());
    std::filesystem::remove_all(path_);
    Open();
  }
  void TearDown() override {
    spool_.reset();
    std::filesystem::remove_all(path_);
  }
  void Open() {
    spool_.reset();
    RocksDbSpoolOptions options;
    options.path = path_;
    options.clock = &clock_;
    absl::StatusOr<std::unique_ptr<RocksDbSpool>> spool = RocksDbSpool::Open(std::move(options));
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = std::move(*spool);
  }

  SuppressionEntry Entry(std::string scope, std::string address,
                         SuppressionSource source = SuppressionSource::kOperator,
                         int64_t expires = 0) {
    SuppressionEntry entry;
    entry.scope = std::move(scope);
    entry.address = std::move(address);
    entry.source = source;
    entry.reason = "test";
    entry.created_unix_ms = absl::ToUnixMillis(clock_.Now());
    entry.expires_unix_ms = expires;
    return entry;
  }
  absl::Status Suppress(std::vector<SuppressionEntry> entries) {
    Answer<absl::Status> answer;
    spool_->Suppress(std::move(entries), answer.Callback());
    return answer.Get();
  }
  Found LookUp(std::string tenant, std::vector<std::string> addresses) {
    Answer<Found> answer;
    spool_->LookUpSuppressed(std::move(tenant), std::move(addresses), answer.Callback());
    return answer.Get();
  }
  absl::StatusOr<std::vector<SuppressionEntry>> List(std::string scope, std::string prefix,
                                                     std::string after, size_t limit) {
    Answer<absl::StatusOr<std::vector<SuppressionEntry>>> answer;
    spool_->ListSuppressed(std::move(scope), std::move(prefix), std::move(after), limit,
                           answer.Callback());
    return answer.Get();
  }

  common::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  std::string path_;
  std::unique_ptr<RocksDbSpool> spool_;
};

TEST_F(SuppressionListTest, EmptyListRefusesNothing) {
  EXPECT_FALSE(spool_->MayHaveSuppressions());
  Found found = LookUp("acme", {"a@example.com", "not an address"});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_FALSE((*found)[0].has_value());
  EXPECT_FALSE((*found)[1].has_value());
}

TEST_F(SuppressionListTest, TenantScopeThenGlobalScope) {
  ASSERT_TRUE(Suppress({Entry("acme", "Tenant@Example.COM", SuppressionSource::kComplaint),
                        Entry("", "global@example.com", SuppressionSource::kHardBounce)})
                  .ok());
  EXPECT_TRUE(spool_->MayHaveSuppressions());
  EXPECT_EQ(spool_->suppressions(), 2);

  Found acme = LookUp("acme", {"tenant@example.com", "GLOBAL@example.com", "free@example.com"});
  ASSERT_TRUE(acme.ok()) << acme.status();
  ASSERT_TRUE((*acme)[0].has_value());
  EXPECT_EQ((*acme)[0]->scope, "acme");
  EXPECT_EQ((*acme)[0]->address, "tenant@example.com");
  EXPECT_EQ((*acme)[0]->source, SuppressionSource::kComplaint);
  ASSERT_TRUE((*acme)[1].has_value());
  EXPECT_EQ((*acme)[1]->scope, "");
  EXPECT_EQ((*acme)[1]->source, SuppressionSource::kHardBounce);
  EXPECT_FALSE((*acme)[2].has_value());

  // Another tenant, and mail without one, see only the global entry.
  Found globex = LookUp("globex", {"tenant@example.com", "global@example.com"});
  ASSERT_TRUE(globex.ok());
  EXPECT_FALSE((*globex)[0].has_value());
  EXPECT_TRUE((*globex)[1].has_value());
  Found none = LookUp("", {"tenant@example.com", "global@example.com"});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE((*none)[0].has_value());
  EXPECT_TRUE((*none)[1].has_value());
}

TEST_F(SuppressionListTest, ReplacingAnEntryDoesNotCountItTwice) {
  ASSERT_TRUE(Suppress({Entry("acme", "a@example.com"), Entry("acme", "a@example.com")}).ok());
  ASSERT_TRUE(Suppress({Entry("acme", "A@example.com", SuppressionSource::kUnsubscribe)}).ok());
  EXPECT_EQ(spool_->suppressions(), 1);
  Found found = LookUp("acme", {"a@example.com"});
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE((*found)[0].has_value());
  EXPECT_EQ((*found)[0]->source, SuppressionSource::kUnsubscribe);
}

TEST_F(SuppressionListTest, RefusesAnEntryWithoutAnAddress) {
  EXPECT_TRUE(absl::IsInvalidArgument(Suppress({Entry("acme", "nobody")})));
  EXPECT_TRUE(absl::IsInvalidArgument(Suppress({Entry(std::string("a\0b", 3), "a@b.example")})));
  EXPECT_EQ(spool_->suppressions(), 0);
}

TEST_F(SuppressionListTest, ExpiredEntriesRefuseNothing) {
  const int64_t now = absl::ToUnixMillis(clock_.Now());
  ASSERT_TRUE(
      Suppress({Entry("", "soon@example.com", SuppressionSource::kHardBounce, now + 1000),
                Entry("", "later@example.com", SuppressionSource::kHardBounce, now + 10'000)})
          .ok());
  clock_.Advance(absl::Seconds(5));
  Found found = LookUp("", {"soon@example.com", "later@example.com"});
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE((*found)[0].has_value());
  EXPECT_TRUE((*found)[1].has_value());
  absl::StatusOr<std::vector<SuppressionEntry>> listed = List("", "", "", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].address, "later@example.com");
}

TEST_F(SuppressionListTest, TheSweepAtOpenRemovesExpiredEntries) {
  const int64_t now = absl::ToUnixMillis(clock_.Now());
  ASSERT_TRUE(Suppress({Entry("", "soon@example.com", SuppressionSource::kHardBounce, now + 1000),
                        Entry("", "kept@example.com")})
                  .ok());
  clock_.Advance(absl::Seconds(5));
  Open();
  // The census at open counts both; the sweep it starts then removes one.
  // Wait for the writer's answer, not for time.
  while (spool_->suppressions() != 1) std::this_thread::yield();
  absl::StatusOr<std::vector<SuppressionEntry>> listed = List("", "", "", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].address, "kept@example.com");
}

TEST_F(SuppressionListTest, EntriesOutliveARestart) {
  ASSERT_TRUE(Suppress({Entry("acme", "a@example.com", SuppressionSource::kComplaint)}).ok());
  Open();
  EXPECT_TRUE(spool_->MayHaveSuppressions());
  EXPECT_EQ(spool_->suppressions(), 1);
  Found found = LookUp("acme", {"a@example.com"});
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE((*found)[0].has_value());
  EXPECT_EQ((*found)[0]->reason, "test");
}

TEST_F(SuppressionListTest, UnsuppressCountsWhatWasThere) {
  ASSERT_TRUE(Suppress({Entry("acme", "a@example.com"), Entry("", "a@example.com")}).ok());
  Answer<absl::StatusOr<uint64_t>> removed;
  spool_->Unsuppress("acme", {"A@example.com", "b@example.com"}, removed.Callback());
  absl::StatusOr<uint64_t> n = removed.Get();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(spool_->suppressions(), 1);
  Found found = LookUp("acme", {"a@example.com"});
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE((*found)[0].has_value());
  EXPECT_EQ((*found)[0]->scope, "");  // the global entry still applies
}

TEST_F(SuppressionListTest, ListsPagesByPrefixWithinOneScope) {
  std::vector<SuppressionEntry> entries;
  for (int i = 0; i < 25; ++i)
    entries.push_back(Entry("acme", absl::StrCat("u", 100 + i, "@a.example")));
  entries.push_back(Entry("acme", "other@a.example"));
  entries.push_back(Entry("acmeco", "u100@a.example"));  // another scope, same prefix
  ASSERT_TRUE(Suppress(entries).ok());

  std::vector<std::string> seen;
  std::string after;
  while (true) {
    absl::StatusOr<std::vector<SuppressionEntry>> page = List("acme", "U1", after, 10);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const SuppressionEntry& entry : *page) {
      EXPECT_EQ(entry.scope, "acme");
      seen.push_back(entry.address);
    }
    if (page->size() < 10) break;
    after = page->back().address;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "u100@a.example");
  EXPECT_EQ(seen.back(), "u124@a.example");
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_F(SuppressionListTest, ImportThenExportRoundTrips) {
  std::string csv = "address,reason,expires\r\n";
  for (int i = 0; i < 12'000; ++i)
    absl::StrAppend(&csv, "user", i, "@import.example,\"bounced, twice\",\r\n");
  absl::StrAppend(&csv, "broken-address,x,\r\n");
  Answer<absl::StatusOr<SuppressionImport>> imported;
  spool_->ImportSuppressions("acme", csv, imported.Callback());
  absl::StatusOr<SuppressionImport> result = imported.Get();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->imported, 12'000u);
  EXPECT_EQ(result->refused, 1u);
  ASSERT_EQ(result->errors.size(), 1u);
  EXPECT_EQ(result->errors[0], "line 12002: \"broken-address\" is not an address");
  EXPECT_EQ(spool_->suppressions(), 12'000);

  Found found = LookUp("acme", {"user11999@import.example"});
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE((*found)[0].has_value());
  EXPECT_EQ((*found)[0]->reason, "bounced, twice");
  EXPECT_EQ((*found)[0]->source, SuppressionSource::kOperator);

  Answer<absl::StatusOr<std::string>> exported;
  spool_->ExportSuppressions("acme", exported.Callback());
  absl::StatusOr<std::string> text = exported.Get();
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(absl::StartsWith(*text, "address,tenant,source,reason,created,expires\r\n"));
  EXPECT_NE(text->find("\"user0@import.example\",\"acme\",\"operator\",\"bounced, twice\","
                       "\"2027-01-15T08:00:00Z\",\"\"\r\n"),
            std::string::npos);

  // The export loads back into an empty list as it was.
  spool_.reset();
  std::filesystem::remove_all(path_);
  Open();
  Answer<absl::StatusOr<SuppressionImport>> again;
  spool_->ImportSuppressions("ignored: the rows name their tenant", *text, again.Callback());
  absl::StatusOr<SuppressionImport> reloaded = again.Get();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->imported, 12'000u);
  EXPECT_EQ(reloaded->refused, 0u);
  Answer<absl::StatusOr<std::string>> second;
  spool_->ExportSuppressions("acme", second.Callback());
  EXPECT_EQ(second.Get().value_or(""), *text);
}

TEST_F(SuppressionListTest, ASpoolFromBeforeTheListOpensAndGetsOne) {
  spool_.reset();
  std::filesystem::remove_all(path_);
  {
    // The column families and format of a spool made before suppression.
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {"default", "bodies", "envelopes", "schedule", "quarantine"}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path_, families, &handles, &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[0], "format", "1").ok());
    for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);
    delete db;
  }
  Open();
  EXPECT_FALSE(spool_->MayHaveSuppressions());
  ASSERT_TRUE(Suppress({Entry("", "a@example.com")}).ok());
  Open();
  EXPECT_EQ(spool_->suppressions(), 1);
}

TEST_F(SuppressionListTest, ImportRefusesTextThatIsNotCsv) {
  Answer<absl::StatusOr<SuppressionImport>> imported;
  spool_->ImportSuppressions("acme", "address\r\n\"a@b.example\r\n", imported.Callback());
  absl::StatusOr<SuppressionImport> result = imported.Get();
  EXPECT_TRUE(absl::IsInvalidArgument(result.status())) << result.status();
  Answer<absl::StatusOr<SuppressionImport>> no_address;
  spool_->ImportSuppressions("acme", "email_address\r\na@b.example\r\n", no_address.Callback());
  result = no_address.Get();
  EXPECT_TRUE(absl::IsInvalidArgument(result.status()));
  EXPECT_NE(result.status().message().find("no \"address\" column"), std::string::npos);
  EXPECT_EQ(spool_->suppressions(), 0);
}

}  // namespace
}  // namespace sluice::queue
