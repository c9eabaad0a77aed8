#include "dns/dns_cache.h"

#include <gtest/gtest.h>

#include "common/fake_clock.h"

namespace sluice::dns {
namespace {

Answer Positive(absl::Duration ttl) {
  Answer a;
  a.status = AnswerStatus::kOk;
  a.mx.push_back(MxRecord{10, "mx.example.com"});
  a.ttl = ttl;
  return a;
}

Answer Negative(AnswerStatus status, absl::Duration ttl) {
  Answer a;
  a.status = status;
  a.ttl = ttl;
  return a;
}

CacheOptions Options() {
  CacheOptions o;
  o.min_ttl = absl::Seconds(10);
  o.max_ttl = absl::Hours(1);
  o.negative_default_ttl = absl::Seconds(120);
  o.negative_max_ttl = absl::Minutes(10);
  o.temporary_error_ttl = absl::Seconds(5);
  o.max_entries = 100;
  return o;
}

TEST(DnsCacheTest, PositiveAnswerLivesForItsTtl) {
  common::FakeClock clock;
  DnsCache cache(Options(), clock);
  cache.Insert("example.com", RecordType::kMx, Positive(absl::Seconds(300)));
  clock.Advance(absl::Seconds(299));
  std::shared_ptr<const Answer> hit = cache.Find("example.com", RecordType::kMx);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->mx[0].host, "mx.example.com");
  EXPECT_EQ(cache.Find("example.com", RecordType::kA), nullptr);  // other type
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(cache.Find("example.com", RecordType::kMx), nullptr);
  EXPECT_EQ(cache.stats().expired, 1u);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(DnsCacheTest, TtlIsClampedToMinAndMax) {
  common::FakeClock clock;
  DnsCache cache(Options(), clock);
  EXPECT_EQ(cache.TtlFor(Positive(absl::Seconds(0))), absl::Seconds(10));
  EXPECT_EQ(cache.TtlFor(Positive(absl::Hours(48))), absl::Hours(1));
  cache.Insert("short.test", RecordType::kMx, Positive(absl::Seconds(1)));
  clock.Advance(absl::Seconds(9));
  EXPECT_NE(cache.Find("short.test", RecordType::kMx), nullptr);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(cache.Find("short.test", RecordType::kMx), nullptr);
}

TEST(DnsCacheTest, NegativeAnswersUseSoaTtlOrTheDefault) {
  common::FakeClock clock;
  DnsCache cache(Options(), clock);
  EXPECT_EQ(cache.TtlFor(Negative(AnswerStatus::kNxDomain, absl::Seconds(60))), absl::Seconds(60));
  EXPECT_EQ(cache.TtlFor(Negative(AnswerStatus::kNoData, absl::Hours(5))), absl::Minutes(10));
  EXPECT_EQ(cache.TtlFor(Negative(AnswerStatus::kNoData, absl::Seconds(-1))), absl::Seconds(120));
  cache.Insert("nope.test", RecordType::kMx, Negative(AnswerStatus::kNxDomain, absl::Seconds(60)));
  clock.Advance(absl::Seconds(59));
  std::shared_ptr<const Answer> hit = cache.Find("nope.test", RecordType::kMx);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->status, AnswerStatus::kNxDomain);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(cache.Find("nope.test", RecordType::kMx), nullptr);
}

TEST(DnsCacheTest, TemporaryFailuresAreCachedBriefly) {
  common::FakeClock clock;
  DnsCache cache(Options(), clock);
  cache.Insert("sick.test", RecordType::kMx, Negative(AnswerStatus::kServFail, absl::Hours(1)));
  cache.Insert("slow.test", RecordType::kMx, Negative(AnswerStatus::kTimeout, absl::Hours(1)));
  clock.Advance(absl::Seconds(4));
  EXPECT_NE(cache.Find("sick.test", RecordType::kMx), nullptr);
  EXPECT_NE(cache.Find("slow.test", RecordType::kMx), nullptr);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(cache.Find("sick.test", RecordType::kMx), nullptr);
  EXPECT_EQ(cache.Find("slow.test", RecordType::kMx), nullptr);
}

TEST(DnsCacheTest, ZeroTemporaryTtlCachesNothing) {
  common::FakeClock clock;
  CacheOptions options = Options();
  options.temporary_error_ttl = absl::ZeroDuration();
  DnsCache cache(options, clock);
  std::shared_ptr<const Answer> returned =
      cache.Insert("sick.test", RecordType::kMx, Negative(AnswerStatus::kServFail, {}));
  ASSERT_NE(returned, nullptr);
  EXPECT_EQ(returned->status, AnswerStatus::kServFail);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(DnsCacheTest, EvictsLeastRecentlyUsed) {
  common::FakeClock clock;
  CacheOptions options = Options();
  options.max_entries = 3;
  DnsCache cache(options, clock);
  cache.Insert("a.test", RecordType::kMx, Positive(absl::Seconds(300)));
  cache.Insert("b.test", RecordType::kMx, Positive(absl::Seconds(300)));
  cache.Insert("c.test", RecordType::kMx, Positive(absl::Seconds(300)));
  ASSERT_NE(cache.Find("a.test", RecordType::kMx), nullptr);  // a is now the most recent
  cache.Insert("d.test", RecordType::kMx, Positive(absl::Seconds(300)));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_EQ(cache.Find("b.test", RecordType::kMx), nullptr);
  EXPECT_NE(cache.Find("a.test", RecordType::kMx), nullptr);
  EXPECT_NE(cache.Find("c.test", RecordType::kMx), nullptr);
  EXPECT_NE(cache.Find("d.test", RecordType::kMx), nullptr);
}

TEST(DnsCacheTest, ReinsertReplacesAndRefreshes) {
  common::FakeClock clock;
  DnsCache cache(Options(), clock);
  cache.Insert("a.test", RecordType::kMx, Positive(absl::Seconds(60)));
  clock.Advance(absl::Seconds(50));
  Answer updated = Positive(absl::Seconds(60));
  updated.mx[0].host = "new.example.com";
  cache.Insert("a.test", RecordType::kMx, updated);
  clock.Advance(absl::Seconds(50));
  std::shared_ptr<const Answer> hit = cache.Find("a.test", RecordType::kMx);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->mx[0].host, "new.example.com");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(DnsCacheTest, AnswerHandedOutSurvivesEviction) {
  common::FakeClock clock;
  CacheOptions options = Options();
  options.max_entries = 1;
  DnsCache cache(options, clock);
  cache.Insert("a.test", RecordType::kMx, Positive(absl::Seconds(60)));
  std::shared_ptr<const Answer> held = cache.Find("a.test", RecordType::kMx);
  cache.Insert("b.test", RecordType::kMx, Positive(absl::Seconds(60)));
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->mx[0].host, "mx.example.com");
  EXPECT_EQ(cache.Find("a.test", RecordType::kMx), nullptr);
}

}  // namespace
}  // namespace sluice::dns
