// The digest of recent failures: replies that differ only in digits or
// addresses share a group, distinct reasons do not, and the digest stays
// within its bound.
#include "engine/failure_digest.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sluice::engine {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

DeliveryEvent Failure(DeliveryEventType type, std::string site, std::string reply,
                      absl::Time time = kStart) {
  DeliveryEvent event;
  event.type = type;
  event.site = std::move(site);
  event.reply = std::move(reply);
  event.status = event.reply.size() > 9 ? event.reply.substr(4, 5) : "";
  event.category = type == DeliveryEventType::kBounced ? "bad-mailbox" : "throttled";
  event.time = time;
  return event;
}

TEST(FailureDigestTest, ShapeMasksDigitsAndDropsAddresses) {
  EXPECT_EQ(FailureDigest::Shape("421 4.7.28 [192.0.2.1 15] rate limited, id 8f3a21"),
            "# #.#.# [#.#.#.# #] rate limited, id #f#a#");
  EXPECT_EQ(FailureDigest::Shape("550 5.1.1 <ada@example.org>: no such user"),
            "# #.#.# no such user");
  EXPECT_EQ(FailureDigest::Shape(std::string(1000, 'x')).size(), 160u);
}

TEST(FailureDigestTest, AlikeRepliesShareAGroupThatKeepsTheLatestReply) {
  FailureDigest digest;
  digest.Record(Failure(DeliveryEventType::kDeferred, "mx.a", "421 4.7.0 queue 111 busy"));
  digest.Record(Failure(DeliveryEventType::kDeferred, "mx.a", "421 4.7.0 queue 222 busy",
                        kStart + absl::Seconds(5)));
  digest.Record(Failure(DeliveryEventType::kBounced, "mx.a", "550 5.1.1 <b@a>: unknown"));
  digest.Record(Failure(DeliveryEventType::kDeferred, "mx.b", "421 4.7.0 queue 333 busy"));
  // Deliveries and DSNs are not failures.
  digest.Record(Failure(DeliveryEventType::kDelivered, "mx.a", "250 2.0.0 ok"));
  digest.Record(Failure(DeliveryEventType::kDsnFailure, "mx.a", ""));

  std::vector<FailureGroup> groups = digest.Groups(kStart + absl::Minutes(1));
  ASSERT_EQ(groups.size(), 3u);
  std::sort(groups.begin(), groups.end(), [](const FailureGroup& a, const FailureGroup& b) {
    return std::tie(a.site, a.type) < std::tie(b.site, b.type);
  });
  EXPECT_EQ(groups[0].site, "mx.a");
  EXPECT_EQ(groups[0].type, "bounced");
  EXPECT_EQ(groups[0].category, "bad-mailbox");
  EXPECT_EQ(groups[0].count, 1u);
  EXPECT_EQ(groups[1].site, "mx.a");
  EXPECT_EQ(groups[1].type, "deferred");
  EXPECT_EQ(groups[1].count, 2u);
  EXPECT_EQ(groups[1].reply, "421 4.7.0 queue 222 busy");
  EXPECT_EQ(groups[1].status, "4.7.0");
  EXPECT_EQ(groups[1].first, kStart);
  EXPECT_EQ(groups[1].last, kStart + absl::Seconds(5));
  EXPECT_EQ(groups[2].site, "mx.b");
}

TEST(FailureDigestTest, GroupsNotSeenWithinTheMaximumAgeAreLeftOut) {
  FailureDigest digest(100, absl::Hours(1));
  digest.Record(Failure(DeliveryEventType::kDeferred, "mx.a", "421 4.7.0 busy"));
  digest.Record(
      Failure(DeliveryEventType::kExpired, "mx.a", "421 4.7.0 busy", kStart + absl::Minutes(50)));
  std::vector<FailureGroup> groups = digest.Groups(kStart + absl::Minutes(61));
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].type, "expired");
}

TEST(FailureDigestTest, AStormOfDistinctReasonsStaysWithinTheBoundAndKeepsTheNewest) {
  FailureDigest digest(50);
  for (int i = 0; i < 10'000; ++i) {
    digest.Record(Failure(DeliveryEventType::kDeferred, absl::StrCat("mx", i, ".example"),
                          "421 4.7.0 busy", kStart + absl::Milliseconds(i)));
    ASSERT_LE(digest.size(), 50u);
  }
  std::vector<FailureGroup> groups = digest.Groups(kStart + absl::Seconds(10));
  EXPECT_GE(groups.size(), 45u);
  const bool newest_kept = std::any_of(groups.begin(), groups.end(), [](const FailureGroup& g) {
    return g.site == "mx9999.example";
  });
  EXPECT_TRUE(newest_kept);
  for (const FailureGroup& group : groups) EXPECT_GE(group.last, kStart + absl::Milliseconds(9900));
}

}  // namespace
}  // namespace sluice::engine
