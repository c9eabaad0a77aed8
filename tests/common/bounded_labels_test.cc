#include "common/bounded_labels.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "common/thread_shard.h"

namespace sluice::common {
namespace {

constexpr char kName[] = "sluice_test_site_recipients_total";

BoundedLabelsOptions Options(int max_values, uint64_t promote_after) {
  BoundedLabelsOptions options;
  options.name = kName;
  options.help = "Recipients by site.";
  options.label = "site";
  options.columns = {{{"result", "delivered"}}, {{"result", "bounced"}}};
  options.max_values = max_values;
  options.promote_after = promote_after;
  return options;
}

// The value of an existing series (AddCounter returns the registered one).
uint64_t Value(MetricsRegistry& registry, const std::string& result, const std::string& site) {
  return registry.AddCounter(kName, "Recipients by site.", {{"result", result}, {"site", site}})
      .value()
      ->Value();
}

bool HasSeries(const MetricsRegistry& registry, const std::string& site) {
  return registry.RenderPrometheus().find(absl::StrCat("site=\"", site, "\"")) != std::string::npos;
}

class BoundedLabelsTest : public ::testing::Test {
 protected:
  void SetUp() override { SetCurrentShard(0); }
  void TearDown() override { SetCurrentShard(-1); }
};

TEST_F(BoundedLabelsTest, CreateRegistersOtherForEveryColumn) {
  MetricsRegistry registry(1);
  auto labels = BoundedLabels::Create(registry, Options(5, 3));
  ASSERT_TRUE(labels.ok()) << labels.status();
  const std::string text = registry.RenderPrometheus();
  EXPECT_NE(text.find(absl::StrCat(kName, "{result=\"delivered\",site=\"other\"} 0")),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(absl::StrCat(kName, "{result=\"bounced\",site=\"other\"} 0")),
            std::string::npos)
      << text;
}

TEST_F(BoundedLabelsTest, CreateRefusesBadOptions) {
  MetricsRegistry registry(1);
  EXPECT_FALSE(BoundedLabels::Create(registry, Options(-1, 3)).ok());
  EXPECT_FALSE(BoundedLabels::Create(registry, Options(5, 0)).ok());
  BoundedLabelsOptions no_columns = Options(5, 3);
  no_columns.columns.clear();
  EXPECT_FALSE(BoundedLabels::Create(registry, no_columns).ok());
  BoundedLabelsOptions bad_label = Options(5, 3);
  bad_label.label = "bad-label";
  EXPECT_FALSE(BoundedLabels::Create(registry, bad_label).ok());
}

TEST_F(BoundedLabelsTest, ValueCountsUnderOtherUntilPromotedThenOwnSeries) {
  MetricsRegistry registry(1);
  auto labels = BoundedLabels::Create(registry, Options(5, 3)).value();
  labels->Add(0, "gmail");
  labels->Add(0, "gmail");
  EXPECT_FALSE(HasSeries(registry, "gmail"));
  EXPECT_EQ(Value(registry, "delivered", "other"), 2u);
  labels->Add(0, "gmail");  // third: reaches promote_after, counted in its own series
  labels->Add(0, "gmail");
  labels->Add(1, "gmail", 7);
  EXPECT_EQ(labels->Promoted(), std::vector<std::string>{"gmail"});
  EXPECT_EQ(Value(registry, "delivered", "gmail"), 2u);
  EXPECT_EQ(Value(registry, "bounced", "gmail"), 7u);
  // What was counted under "other" stays there: counters never go down.
  EXPECT_EQ(Value(registry, "delivered", "other"), 2u);
  EXPECT_EQ(Value(registry, "bounced", "other"), 0u);
}

TEST_F(BoundedLabelsTest, NeverMoreThanMaxValuesSeries) {
  MetricsRegistry registry(1);
  auto labels = BoundedLabels::Create(registry, Options(3, 1)).value();
  uint64_t total = 0;
  for (int i = 0; i < 10; ++i) {
    for (int k = 0; k < 4; ++k) {
      labels->Add(0, absl::StrCat("site", i));
      ++total;
    }
  }
  EXPECT_EQ(labels->Promoted(), (std::vector<std::string>{"site0", "site1", "site2"}));
  uint64_t sum = Value(registry, "delivered", "other");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Value(registry, "delivered", absl::StrCat("site", i)), 4u);
    sum += Value(registry, "delivered", absl::StrCat("site", i));
  }
  EXPECT_EQ(sum, total);
  EXPECT_FALSE(HasSeries(registry, "site3"));
  EXPECT_EQ(Value(registry, "delivered", "other"), 7u * 4u);
}

TEST_F(BoundedLabelsTest, HeavyHitterAmongManyOneOffsGetsASeries) {
  MetricsRegistry registry(1);
  // Summary of 16 entries; 1000 distinct one-off domains churn through it,
  // and one site with a tenth of the traffic still reaches promote_after
  // (its summary count is at least 100 - 1100 / 17 = 35).
  auto labels = BoundedLabels::Create(registry, Options(2, 20)).value();
  for (int i = 0; i < 1000; ++i) {
    labels->Add(0, absl::StrCat("oneoff", i, ".example"));
    if (i % 10 == 0) labels->Add(0, "big.example");
  }
  EXPECT_EQ(labels->Promoted(), std::vector<std::string>{"big.example"});
  EXPECT_GT(Value(registry, "delivered", "big.example"), 0u);
  EXPECT_EQ(Value(registry, "delivered", "other") + Value(registry, "delivered", "big.example"),
            1100u);
}

TEST_F(BoundedLabelsTest, EmptyIsNoneAndOtherOrBadValuesNeverGetASeries) {
  MetricsRegistry registry(1);
  auto labels = BoundedLabels::Create(registry, Options(10, 1)).value();
  labels->Add(0, "");
  labels->Add(0, "other");
  labels->Add(0, std::string(200, 'a'));
  labels->Add(0, "bad\xff");
  EXPECT_EQ(labels->Promoted(), std::vector<std::string>{"none"});
  EXPECT_EQ(Value(registry, "delivered", "none"), 1u);
  EXPECT_EQ(Value(registry, "delivered", "other"), 3u);
}

TEST_F(BoundedLabelsTest, ZeroMaxValuesCountsEverythingAsOther) {
  MetricsRegistry registry(1);
  auto labels = BoundedLabels::Create(registry, Options(0, 1)).value();
  for (int i = 0; i < 5; ++i) labels->Add(1, "gmail");
  EXPECT_TRUE(labels->Promoted().empty());
  EXPECT_EQ(Value(registry, "bounced", "other"), 5u);
}

TEST_F(BoundedLabelsTest, ShardsAndOtherThreadsAgreeOnOneSetAndLoseNothing) {
  constexpr int kShards = 4;
  MetricsRegistry registry(kShards);
  auto labels = BoundedLabels::Create(registry, Options(3, 5)).value();
  std::vector<std::thread> threads;
  for (const int shard : {0, 1, 2, 3, -1}) {
    threads.emplace_back([&labels, shard] {
      SetCurrentShard(shard);
      for (int i = 0; i < 2000; ++i) {
        labels->Add(0, absl::StrCat("site", i % 8));
        labels->Add(1, "constant");
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const std::vector<std::string> promoted = labels->Promoted();
  EXPECT_EQ(promoted.size(), 3u);
  uint64_t delivered = Value(registry, "delivered", "other");
  uint64_t bounced = Value(registry, "bounced", "other");
  for (const std::string& site : promoted) {
    delivered += Value(registry, "delivered", site);
    bounced += Value(registry, "bounced", site);
  }
  EXPECT_EQ(delivered, 5u * 2000u);
  EXPECT_EQ(bounced, 5u * 2000u);
}

}  // namespace
}  // namespace sluice::common
