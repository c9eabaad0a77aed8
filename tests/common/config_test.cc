#include "common/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace sluice::common {
namespace {

// The error message of loading `toml` as sluice.toml ("" if it loaded).
std::string LoadError(absl::string_view toml) {
  const absl::StatusOr<Config> config = LoadConfig(toml, "sluice.toml");
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

TEST(ConfigTest, EmptyFileGivesTheBuiltInDefaults) {
  const absl::StatusOr<Config> config = LoadConfig("", "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.shards, 0);
  EXPECT_EQ(config->server.data_dir, "data");
  EXPECT_EQ(config->log.level, LogLevel::kInfo);
  EXPECT_EQ(config->listen.relay, (ListenAddress{"127.0.0.1", 2525}));
  EXPECT_EQ(config->listen.submission, (ListenAddress{"127.0.0.1", 2587}));
  EXPECT_EQ(config->listen.submissions, (ListenAddress{"127.0.0.1", 2465}));
  EXPECT_EQ(config->listen.http, (ListenAddress{"127.0.0.1", 8025}));
  EXPECT_EQ(config->listen.https, (ListenAddress{"127.0.0.1", 8026}));
}

TEST(ConfigTest, FileOverridesOnlyTheKeysItSets) {
  const absl::StatusOr<Config> config = LoadConfig(R"(
[server]
shards = 8

[log]
level = "debug"

[listen]
relay = "[::]:25"
)",
                                                   "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.shards, 8);
  EXPECT_EQ(config->server.data_dir, "data");
  EXPECT_EQ(config->log.level, LogLevel::kDebug);
  EXPECT_EQ(config->listen.relay, (ListenAddress{"::", 25}));
  EXPECT_EQ(config->listen.submission, (ListenAddress{"127.0.0.1", 2587}));
}

TEST(ConfigTest, AcceptsDottedKeysAndInlineTables) {
  const absl::StatusOr<Config> config = LoadConfig(
      "server = { shards = 2 }\nlisten.http = \"0.0.0.0:80\"\n"
      "listen.https = \"[::1]:8443\"\n",
      "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.shards, 2);
  EXPECT_EQ(config->listen.http, (ListenAddress{"0.0.0.0", 80}));
  EXPECT_EQ(config->listen.https, (ListenAddress{"::1", 8443}));
}

TEST(ConfigTest, RefusesUnknownKeyWithLine) {
  EXPECT_EQ(LoadError("[listen]\nrelay = \"127.0.0.1:25\"\nsmpt = \"127.0.0.1:26\"\n"),
            "sluice.toml:3:1: unknown key 'listen.smpt'");
}

TEST(ConfigTest, RefusesUnknownTableWithLine) {
  EXPECT_EQ(LoadError("[server]\nshards = 1\n\n[lisen]\nrelay = \"127.0.0.1:25\"\n"),
            "sluice.toml:4:2: unknown table 'lisen'");
}

TEST(ConfigTest, RefusesWrongTypeWithLineAndColumn) {
  EXPECT_EQ(LoadError("[server]\nshards = \"four\"\n"),
            "sluice.toml:2:10: key 'server.shards' must be an integer, got string");
  EXPECT_EQ(LoadError("[server]\ndata_dir = 3.5\n"),
            "sluice.toml:2:12: key 'server.data_dir' must be a string, got float");
  EXPECT_EQ(LoadError("server = 5\n"),
            "sluice.toml:1:10: key 'server' must be a table, got integer");
}

TEST(ConfigTest, RefusesShardsOutOfRange) {
  EXPECT_EQ(LoadError("[server]\nshards = 257\n"),
            "sluice.toml:2:10: key 'server.shards' must be between 0 and 256");
  EXPECT_EQ(LoadError("[server]\nshards = -1\n"),
            "sluice.toml:2:10: key 'server.shards' must be between 0 and 256");
  EXPECT_EQ(LoadError("[server]\nshards = 256\n"), "");
}

TEST(ConfigTest, RefusesBadLogLevelWithParserMessage) {
  EXPECT_EQ(LoadError("[log]\nlevel = \"loud\"\n"),
            "sluice.toml:2:9: key 'log.level': unknown log level 'loud' "
            "(expected debug, info, warning or error)");
}

TEST(ConfigTest, RefusesHostNameAsListenAddress) {
  EXPECT_EQ(LoadError("[listen]\nrelay = \"localhost:25\"\n"),
            "sluice.toml:2:9: key 'listen.relay': invalid listen address 'localhost:25': host "
            "'localhost' is not a numeric IPv4 address");
}

TEST(ConfigTest, ReportsEveryErrorInFileOrder) {
  EXPECT_EQ(LoadError("[listen]\nbogus = 1\n[server]\nshards = \"x\"\n"),
            "sluice.toml:2:1: unknown key 'listen.bogus'\n"
            "sluice.toml:4:10: key 'server.shards' must be an integer, got string");
}

TEST(ConfigTest, ReportsSyntaxErrorsWithPosition) {
  const std::string error = LoadError("[server]\nshards = = 3\n");
  EXPECT_TRUE(absl::StartsWith(error, "sluice.toml:2:")) << error;
  EXPECT_GT(error.size(), std::string("sluice.toml:2:1: ").size()) << error;
}

TEST(ConfigTest, DefaultTomlIsValidOnItsOwn) {
  const absl::StatusOr<Config> config = LoadConfig(DefaultConfigToml(), "defaults");
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(ConfigTest, LoadConfigFileReadsTheFile) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/sluice.toml";
  std::ofstream(path) << "[server]\nshards = 4\n";
  const absl::StatusOr<Config> config = LoadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.shards, 4);

  std::ofstream(path) << "[server]\nshard = 4\n";
  EXPECT_EQ(LoadConfigFile(path).status().message(), path + ":2:1: unknown key 'server.shard'");
}

TEST(ConfigTest, LoadConfigFileNamesPathAndErrnoWhenMissing) {
  const absl::StatusOr<Config> config = LoadConfigFile("/nonexistent/sluice.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(config.status().message(),
            "cannot read config file '/nonexistent/sluice.toml': No such file or directory");
}

TEST(ConfigTest, SmtpDefaultsAllowLoopbackRelayOnly) {
  const absl::StatusOr<Config> config = LoadConfig("", "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->smtp.relay_networks, (std::vector<std::string>{"127.0.0.0/8", "::1/128"}));
  EXPECT_EQ(config->smtp.command_timeout, absl::Minutes(5));
  EXPECT_EQ(config->smtp.max_recipients, 1000);
  EXPECT_TRUE(config->users.empty());
}

TEST(ConfigTest, ReadsSmtpListsDurationsAndUsers) {
  const absl::StatusOr<Config> config = LoadConfig(R"(
[smtp]
relay_networks = ["10.0.0.0/8"]
bounce_domains = ["bounces.example.org"]
command_timeout = "90s"
auth_on_loopback_without_tls = false

[[users]]
name = "app"
password_hash = "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA"

[[users]]
name = "other"
password_hash = "$scrypt$ln=4,r=8,p=1$c2FsdA$aGFzaA"
)",
                                                   "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->smtp.relay_networks, (std::vector<std::string>{"10.0.0.0/8"}));
  EXPECT_EQ(config->smtp.bounce_domains, (std::vector<std::string>{"bounces.example.org"}));
  EXPECT_EQ(config->smtp.command_timeout, absl::Seconds(90));
  EXPECT_FALSE(config->smtp.auth_on_loopback_without_tls);
  ASSERT_EQ(config->users.size(), 2u);
  EXPECT_EQ(config->users[1].name, "other");
}

TEST(ConfigTest, RefusesBadNetworkDurationAndUserKeyWithTheirPlace) {
  EXPECT_EQ(LoadError("[smtp]\nrelay_networks = [\"10.0.0.0/8\", \"10.1.0.0/8\"]\n"),
            "sluice.toml:2:33: key 'smtp.relay_networks[1]': '10.1.0.0/8' has host bits set; "
            "write the network address");
  EXPECT_EQ(LoadError("[smtp]\ncommand_timeout = \"soon\"\n"),
            "sluice.toml:2:19: key 'smtp.command_timeout': 'soon' is not a positive duration "
            "like \"30s\" or \"5m\"");
  EXPECT_EQ(LoadError("[[users]]\nname = \"a\"\npassword = \"x\"\n"),
            "sluice.toml:3:1: unknown key 'users[0].password'");
}

TEST(ConfigTest, ReadsApiKeysAndRefusesBadHashOrScope) {
  const std::string hash(64, 'A');
  absl::StatusOr<Config> config =
      LoadConfig("[[api_keys]]\nname = \"app\"\ntoken_sha256 = \"" + hash +
                     "\"\nscopes = [\"inject\", \"read\"]\nrate_per_second = 50\nburst = 100\n",
                 "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->api_keys.size(), 1u);
  EXPECT_EQ(config->api_keys[0].name, "app");
  EXPECT_EQ(config->api_keys[0].token_sha256, std::string(64, 'a'));
  EXPECT_EQ(config->api_keys[0].scopes, (std::vector<std::string>{"inject", "read"}));
  EXPECT_EQ(config->api_keys[0].rate_per_second, 50);
  EXPECT_EQ(config->api_keys[0].burst, 100);
  EXPECT_TRUE(LoadConfig("", "defaults")->api_keys.empty());
  EXPECT_EQ(LoadError("[[api_keys]]\ntoken_sha256 = \"abc\"\n"),
            "sluice.toml:2:16: key 'api_keys[0].token_sha256': must be 64 hex digits (the "
            "token's SHA-256)");
  EXPECT_EQ(LoadError("[[api_keys]]\nscopes = [\"write\"]\n"),
            "sluice.toml:2:11: key 'api_keys[0].scopes[0]': 'write' is not a scope (inject, "
            "admin or read)");
}

TEST(ConfigTest, MetricsLabelBoundsHaveDefaultsAndRefuseOutOfRange) {
  const absl::StatusOr<Config> defaults = LoadConfig("", "sluice.toml");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->metrics.max_sites, 50);
  EXPECT_EQ(defaults->metrics.max_tenants, 50);
  EXPECT_EQ(defaults->metrics.promote_after, 10);
  const absl::StatusOr<Config> set =
      LoadConfig("[metrics]\nmax_sites = 5\nmax_tenants = 0\npromote_after = 1\n", "m.toml");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->metrics.max_sites, 5);
  EXPECT_EQ(set->metrics.max_tenants, 0);
  EXPECT_EQ(set->metrics.promote_after, 1);
  EXPECT_FALSE(LoadConfig("[metrics]\npromote_after = 0\n", "m.toml").ok());
  EXPECT_FALSE(LoadConfig("[metrics]\nmax_sites = -1\n", "m.toml").ok());
}

TEST(ConfigTest, ReadsDkimKeysAndRefusesIncompleteOrBadOnes) {
  const absl::StatusOr<Config> defaults = LoadConfig("", "sluice.toml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->dkim.workers, 1);
  EXPECT_TRUE(defaults->dkim.keys.empty());
  const absl::StatusOr<Config> config = LoadConfig(
      "[dkim]\nworkers = 2\n[[dkim.keys]]\ndomain = \"example.com\"\nselector = \"s1\"\n"
      "key_file = \"/k.pem\"\nfrom_domains = [\"*.example.com\"]\ntenants = [\"acme\"]\n"
      "canonicalization = \"relaxed/simple\"\nexpiration = \"168h\"\n",
      "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->dkim.workers, 2);
  ASSERT_EQ(config->dkim.keys.size(), 1u);
  const DkimKeyConfig& key = config->dkim.keys[0];
  EXPECT_EQ(key.domain, "example.com");
  EXPECT_EQ(key.from_domains, std::vector<std::string>{"*.example.com"});
  EXPECT_EQ(key.tenants, std::vector<std::string>{"acme"});
  EXPECT_EQ(key.canonicalization, "relaxed/simple");
  EXPECT_EQ(key.expiration, absl::Hours(168));
  EXPECT_EQ(LoadError("[[dkim.keys]]\ndomain = \"example.com\"\n"),
            "sluice.toml:1:1: table 'dkim.keys[0]' needs domain, selector and key_file");
  EXPECT_EQ(LoadError("[[dkim.keys]]\ncanonicalization = \"loose\"\ndomain = \"a.test\"\n"
                      "selector = \"s\"\nkey_file = \"k\"\n"),
            "sluice.toml:2:20: key 'dkim.keys[0].canonicalization': 'loose' is not "
            "header/body, each simple or relaxed");
}

TEST(ConfigTest, ReadsTheUnsubscribeSectionAndRefusesAUrlThatIsNotHttps) {
  const absl::StatusOr<Config> defaults = LoadConfig("", "sluice.toml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->unsubscribe.secret_file.empty());
  const absl::StatusOr<Config> config = LoadConfig(
      "[unsubscribe]\nsecret_file = \"/etc/u.key\"\nbase_url = \"https://mail.example.com\"\n",
      "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->unsubscribe.secret_file, "/etc/u.key");
  EXPECT_EQ(config->unsubscribe.base_url, "https://mail.example.com");
  EXPECT_EQ(LoadError("[unsubscribe]\nbase_url = \"http://mail.example.com\"\n"),
            "sluice.toml:2:12: key 'unsubscribe.base_url': must start with https:// and name a "
            "host (RFC 8058)");
  EXPECT_EQ(LoadError("[unsubscribe]\nbase_url = \"https://mail.example.com/\"\n"),
            "sluice.toml:2:12: key 'unsubscribe.base_url': must not end with '/'");
  EXPECT_EQ(LoadError("[unsubscribe]\nsecret_file = \"/etc/u.key\"\n"),
            "sluice.toml:1:1: table 'unsubscribe' secret_file needs base_url");
}

TEST(ConfigTest, ReadsTheBounceRulesFile) {
  EXPECT_TRUE(LoadConfig("", "sluice.toml")->bounces.rules_file.empty());
  const absl::StatusOr<Config> config =
      LoadConfig("[bounces]\nrules_file = \"/etc/sluice/bounces.toml\"\n", "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bounces.rules_file, "/etc/sluice/bounces.toml");
}

TEST(ListenAddressTest, ParsesIPv4AndBracketedIPv6) {
  EXPECT_EQ(ParseListenAddress("10.0.0.1:25").value(), (ListenAddress{"10.0.0.1", 25}));
  EXPECT_EQ(ParseListenAddress("[::1]:25").value(), (ListenAddress{"::1", 25}));
  EXPECT_EQ(ParseListenAddress("[2001:db8::5]:65535").value(),
            (ListenAddress{"2001:db8::5", 65535}));
  EXPECT_EQ(ParseListenAddress("0.0.0.0:0").value(), (ListenAddress{"0.0.0.0", 0}));
}

TEST(ListenAddressTest, RefusesWhatIsNotANumericAddressAndPort) {
  for (const char* bad : {"", "localhost:25", "10.0.0.1", "10.0.0.1:", "10.0.0.1:65536",
                          "10.0.0.1:-1", "10.0.0.1:+25", "10.0.0.1:2x", "::1:25", "[::1]25", "[::1",
                          "[10.0.0.1]:25", "[]:25", ":25", "300.0.0.1:25", "10.0.0.1:0000025"}) {
    const absl::StatusOr<ListenAddress> address = ParseListenAddress(bad);
    EXPECT_FALSE(address.ok()) << "accepted '" << bad << "'";
    if (!address.ok()) {
      EXPECT_TRUE(absl::StartsWith(address.status().message(),
                                   std::string("invalid listen address '") + bad + "': "))
          << address.status();
    }
  }
}

TEST(ListenAddressTest, ToStringRoundTrips) {
  for (const char* text : {"127.0.0.1:2525", "[::1]:25", "[fe80::1]:0"}) {
    const absl::StatusOr<ListenAddress> address = ParseListenAddress(text);
    ASSERT_TRUE(address.ok()) << address.status();
    EXPECT_EQ(address->ToString(), text);
  }
}

}  // namespace

TEST(ConfigTest, ReadsTheSuppressionSectionWithItsDefaults) {
  const absl::StatusOr<Config> defaults = LoadConfig("", "sluice.toml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->suppression.bounce_categories,
            (std::vector<std::string>{"bad-mailbox", "bad-domain", "inactive-mailbox"}));
  EXPECT_TRUE(defaults->suppression.complaints);
  EXPECT_TRUE(defaults->suppression.unsubscribes);
  EXPECT_EQ(defaults->suppression.bounce_expiry, absl::ZeroDuration());
  EXPECT_EQ(defaults->suppression.smtp, "tenants");
  const absl::StatusOr<Config> config = LoadConfig(
      "[suppression]\nbounce_categories = [\"bad-mailbox\"]\ncomplaints = false\n"
      "bounce_expiry = \"4320h\"\nsmtp = \"everyone\"\n",
      "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->suppression.bounce_categories, (std::vector<std::string>{"bad-mailbox"}));
  EXPECT_FALSE(config->suppression.complaints);
  EXPECT_EQ(config->suppression.bounce_expiry, absl::Hours(4320));
  EXPECT_EQ(config->suppression.smtp, "everyone");
  EXPECT_TRUE(
      absl::StrContains(LoadError("[suppression]\nsmtp = \"sometimes\"\n"), "suppression.smtp"));
}

TEST(ConfigTest, ReadsVerpDomainsPerTenantOrPool) {
  const absl::StatusOr<Config> config = LoadConfig(
      "[bounces]\nverp_domain = \"b.example.com\"\nverp_secret_file = \"/k\"\n"
      "[[bounces.verp_domains]]\ntenant = \"acme\"\ndomain = \"b.acme.example\"\n"
      "[[bounces.verp_domains]]\npool = \"bulk\"\ndomain = \"b.bulk.example\"\n",
      "sluice.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->bounces.verp_domains.size(), 2u);
  EXPECT_EQ(config->bounces.verp_domains[0].tenant, "acme");
  EXPECT_EQ(config->bounces.verp_domains[1].pool, "bulk");
  EXPECT_TRUE(absl::StrContains(
      LoadError("[bounces]\nverp_domain = \"b.example.com\"\nverp_secret_file = \"/k\"\n"
                "[[bounces.verp_domains]]\ntenant = \"a\"\npool = \"p\"\ndomain = \"d.example\"\n"),
      "needs a tenant or a pool (one of them)"));
  EXPECT_TRUE(absl::StrContains(
      LoadError("[[bounces.verp_domains]]\ntenant = \"a\"\ndomain = \"d.example\"\n"),
      "verp_domains needs VERP on"));
}

}  // namespace sluice::common
