#include "dns/static_router.h"

#include <gtest/gtest.h>

#include "dns/dns_error.h"
#include "dns/domain_name.h"
#include "dns/host_port.h"

namespace sluice::dns {
namespace {

TEST(HostPortTest, ParsesNamesAddressesAndDefaults) {
  absl::StatusOr<HostPort> a = HostPort::Parse("MX.Example.net.:2525");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "mx.example.net");
  EXPECT_EQ(a->port, 2525);
  EXPECT_FALSE(a->IsNumeric());
  absl::StatusOr<HostPort> b = HostPort::Parse("[2001:db8::1]:26");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->host, "2001:db8::1");
  EXPECT_TRUE(b->IsNumeric());
  EXPECT_EQ(b->ToString(), "[2001:db8::1]:26");
  absl::StatusOr<HostPort> c = HostPort::Parse("192.0.2.1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->port, 25);
  EXPECT_FALSE(HostPort::Parse("2001:db8::1").ok());
  EXPECT_FALSE(HostPort::Parse("host:0").ok());
  EXPECT_FALSE(HostPort::Parse("host:99999").ok());
  EXPECT_FALSE(HostPort::Parse(":25").ok());
}

TEST(DomainNameTest, NormalisesCaseDotsAndInternationalNames) {
  EXPECT_EQ(*NormalizeDomain("Example.COM."), "example.com");
  EXPECT_EQ(*NormalizeDomain("Bücher.Example"), "xn--bcher-kva.example");
  EXPECT_EQ(*NormalizeDomain("_25._tcp.mx.example"), "_25._tcp.mx.example");
  for (const char* bad : {"", ".", "a..b", "exa mple.com", "a/b.com"}) {
    absl::StatusOr<std::string> n = NormalizeDomain(bad);
    EXPECT_FALSE(n.ok()) << bad;
    EXPECT_EQ(FailureOf(n.status()), DnsFailure::kBadName) << bad;
  }
  EXPECT_FALSE(NormalizeDomain(std::string(64, 'a') + ".com").ok());
}

DnsConfig RoutedConfig() {
  DnsConfig config;
  config.static_routes.push_back(StaticRoute{"example.com", {"relay.example.net:2525"}});
  config.static_routes.push_back(
      StaticRoute{"*.corp.example", {"10.0.0.2:25", "[2001:db8::2]:25"}});
  config.static_routes.push_back(StaticRoute{"*.deep.corp.example", {"deep.example.net"}});
  return config;
}

TEST(StaticRouterTest, ExactAndWildcardRoutes) {
  absl::StatusOr<StaticRouter> router = StaticRouter::Create(RoutedConfig());
  ASSERT_TRUE(router.ok()) << router.status();
  const Site* exact = router->Match("example.com");
  ASSERT_NE(exact, nullptr);
  EXPECT_EQ(exact->source, SiteSource::kStaticRoute);
  EXPECT_EQ(exact->static_hosts, (std::vector<HostPort>{{"relay.example.net", 2525}}));
  EXPECT_EQ(exact->key, "static:relay.example.net:2525");
  // "example.com" covers only itself.
  EXPECT_EQ(router->Match("sub.example.com"), nullptr);

  const Site* wild = router->Match("a.b.corp.example");
  ASSERT_NE(wild, nullptr);
  EXPECT_EQ(wild->static_hosts.size(), 2u);
  // "*.corp.example" does not cover corp.example itself.
  EXPECT_EQ(router->Match("corp.example"), nullptr);
  // The longest suffix wins.
  const Site* deep = router->Match("x.deep.corp.example");
  ASSERT_NE(deep, nullptr);
  EXPECT_EQ(deep->static_hosts[0].host, "deep.example.net");
  EXPECT_EQ(router->Match("other.test"), nullptr);
}

TEST(StaticRouterTest, SmartHostCatchesEverythingElse) {
  DnsConfig config = RoutedConfig();
  config.smart_hosts = {"smarthost.example.net:587"};
  absl::StatusOr<StaticRouter> router = StaticRouter::Create(config);
  ASSERT_TRUE(router.ok()) << router.status();
  const Site* smart = router->Match("anything.test");
  ASSERT_NE(smart, nullptr);
  EXPECT_EQ(smart->source, SiteSource::kSmartHost);
  EXPECT_EQ(smart->key, "smarthost:smarthost.example.net:587");
  EXPECT_EQ(router->Match("example.com")->source, SiteSource::kStaticRoute);
}

TEST(StaticRouterTest, RejectsBadRoutes) {
  DnsConfig config;
  config.static_routes.push_back(StaticRoute{"example.com", {}});
  EXPECT_FALSE(config.Validate().ok());
  config.static_routes = {StaticRoute{"example.com", {"host:bad"}}};
  EXPECT_FALSE(StaticRouter::Create(config).ok());
  config.static_routes = {StaticRoute{"a.test", {"h"}}, StaticRoute{"A.test.", {"h"}}};
  EXPECT_FALSE(StaticRouter::Create(config).ok());
}

}  // namespace
}  // namespace sluice::dns
