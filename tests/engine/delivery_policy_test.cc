#include "engine/delivery_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace sluice::engine {
namespace {

common::Config Load(const char* toml) {
  absl::StatusOr<common::Config> config = common::LoadConfig(toml, "test.toml");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : common::Config();
}

DeliveryPolicy Policy(const char* toml) {
  absl::StatusOr<DeliveryPolicy> policy = DeliveryPolicy::Create(Load(toml), "mta.example.org");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *std::move(policy) : DeliveryPolicy();
}

// The error of creating a policy from `config` ("" if it succeeded).
std::string CreateError(const common::Config& config) {
  absl::StatusOr<DeliveryPolicy> policy = DeliveryPolicy::Create(config, "mta.example.org");
  if (policy.ok()) return "";
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(policy.status().message());
}

dns::Site MxSite(std::vector<std::string> hosts) {
  dns::Site site;
  site.key = "mx:test";
  uint16_t preference = 10;
  for (std::string& host : hosts) {
    site.mx.push_back({preference, std::move(host)});
    preference += 10;
  }
  return site;
}

dns::Site StaticSite(std::vector<std::string> hosts) {
  dns::Site site;
  site.key = "static:test";
  site.source = dns::SiteSource::kStaticRoute;
  for (std::string& host : hosts) site.static_hosts.push_back({std::move(host), 25});
  return site;
}

// --- Defaults --------------------------------------------------------------

TEST(DeliveryPolicyTest, DefaultsComeFromTheBuiltInConfiguration) {
  const DeliveryPolicy policy = Policy("");
  EXPECT_EQ(policy.RuleFor("example.com", MxSite({"mx.example.com"})), -1);
  const SiteLimits& limits = policy.Limits(-1);
  EXPECT_EQ(limits.max_connections, 32);
  EXPECT_EQ(limits.initial_connections, 4);
  EXPECT_EQ(limits.max_messages_per_connection, 1000);
  EXPECT_EQ(limits.max_recipients_per_transaction, 100);
  EXPECT_EQ(limits.messages_per_second, 0);
  EXPECT_EQ(limits.messages_per_minute, 0);
  EXPECT_EQ(limits.messages_per_hour, 0);
  EXPECT_EQ(limits.idle_timeout, absl::Seconds(5));
  EXPECT_EQ(limits.connect_timeout, absl::Seconds(30));
  EXPECT_EQ(limits.reply_timeout, absl::Minutes(5));
  EXPECT_EQ(limits.data_timeout, absl::Minutes(10));
  EXPECT_EQ(limits.tls, TlsMode::kOpportunistic);
  EXPECT_EQ(policy.host_failure_backoff(), absl::Minutes(5));
  EXPECT_EQ(policy.throttle_backoff(), absl::Minutes(1));
  EXPECT_EQ(policy.delay_notice_after(), absl::Hours(4));

  const EgressPoolSpec& pool = policy.PoolFor("", "");
  EXPECT_EQ(pool.name, "default");
  ASSERT_EQ(pool.sources.size(), 1u);
  EXPECT_FALSE(pool.sources[0].address.has_value());
  EXPECT_EQ(pool.sources[0].ehlo, "mta.example.org");
}

TEST(DeliveryPolicyTest, DefaultLimitsFollowDeliveryLimits) {
  const DeliveryPolicy policy = Policy(R"(
[delivery.limits]
max_connections = 7
initial_connections = 2
messages_per_minute = 600
tls = "verify"
)");
  EXPECT_EQ(policy.Limits(-1).max_connections, 7);
  EXPECT_EQ(policy.Limits(-1).initial_connections, 2);
  EXPECT_EQ(policy.Limits(-1).messages_per_minute, 600);
  EXPECT_EQ(policy.Limits(-1).tls, TlsMode::kVerify);
}

TEST(DeliveryPolicyTest, InitialConnectionsIsClampedToMax) {
  const DeliveryPolicy policy = Policy(R"(
[delivery.limits]
max_connections = 2
initial_connections = 10
)");
  EXPECT_EQ(policy.Limits(-1).initial_connections, 2);
}

TEST(DeliveryPolicyTest, ParsesEveryTlsMode) {
  EXPECT_EQ(*ParseTlsMode("opportunistic"), TlsMode::kOpportunistic);
  EXPECT_EQ(*ParseTlsMode("required"), TlsMode::kRequired);
  EXPECT_EQ(*ParseTlsMode("verify"), TlsMode::kVerify);
  EXPECT_EQ(*ParseTlsMode("disabled"), TlsMode::kDisabled);
  EXPECT_FALSE(ParseTlsMode("Verify").ok());
  EXPECT_FALSE(ParseTlsMode("").ok());
}

// --- Rules -----------------------------------------------------------------

constexpr char kRules[] = R"(
[[delivery.rules]]
domains = ["exact.example"]
max_connections = 1

[[delivery.rules]]
domains = ["*.wild.example"]
max_connections = 2

[[delivery.rules]]
mx_hosts = ["*.google.com", "mx.static.example"]
max_connections = 3

[[delivery.rules]]
domains = ["Upper.Example"]
mx_hosts = ["mx.exact.example"]
max_connections = 4
)";

TEST(DeliveryPolicyTest, RuleMatchesAnExactDomain) {
  const DeliveryPolicy policy = Policy(kRules);
  const int rule = policy.RuleFor("exact.example", MxSite({"mx.other.example"}));
  EXPECT_EQ(rule, 0);
  EXPECT_EQ(policy.Limits(rule).max_connections, 1);
  EXPECT_EQ(policy.RuleFor("sub.exact.example", MxSite({"mx.other.example"})), -1);
  EXPECT_EQ(policy.RuleFor("notexact.example", MxSite({"mx.other.example"})), -1);
}

TEST(DeliveryPolicyTest, DomainsMatchIgnoringCase) {
  const DeliveryPolicy policy = Policy(kRules);
  EXPECT_EQ(policy.RuleFor("EXACT.example", MxSite({"mx.other.example"})), 0);
  EXPECT_EQ(policy.RuleFor("upper.example", MxSite({"mx.other.example"})), 3);
}

TEST(DeliveryPolicyTest, WildcardMatchesSubdomainsButNotTheBareDomain) {
  const DeliveryPolicy policy = Policy(kRules);
  EXPECT_EQ(policy.RuleFor("a.wild.example", MxSite({"mx.other.example"})), 1);
  EXPECT_EQ(policy.RuleFor("a.b.wild.example", MxSite({"mx.other.example"})), 1);
  EXPECT_EQ(policy.RuleFor("A.WILD.EXAMPLE", MxSite({"mx.other.example"})), 1);
  EXPECT_EQ(policy.RuleFor("wild.example", MxSite({"mx.other.example"})), -1);
  EXPECT_EQ(policy.RuleFor("notwild.example", MxSite({"mx.other.example"})), -1);
  EXPECT_EQ(policy.Limits(1).max_connections, 2);
}

TEST(DeliveryPolicyTest, RuleMatchesAnMxHostPattern) {
  const DeliveryPolicy policy = Policy(kRules);
  EXPECT_EQ(
      policy.RuleFor("customer.example", MxSite({"aspmx.l.google.com", "alt1.aspmx.l.google.com"})),
      2);
  // Any of the MX hosts, not only the first.
  EXPECT_EQ(policy.RuleFor("customer.example", MxSite({"mx.other.example", "alt.google.com"})), 2);
  EXPECT_EQ(policy.RuleFor("customer.example", MxSite({"google.com"})), -1);
  EXPECT_EQ(policy.Limits(2).max_connections, 3);
}

TEST(DeliveryPolicyTest, MxHostPatternMatchesStaticHosts) {
  const DeliveryPolicy policy = Policy(kRules);
  EXPECT_EQ(policy.RuleFor("routed.example", StaticSite({"mx.static.example"})), 2);
  EXPECT_EQ(policy.RuleFor("routed.example", StaticSite({"10.0.0.5"})), -1);
}

TEST(DeliveryPolicyTest, MxHostPatternsDoNotMatchTheDomain) {
  const DeliveryPolicy policy = Policy(kRules);
  // "mx.exact.example" is only an mx_hosts pattern of rule 3.
  EXPECT_EQ(policy.RuleFor("mx.exact.example", MxSite({"mx.other.example"})), -1);
}

TEST(DeliveryPolicyTest, FirstMatchingRuleWins) {
  const DeliveryPolicy policy = Policy(kRules);
  // Domain of rule 0 and MX of rule 2 and 3: rule 0 comes first.
  EXPECT_EQ(policy.RuleFor("exact.example", MxSite({"mx.google.com", "mx.exact.example"})), 0);
  // MX matching rule 2 and 3: rule 2.
  EXPECT_EQ(policy.RuleFor("x.example", MxSite({"mx.exact.example", "mx.google.com"})), 2);
  // Domain of rule 3, MX of rule 2: rule 2 is earlier, it wins.
  EXPECT_EQ(policy.RuleFor("upper.example", MxSite({"mx.google.com"})), 2);
}

TEST(DeliveryPolicyTest, RulesStartFromTheDefaultLimits) {
  const DeliveryPolicy policy = Policy(R"(
[delivery.limits]
max_recipients_per_transaction = 50
tls = "required"

[[delivery.rules]]
domains = ["example.com"]
messages_per_second = 20
tls = "disabled"
)");
  const SiteLimits& limits = policy.Limits(policy.RuleFor("example.com", MxSite({"mx"})));
  EXPECT_EQ(limits.messages_per_second, 20);
  EXPECT_EQ(limits.max_recipients_per_transaction, 50);
  EXPECT_EQ(limits.max_connections, 32);
  EXPECT_EQ(limits.tls, TlsMode::kDisabled);
  EXPECT_EQ(policy.Limits(-1).tls, TlsMode::kRequired);
}

TEST(DeliveryPolicyTest, RuleWithoutDomainsOrMxHostsIsAnError) {
  common::Config config = Load("");
  config.delivery.rules.emplace_back().limits = config.delivery.limits;
  EXPECT_TRUE(absl::StrContains(CreateError(config), "needs domains or mx_hosts"))
      << CreateError(config);
}

TEST(DeliveryPolicyTest, BadTlsModeIsAnError) {
  common::Config config = Load("");
  config.delivery.limits.tls = "sometimes";
  EXPECT_EQ(CreateError(config), "unknown tls mode 'sometimes'");

  common::Config rule_config = Load("");
  common::DeliveryRule& rule = rule_config.delivery.rules.emplace_back();
  rule.domains = {"example.com"};
  rule.limits = rule_config.delivery.limits;
  rule.limits.tls = "strict";
  EXPECT_EQ(CreateError(rule_config), "unknown tls mode 'strict'");
}

// --- Egress pools ----------------------------------------------------------

constexpr char kPools[] = R"(
[[egress.sources]]
name = "ip1"
address = "192.0.2.10"
ehlo = "mta1.example.org"

[[egress.sources]]
name = "ip2"
address = "2001:db8::10"

[[egress.sources]]
name = "any"

[[egress.pools]]
name = "bulk"
sources = ["ip1", "ip2"]
tenants = ["acme", "globex"]

[[egress.pools]]
name = "transactional"
sources = ["any"]
tenants = ["initech"]
)";

TEST(DeliveryPolicyTest, PoolForFindsAPoolByName) {
  const DeliveryPolicy policy = Policy(kPools);
  const EgressPoolSpec& pool = policy.PoolFor("bulk", "");
  EXPECT_EQ(pool.name, "bulk");
  ASSERT_EQ(pool.sources.size(), 2u);
  EXPECT_EQ(pool.sources[0].name, "ip1");
  ASSERT_TRUE(pool.sources[0].address.has_value());
  EXPECT_EQ(pool.sources[0].address->HostString(), "192.0.2.10");
  EXPECT_EQ(pool.sources[0].address->port(), 0);
  EXPECT_EQ(pool.sources[0].ehlo, "mta1.example.org");
  EXPECT_EQ(pool.sources[1].name, "ip2");
  ASSERT_TRUE(pool.sources[1].address.has_value());
  EXPECT_EQ(pool.sources[1].address->family(), AF_INET6);
  // A source without ehlo uses the delivery HELO name.
  EXPECT_EQ(pool.sources[1].ehlo, "mta.example.org");

  const EgressPoolSpec& transactional = policy.PoolFor("transactional", "");
  ASSERT_EQ(transactional.sources.size(), 1u);
  EXPECT_FALSE(transactional.sources[0].address.has_value());
}

TEST(DeliveryPolicyTest, PoolForFindsTheTenantsPool) {
  const DeliveryPolicy policy = Policy(kPools);
  EXPECT_EQ(policy.PoolFor("", "acme").name, "bulk");
  EXPECT_EQ(policy.PoolFor("", "globex").name, "bulk");
  EXPECT_EQ(policy.PoolFor("", "initech").name, "transactional");
}

TEST(DeliveryPolicyTest, PoolNameWinsOverTenant) {
  const DeliveryPolicy policy = Policy(kPools);
  EXPECT_EQ(policy.PoolFor("transactional", "acme").name, "transactional");
}

TEST(DeliveryPolicyTest, PoolForFallsBackToDefault) {
  const DeliveryPolicy policy = Policy(kPools);
  EXPECT_EQ(policy.PoolFor("", "").name, "default");
  EXPECT_EQ(policy.PoolFor("", "unknown-tenant").name, "default");
  EXPECT_EQ(policy.PoolFor("default", "acme").name, "default");
}

TEST(DeliveryPolicyTest, UnknownPoolNameFallsBackToTenantThenDefault) {
  const DeliveryPolicy policy = Policy(kPools);
  EXPECT_EQ(policy.PoolFor("no-such-pool", "acme").name, "bulk");
  EXPECT_EQ(policy.PoolFor("no-such-pool", "").name, "default");
  EXPECT_EQ(policy.PoolFor("no-such-pool", "nobody").name, "default");
}

TEST(DeliveryPolicyTest, APoolNamedDefaultReplacesTheBuiltInOne) {
  const DeliveryPolicy policy = Policy(R"(
[[egress.sources]]
name = "ip1"
address = "192.0.2.10"

[[egress.pools]]
name = "default"
sources = ["ip1"]
tenants = ["acme"]
)");
  const EgressPoolSpec& pool = policy.PoolFor("", "");
  EXPECT_EQ(pool.name, "default");
  ASSERT_EQ(pool.sources.size(), 1u);
  EXPECT_EQ(pool.sources[0].name, "ip1");
  EXPECT_EQ(&policy.PoolFor("", "acme"), &pool);
}

TEST(DeliveryPolicyTest, PoolNamingAnUnknownSourceIsAnError) {
  common::Config config = Load(kPools);
  config.egress_pools[0].sources.push_back("ip9");
  EXPECT_EQ(CreateError(config), "egress pool 'bulk' names unknown source 'ip9'");
}

TEST(DeliveryPolicyTest, DuplicateSourceNameIsAnError) {
  common::Config config = Load(kPools);
  config.egress_sources.push_back({"ip1", "192.0.2.11", ""});
  EXPECT_EQ(CreateError(config), "egress source 'ip1' is defined twice");
}

TEST(DeliveryPolicyTest, DuplicatePoolNameIsAnError) {
  common::Config config = Load(kPools);
  config.egress_pools.push_back({"bulk", {"any"}, {}});
  EXPECT_EQ(CreateError(config), "egress pool 'bulk' is defined twice");
}

TEST(DeliveryPolicyTest, EmptyPoolIsAnError) {
  common::Config config = Load(kPools);
  config.egress_pools.push_back({"nothing", {}, {}});
  EXPECT_EQ(CreateError(config), "egress pool 'nothing' is empty");
}

TEST(DeliveryPolicyTest, DefaultPoolDefinedTwiceIsAnError) {
  common::Config config = Load(kPools);
  config.egress_pools.push_back({"default", {"ip1"}, {}});
  config.egress_pools.push_back({"default", {"ip1"}, {}});
  EXPECT_EQ(CreateError(config), "egress pool 'default' is defined twice");
}

TEST(DeliveryPolicyTest, PoolWithoutNameIsAnError) {
  common::Config config = Load(kPools);
  config.egress_pools.push_back({"", {"ip1"}, {}});
  EXPECT_EQ(CreateError(config), "an egress pool needs a name");
}

TEST(DeliveryPolicyTest, TenantInTwoPoolsIsAnError) {
  common::Config config = Load(kPools);
  config.egress_pools.push_back({"other", {"ip1"}, {"twice"}});
  config.egress_pools.push_back({"third", {"ip1"}, {"twice"}});
  EXPECT_EQ(CreateError(config), "tenant 'twice' is listed in two egress pools");
}

TEST(DeliveryPolicyTest, SourceWithoutNameIsAnError) {
  common::Config config = Load("");
  config.egress_sources.push_back({"", "192.0.2.10", ""});
  EXPECT_EQ(CreateError(config), "an egress source needs a name");
}

// --- Retry -----------------------------------------------------------------

TEST(DeliveryPolicyTest, RetryPolicyIsCopiedFromTheConfiguration) {
  const DeliveryPolicy defaults = Policy("");
  EXPECT_EQ(defaults.retry().initial, absl::Minutes(5));
  EXPECT_EQ(defaults.retry().multiplier, 2.0);
  EXPECT_EQ(defaults.retry().max_interval, absl::Hours(4));
  EXPECT_EQ(defaults.retry().max_age, absl::Hours(120));
  EXPECT_EQ(defaults.retry().jitter, 0.2);

  const DeliveryPolicy policy = Policy(R"(
[delivery]
host_failure_backoff = "90s"
throttle_backoff = "2m"
delay_notice_after = "1h"

[delivery.retry]
initial = "1m"
multiplier = 3.5
max_interval = "2h"
max_age = "48h"
jitter = 0
)");
  EXPECT_EQ(policy.retry().initial, absl::Minutes(1));
  EXPECT_EQ(policy.retry().multiplier, 3.5);
  EXPECT_EQ(policy.retry().max_interval, absl::Hours(2));
  EXPECT_EQ(policy.retry().max_age, absl::Hours(48));
  EXPECT_EQ(policy.retry().jitter, 0.0);
  EXPECT_EQ(policy.host_failure_backoff(), absl::Seconds(90));
  EXPECT_EQ(policy.throttle_backoff(), absl::Minutes(2));
  EXPECT_EQ(policy.delay_notice_after(), absl::Hours(1));
}

}  // namespace
}  // namespace sluice::engine
