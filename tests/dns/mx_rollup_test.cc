#include "dns/mx_rollup.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace sluice::dns {
namespace {

TEST(MxRollupTest, OrdersByPreferenceAndShufflesEqualOnes) {
  std::set<std::string> firsts;
  for (uint32_t seed = 0; seed < 64; ++seed) {
    std::vector<MxRecord> mx = {{20, "c"}, {10, "a"}, {10, "b"}, {5, "z"}, {10, "d"}};
    std::mt19937 gen(seed);
    OrderMxRecords(mx, gen);
    ASSERT_EQ(mx.size(), 5u);
    EXPECT_EQ(mx[0], (MxRecord{5, "z"}));
    EXPECT_EQ(mx[4], (MxRecord{20, "c"}));
    std::set<std::string> middle = {mx[1].host, mx[2].host, mx[3].host};
    EXPECT_EQ(middle, (std::set<std::string>{"a", "b", "d"}));
    for (int i = 1; i <= 3; ++i) EXPECT_EQ(mx[i].preference, 10);
    firsts.insert(mx[1].host);
  }
  // Over 64 seeds each of the three equal hosts came first at least once.
  EXPECT_EQ(firsts.size(), 3u);
}

TEST(MxRollupTest, DuplicateHostKeepsItsBestPreference) {
  std::vector<MxRecord> mx = {{30, "a"}, {10, "b"}, {5, "a"}};
  std::mt19937 gen(1);
  OrderMxRecords(mx, gen);
  EXPECT_EQ(mx, (std::vector<MxRecord>{{5, "a"}, {10, "b"}}));
}

TEST(MxRollupTest, SiteKeyIgnoresOrderAndPreference) {
  const std::string key = SiteKeyForMx({{10, "mx1.provider.net"}, {20, "mx2.provider.net"}});
  EXPECT_EQ(key, "mx:mx1.provider.net,mx2.provider.net");
  EXPECT_EQ(SiteKeyForMx({{5, "mx2.provider.net"}, {5, "mx1.provider.net"}}), key);
  EXPECT_NE(SiteKeyForMx({{10, "mx1.provider.net"}}), key);
}

TEST(MxRollupTest, NullMx) {
  EXPECT_TRUE(IsNullMx({{0, ""}}));
  EXPECT_FALSE(IsNullMx({{0, ""}, {10, "mx.test"}}));
  EXPECT_FALSE(IsNullMx({}));
}

TEST(MxRollupTest, HostSiteKeysAreSorted) {
  EXPECT_EQ(SiteKeyForHosts("static", {HostPort{"b.test", 25}, HostPort{"a.test", 2525}}),
            "static:a.test:2525,b.test:25");
}

}  // namespace
}  // namespace sluice::dns
