// The [dns], [delivery], [egress] and [events] sections of the
// configuration: defaults, overrides and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/config.h"

namespace sluice::common {
namespace {

using ::testing::ElementsAre;

// The error message of loading `toml` as sluice.toml ("" if it loaded).
std::string LoadError(absl::string_view toml) {
  const absl::StatusOr<Config> config = LoadConfig(toml, "sluice.toml");
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

void ExpectDefaultLimits(const DeliveryLimits& limits) {
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
  EXPECT_EQ(limits.tls, "opportunistic");
}

TEST(DeliveryConfigTest, DnsDefaults) {
  const absl::StatusOr<Config> config = LoadConfig("", "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const DnsSection& dns = config->dns;
  EXPECT_TRUE(dns.servers.empty());
  EXPECT_EQ(dns.query_timeout, absl::Seconds(3));
  EXPECT_EQ(dns.tries, 2);
  EXPECT_EQ(dns.address_order, "ipv4_first");
  EXPECT_EQ(dns.mx_port, 25);
  EXPECT_TRUE(dns.smart_hosts.empty());
  EXPECT_TRUE(dns.routes.empty());
}

TEST(DeliveryConfigTest, DeliveryDefaults) {
  const absl::StatusOr<Config> config = LoadConfig("", "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const DeliveryConfig& delivery = config->delivery;
  EXPECT_TRUE(delivery.enabled);
  EXPECT_EQ(delivery.helo_name, "");
  EXPECT_EQ(delivery.host_failure_backoff, absl::Minutes(5));
  EXPECT_EQ(delivery.throttle_backoff, absl::Minutes(1));
  EXPECT_EQ(delivery.tls_ca_file, "");
  EXPECT_EQ(delivery.delay_notice_after, absl::Hours(4));
  EXPECT_EQ(delivery.retry.initial, absl::Minutes(5));
  EXPECT_EQ(delivery.retry.multiplier, 2.0);
  EXPECT_EQ(delivery.retry.max_interval, absl::Hours(4));
  EXPECT_EQ(delivery.retry.max_age, absl::Hours(120));
  EXPECT_EQ(delivery.retry.jitter, 0.2);
  ExpectDefaultLimits(delivery.limits);
  EXPECT_TRUE(delivery.rules.empty());
}

TEST(DeliveryConfigTest, EgressAndEventsDefaults) {
  const absl::StatusOr<Config> config = LoadConfig("", "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->egress_sources.empty());
  EXPECT_TRUE(config->egress_pools.empty());
  EXPECT_EQ(config->events.path, "");
  EXPECT_EQ(config->events.max_bytes, 104857600);
  EXPECT_EQ(config->events.max_files, 5);
}

TEST(DeliveryConfigTest, DnsSectionIsParsed) {
  const absl::StatusOr<Config> config = LoadConfig(R"(
[dns]
servers = ["127.0.0.1:5353", "[::1]:53"]
query_timeout = "500ms"
tries = 4
address_order = "ipv6_only"
mx_port = 2525
smart_hosts = ["relay.example.net:587"]

[[dns.routes]]
domain = "*.internal.example"
hosts = ["10.0.0.5:25", "10.0.0.6"]
)",
                                                   "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->dns.servers, ElementsAre("127.0.0.1:5353", "[::1]:53"));
  EXPECT_EQ(config->dns.query_timeout, absl::Milliseconds(500));
  EXPECT_EQ(config->dns.tries, 4);
  EXPECT_EQ(config->dns.address_order, "ipv6_only");
  EXPECT_EQ(config->dns.mx_port, 2525);
  EXPECT_THAT(config->dns.smart_hosts, ElementsAre("relay.example.net:587"));
  ASSERT_EQ(config->dns.routes.size(), 1u);
  EXPECT_EQ(config->dns.routes[0].domain, "*.internal.example");
  EXPECT_THAT(config->dns.routes[0].hosts, ElementsAre("10.0.0.5:25", "10.0.0.6"));
}

TEST(DeliveryConfigTest, RulesStartFromTheLimitsTheFileOverrides) {
  const absl::StatusOr<Config> config = LoadConfig(R"(
[delivery.limits]
max_connections = 10
messages_per_hour = 5000
tls = "required"

[[delivery.rules]]
domains = ["example.com", "*.example.com"]
messages_per_second = 7

[[delivery.rules]]
mx_hosts = ["*.google.com"]
max_connections = 3
tls = "verify"
)",
                                                   "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const DeliveryConfig& delivery = config->delivery;
  EXPECT_EQ(delivery.limits.max_connections, 10);
  EXPECT_EQ(delivery.limits.messages_per_hour, 5000);
  EXPECT_EQ(delivery.limits.tls, "required");
  EXPECT_EQ(delivery.limits.initial_connections, 4);  // not in the file: the default

  ASSERT_EQ(delivery.rules.size(), 2u);
  const DeliveryRule& first = delivery.rules[0];
  EXPECT_THAT(first.domains, ElementsAre("example.com", "*.example.com"));
  EXPECT_TRUE(first.mx_hosts.empty());
  EXPECT_EQ(first.limits.messages_per_second, 7);
  EXPECT_EQ(first.limits.max_connections, 10);      // from the file's [delivery.limits]
  EXPECT_EQ(first.limits.messages_per_hour, 5000);  // likewise
  EXPECT_EQ(first.limits.tls, "required");
  EXPECT_EQ(first.limits.initial_connections, 4);
  EXPECT_EQ(first.limits.data_timeout, absl::Minutes(10));

  const DeliveryRule& second = delivery.rules[1];
  EXPECT_TRUE(second.domains.empty());
  EXPECT_THAT(second.mx_hosts, ElementsAre("*.google.com"));
  EXPECT_EQ(second.limits.max_connections, 3);
  EXPECT_EQ(second.limits.messages_per_hour, 5000);
  EXPECT_EQ(second.limits.messages_per_second, 0);  // rule 0's setting does not leak
  EXPECT_EQ(second.limits.tls, "verify");
}

TEST(DeliveryConfigTest, RulesWrittenBeforeTheLimitsStillStartFromThem) {
  // TOML does not order tables; the rules must not depend on where
  // [delivery.limits] is written.
  const absl::StatusOr<Config> config = LoadConfig(R"(
[[delivery.rules]]
domains = ["example.com"]
max_connections = 2

[delivery.limits]
max_recipients_per_transaction = 20
)",
                                                   "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->delivery.rules.size(), 1u);
  EXPECT_EQ(config->delivery.rules[0].limits.max_connections, 2);
  EXPECT_EQ(config->delivery.rules[0].limits.max_recipients_per_transaction, 20);
}

TEST(DeliveryConfigTest, RulesWithoutLimitsInTheFileStartFromTheDefaults) {
  const absl::StatusOr<Config> config = LoadConfig(R"(
[[delivery.rules]]
domains = ["example.com"]
)",
                                                   "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->delivery.rules.size(), 1u);
  ExpectDefaultLimits(config->delivery.rules[0].limits);
}

TEST(DeliveryConfigTest, RetrySectionIsParsed) {
  const absl::StatusOr<Config> config = LoadConfig(R"(
[delivery]
enabled = false
helo_name = "mta.example.org"
host_failure_backoff = "30s"
throttle_backoff = "2m30s"
tls_ca_file = "/etc/ssl/ca.pem"
delay_notice_after = "2h"

[delivery.retry]
initial = "1m"
multiplier = 3
max_interval = "1h"
max_age = "72h"
jitter = 0.5
)",
                                                   "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const DeliveryConfig& delivery = config->delivery;
  EXPECT_FALSE(delivery.enabled);
  EXPECT_EQ(delivery.helo_name, "mta.example.org");
  EXPECT_EQ(delivery.host_failure_backoff, absl::Seconds(30));
  EXPECT_EQ(delivery.throttle_backoff, absl::Seconds(150));
  EXPECT_EQ(delivery.tls_ca_file, "/etc/ssl/ca.pem");
  EXPECT_EQ(delivery.delay_notice_after, absl::Hours(2));
  EXPECT_EQ(delivery.retry.initial, absl::Minutes(1));
  EXPECT_EQ(delivery.retry.multiplier, 3.0);  // an integer is accepted as a number
  EXPECT_EQ(delivery.retry.max_interval, absl::Hours(1));
  EXPECT_EQ(delivery.retry.max_age, absl::Hours(72));
  EXPECT_EQ(delivery.retry.jitter, 0.5);
  ExpectDefaultLimits(delivery.limits);
}

TEST(DeliveryConfigTest, EgressSourcesAndPoolsAreParsed) {
  const absl::StatusOr<Config> config = LoadConfig(R"(
[[egress.sources]]
name = "ip1"
address = "192.0.2.10"
ehlo = "mta1.example.org"

[[egress.sources]]
name = "ip6"
address = "2001:db8::10"

[[egress.sources]]
name = "kernel"

[[egress.pools]]
name = "bulk"
sources = ["ip1", "ip6"]
tenants = ["acme"]

[[egress.pools]]
name = "transactional"
sources = ["kernel"]
)",
                                                   "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->egress_sources.size(), 3u);
  EXPECT_EQ(config->egress_sources[0].name, "ip1");
  EXPECT_EQ(config->egress_sources[0].address, "192.0.2.10");
  EXPECT_EQ(config->egress_sources[0].ehlo, "mta1.example.org");
  EXPECT_EQ(config->egress_sources[1].address, "2001:db8::10");
  EXPECT_EQ(config->egress_sources[1].ehlo, "");
  EXPECT_EQ(config->egress_sources[2].name, "kernel");
  EXPECT_EQ(config->egress_sources[2].address, "");
  ASSERT_EQ(config->egress_pools.size(), 2u);
  EXPECT_EQ(config->egress_pools[0].name, "bulk");
  EXPECT_THAT(config->egress_pools[0].sources, ElementsAre("ip1", "ip6"));
  EXPECT_THAT(config->egress_pools[0].tenants, ElementsAre("acme"));
  EXPECT_EQ(config->egress_pools[1].name, "transactional");
  EXPECT_THAT(config->egress_pools[1].sources, ElementsAre("kernel"));
  EXPECT_TRUE(config->egress_pools[1].tenants.empty());
}

TEST(DeliveryConfigTest, EventsSectionIsParsed) {
  const absl::StatusOr<Config> config = LoadConfig(
      "[events]\npath = \"/var/log/sluice/events.jsonl\"\nmax_bytes = 4096\n"
      "max_files = 2\n",
      "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->events.path, "/var/log/sluice/events.jsonl");
  EXPECT_EQ(config->events.max_bytes, 4096);
  EXPECT_EQ(config->events.max_files, 2);
}

// --- Errors ----------------------------------------------------------------

TEST(DeliveryConfigTest, RefusesBadTlsChoiceWithLineAndKey) {
  EXPECT_EQ(LoadError("[delivery.limits]\ntls = \"sometimes\"\n"),
            "sluice.toml:2:7: key 'delivery.limits.tls': 'sometimes' is not one of "
            "opportunistic, required, verify, disabled");
  EXPECT_EQ(LoadError("[[delivery.rules]]\ndomains = [\"example.com\"]\ntls = \"strict\"\n"),
            "sluice.toml:3:7: key 'delivery.rules[0].tls': 'strict' is not one of "
            "opportunistic, required, verify, disabled");
}

TEST(DeliveryConfigTest, RefusesBadAddressOrderWithLineAndKey) {
  EXPECT_EQ(LoadError("[dns]\naddress_order = \"ipv4\"\n"),
            "sluice.toml:2:17: key 'dns.address_order': 'ipv4' is not one of ipv4_first, "
            "ipv6_first, ipv4_only, ipv6_only");
}

TEST(DeliveryConfigTest, RefusesBadDurationWithLineAndKey) {
  EXPECT_EQ(LoadError("[delivery]\n\nthrottle_backoff = \"5 minutes\"\n"),
            "sluice.toml:3:20: key 'delivery.throttle_backoff': '5 minutes' is not a positive "
            "duration like \"30s\" or \"5m\"");
  EXPECT_EQ(LoadError("[delivery.retry]\nmax_age = \"0s\"\n"),
            "sluice.toml:2:11: key 'delivery.retry.max_age': '0s' is not a positive duration "
            "like \"30s\" or \"5m\"");
  EXPECT_EQ(LoadError("[delivery.limits]\nidle_timeout = 5\n"),
            "sluice.toml:2:16: key 'delivery.limits.idle_timeout' must be a string, got integer");
}

TEST(DeliveryConfigTest, RefusesMultiplierOutOfRangeWithLineAndKey) {
  EXPECT_EQ(LoadError("[delivery.retry]\nmultiplier = 0.5\n"),
            "sluice.toml:2:14: key 'delivery.retry.multiplier' must be between 1 and 100");
  EXPECT_EQ(LoadError("[delivery.retry]\nmultiplier = 101\n"),
            "sluice.toml:2:14: key 'delivery.retry.multiplier' must be between 1 and 100");
  EXPECT_EQ(LoadError("[delivery.retry]\njitter = 0.95\n"),
            "sluice.toml:2:10: key 'delivery.retry.jitter' must be between 0 and 0.9");
}

TEST(DeliveryConfigTest, RefusesBadEgressAddressWithLineAndKey) {
  EXPECT_EQ(LoadError("[[egress.sources]]\nname = \"ip1\"\naddress = \"mta.example.org\"\n"),
            "sluice.toml:3:11: key 'egress.sources[0].address': 'mta.example.org' is not a "
            "numeric IP address");
  EXPECT_EQ(LoadError("[[egress.sources]]\nname = \"ip1\"\n[[egress.sources]]\nname = \"ip2\"\n"
                      "address = \"192.0.2.1:25\"\n"),
            "sluice.toml:5:11: key 'egress.sources[1].address': '192.0.2.1:25' is not a "
            "numeric IP address");
}

TEST(DeliveryConfigTest, RefusesBadDomainPatternWithLineAndKey) {
  EXPECT_EQ(LoadError("[[delivery.rules]]\ndomains = [\"ok.example\", \"bad domain\"]\n"),
            "sluice.toml:2:26: key 'delivery.rules[0].domains[1]': 'bad domain' is not a "
            "domain name");
  EXPECT_EQ(LoadError("[[delivery.rules]]\nmx_hosts = [\"*.\"]\n"),
            "sluice.toml:2:13: key 'delivery.rules[0].mx_hosts[0]': '' is not a domain name");
  EXPECT_EQ(LoadError("[[dns.routes]]\ndomain = \".example.com\"\nhosts = [\"10.0.0.1\"]\n"),
            "sluice.toml:2:10: key 'dns.routes[0].domain': '.example.com' is not a domain name");
}

TEST(DeliveryConfigTest, RefusesUnknownKeyInDeliveryLimitsWithLine) {
  EXPECT_EQ(LoadError("[delivery.limits]\nmax_connections = 3\nmax_conections = 4\n"),
            "sluice.toml:3:1: unknown key 'delivery.limits.max_conections'");
  EXPECT_EQ(LoadError("[[delivery.rules]]\ndomains = [\"example.com\"]\nmax_conn = 4\n"),
            "sluice.toml:3:1: unknown key 'delivery.rules[0].max_conn'");
}

TEST(DeliveryConfigTest, RefusesLimitsOutOfRange) {
  EXPECT_EQ(LoadError("[delivery.limits]\nmax_connections = 0\n"),
            "sluice.toml:2:19: key 'delivery.limits.max_connections' must be between 1 and "
            "100000");
}

TEST(DeliveryConfigTest, ReportsEveryErrorInLineOrder) {
  const std::string error = LoadError(R"([dns]
address_order = "both"
[delivery.retry]
multiplier = 0
[delivery.limits]
tls = "no"
)");
  const std::vector<std::string> lines = absl::StrSplit(error, '\n');
  ASSERT_EQ(lines.size(), 3u) << error;
  EXPECT_TRUE(absl::StartsWith(lines[0], "sluice.toml:2:")) << error;
  EXPECT_TRUE(absl::StartsWith(lines[1], "sluice.toml:4:")) << error;
  EXPECT_TRUE(absl::StartsWith(lines[2], "sluice.toml:6:")) << error;
}

}  // namespace
TEST(DeliveryConfigTest, WildcardOnlyAsLeadingLabel) {
  EXPECT_NE(LoadError("[[delivery.rules]]\ndomains = [\"*example.com\"]\n"), "");
  EXPECT_NE(LoadError("[[delivery.rules]]\nmx_hosts = [\"mail.*.example\"]\n"), "");
  EXPECT_EQ(LoadError("[[delivery.rules]]\ndomains = [\"*.example.com\"]\n"), "");
}

}  // namespace sluice::common
