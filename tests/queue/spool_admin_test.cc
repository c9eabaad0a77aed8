#include "queue/spool_admin.h"

#include "gtest/gtest.h"

namespace sluice::queue {
namespace {

Envelope Routed(std::string domain, std::string tenant) {
  Envelope envelope;
  envelope.set_site("mx.example.net");
  envelope.set_domain(std::move(domain));
  envelope.set_tenant(std::move(tenant));
  envelope.set_campaign("spring");
  return envelope;
}

TEST(SpoolAdminTest, EmptyFilterMatchesEveryEnvelope) {
  const SpoolFilter filter;
  EXPECT_TRUE(filter.Empty());
  EXPECT_TRUE(filter.Matches(Routed("a.example", "acme")));
  EXPECT_TRUE(filter.Matches(Envelope()));
}

TEST(SpoolAdminTest, FilterMatchesOnlyWhenEveryGivenFieldIsEqual) {
  SpoolFilter filter;
  filter.domain = "a.example";
  filter.tenant = "acme";
  EXPECT_FALSE(filter.Empty());
  EXPECT_TRUE(filter.Matches(Routed("a.example", "acme")));
  EXPECT_FALSE(filter.Matches(Routed("a.example", "other")));
  EXPECT_FALSE(filter.Matches(Routed("b.example", "acme")));
  // The outbound queue is "", so a filter on "bounces" leaves it out.
  filter = SpoolFilter();
  filter.queue = "bounces";
  EXPECT_FALSE(filter.Matches(Routed("a.example", "acme")));
}

}  // namespace
}  // namespace sluice::queue
