// GET /api/v1/sites' sorting, filtering and paging over 10,000 sites.
#include "api/site_query.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sluice::api {
namespace {

absl::StatusOr<SiteQuery> Query(const std::string& query_string) {
  absl::StatusOr<HttpTarget> target = HttpTarget::Parse("/api/v1/sites?" + query_string);
  if (!target.ok()) return target.status();
  return SiteQuery::Parse(*target);
}

// 10,000 sites: site i has i % 97 ready, and every tenth is suspended.
std::vector<engine::QueueSnapshot> Sites() {
  std::vector<engine::QueueSnapshot> sites;
  for (int i = 0; i < 10'000; ++i) {
    engine::QueueSnapshot q;
    q.site = absl::StrCat("mx", i, ".Example");
    q.pool = i % 2 == 0 ? "even" : "odd";
    q.key = absl::StrCat(q.site, "|", q.pool, "|");
    q.ready = i % 97;
    q.connections = i % 5;
    q.suspended = i % 10 == 0;
    sites.push_back(q);
  }
  return sites;
}

TEST(SiteQueryTest, DefaultIsEveryMatchMostReadyFirst) {
  absl::StatusOr<SiteQuery> query = Query("");
  ASSERT_TRUE(query.ok()) << query.status();
  SitePage page = query->Apply(Sites());
  EXPECT_EQ(page.total, 10'000u);
  ASSERT_EQ(page.queues.size(), 10'000u);
  EXPECT_EQ(page.queues.front().ready, 96u);
  EXPECT_EQ(page.queues.back().ready, 0u);
  for (size_t i = 1; i < page.queues.size(); ++i) {
    ASSERT_GE(page.queues[i - 1].ready, page.queues[i].ready);
    if (page.queues[i - 1].ready == page.queues[i].ready) {
      ASSERT_LT(page.queues[i - 1].key, page.queues[i].key);  // ties in key order
    }
  }
}

TEST(SiteQueryTest, PagesAreConsecutiveSlicesOfOneOrder) {
  absl::StatusOr<SiteQuery> all = Query("sort=connections&order=asc");
  ASSERT_TRUE(all.ok());
  const SitePage whole = all->Apply(Sites());
  for (size_t offset : {0u, 20u, 9'990u, 20'000u}) {
    absl::StatusOr<SiteQuery> query =
        Query(absl::StrCat("sort=connections&order=asc&limit=20&offset=", offset));
    ASSERT_TRUE(query.ok());
    const SitePage page = query->Apply(Sites());
    EXPECT_EQ(page.total, 10'000u);
    EXPECT_EQ(page.offset, std::min<size_t>(offset, 10'000));
    ASSERT_EQ(page.queues.size(), offset >= 10'000 ? 0u : std::min<size_t>(20, 10'000 - offset));
    for (size_t i = 0; i < page.queues.size(); ++i) {
      EXPECT_EQ(page.queues[i].key, whole.queues[offset + i].key);
    }
  }
}

TEST(SiteQueryTest, FiltersOnTextAndSuspensionBeforePaging) {
  absl::StatusOr<SiteQuery> query = Query("q=mx99&suspended=true&sort=site&limit=5");
  ASSERT_TRUE(query.ok());
  const SitePage page = query->Apply(Sites());
  // mx99, mx990..mx999, mx9900..mx9999, suspended: i % 10 == 0.
  EXPECT_EQ(page.total, 11u);  // 990, 9900, 9910, ..., 9990
  ASSERT_EQ(page.queues.size(), 5u);
  EXPECT_EQ(page.queues[0].site, "mx990.Example");
  EXPECT_EQ(page.queues[1].site, "mx9900.Example");
  // The text matches without regard to ASCII case, and matches pools too.
  absl::StatusOr<SiteQuery> upper = Query("q=EXAMPLE&limit=1");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(upper->Apply(Sites()).total, 10'000u);
  absl::StatusOr<SiteQuery> pool = Query("q=odd");
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ(pool->Apply(Sites()).total, 5'000u);
}

TEST(SiteQueryTest, BadParametersAreNamed) {
  for (const auto& [text, field] : std::vector<std::pair<std::string, std::string>>{
           {"sort=colour", "sort:"},
           {"order=up", "order:"},
           {"suspended=maybe", "suspended:"},
           {"limit=0", "limit:"},
           {"limit=1001", "limit:"},
           {"offset=-1", "offset:"},
           {"colour=red", "colour:"},
       }) {
    absl::StatusOr<SiteQuery> query = Query(text);
    ASSERT_FALSE(query.ok()) << text;
    EXPECT_TRUE(absl::IsInvalidArgument(query.status())) << text;
    EXPECT_EQ(query.status().message().substr(0, field.size()), field) << text;
  }
}

}  // namespace
}  // namespace sluice::api
