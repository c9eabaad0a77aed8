#include "server/daemon_options.h"

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sluice::server {
namespace {

common::Config Defaults() {
  absl::StatusOr<common::Config> config = common::LoadConfig("", "defaults");
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

TEST(DaemonOptionsTest, SmtpOptionsCarryTheSmtpSection) {
  common::Config config = Defaults();
  config.smtp.hostname = "mx.example.test";
  config.smtp.max_recipients = 7;
  config.smtp.bounce_domains = {"Bounces.Example.TEST"};
  config.smtp.relay_networks = {"10.0.0.0/8"};
  absl::StatusOr<api::SmtpServerOptions> options = SmtpOptions(config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->session.hostname, "mx.example.test");
  EXPECT_EQ(options->session.max_recipients, 7u);
  EXPECT_TRUE(options->bounce_domains.contains("bounces.example.test"));
  ASSERT_EQ(options->relay_networks.size(), 1u);
}

TEST(DaemonOptionsTest, SmtpOptionsRefuseABadNetworkNamingIt) {
  common::Config config = Defaults();
  config.smtp.relay_networks = {"10.0.0.0/99"};
  absl::StatusOr<api::SmtpServerOptions> options = SmtpOptions(config);
  ASSERT_FALSE(options.ok());
  EXPECT_TRUE(absl::StrContains(options.status().message(), "10.0.0.0/99")) << options.status();
}

TEST(DaemonOptionsTest, DnsAddressOrderMapsEveryName) {
  common::DnsSection section = Defaults().dns;
  const std::pair<const char*, dns::AddressOrder> cases[] = {
      {"ipv4_first", dns::AddressOrder::kIpv4First},
      {"ipv6_first", dns::AddressOrder::kIpv6First},
      {"ipv4_only", dns::AddressOrder::kIpv4Only},
      {"ipv6_only", dns::AddressOrder::kIpv6Only},
  };
  for (const auto& [name, order] : cases) {
    section.address_order = name;
    absl::StatusOr<dns::DnsConfig> dns = DnsSettings(section);
    ASSERT_TRUE(dns.ok()) << name << ": " << dns.status();
    EXPECT_EQ(dns->address_order, order) << name;
  }
}

TEST(DaemonOptionsTest, StaticRoutesPassThrough) {
  common::DnsSection section = Defaults().dns;
  section.routes = {{"example.test", {"127.0.0.1:2525"}}};
  absl::StatusOr<dns::DnsConfig> dns = DnsSettings(section);
  ASSERT_TRUE(dns.ok()) << dns.status();
  ASSERT_EQ(dns->static_routes.size(), 1u);
  EXPECT_EQ(dns->static_routes[0].domain, "example.test");
}

TEST(DaemonOptionsTest, EventLogDefaultsIntoTheDataFolder) {
  common::Config config = Defaults();
  config.server.data_dir = "/var/lib/sluice";
  config.events.path = "";
  EXPECT_EQ(EventLogSettings(config).path, "/var/lib/sluice/events.jsonl");
  config.events.path = "/var/log/sluice/events.jsonl";
  EXPECT_EQ(EventLogSettings(config).path, "/var/log/sluice/events.jsonl");
}

TEST(DaemonOptionsTest, TlsCertificateWithoutKeyIsRefused) {
  common::Config config = Defaults();
  config.tls.certificate = "/etc/sluice/cert.pem";
  config.tls.private_key = "";
  absl::StatusOr<std::shared_ptr<const tls::ServerContext>> context = TlsContext(config);
  ASSERT_FALSE(context.ok());
  EXPECT_TRUE(absl::StrContains(context.status().message(), "tls.private_key"));
}

}  // namespace

TEST(DaemonOptionsTest, UnsubscribeTokensNeedAPrivateSecretOfThirtyTwoBytes) {
  common::Config config;
  absl::StatusOr<std::shared_ptr<const api::UnsubscribeToken>> off = UnsubscribeTokens(config);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, nullptr);  // no secret file: one-click unsubscribe is off

  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/unsubscribe.key";
  auto write = [&path](const std::string& bytes, mode_t mode) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    chmod(path.c_str(), mode);
  };
  config.unsubscribe.secret_file = path;
  config.unsubscribe.base_url = "https://mail.example.com";
  write(std::string(32, 's'), 0600);
  absl::StatusOr<std::shared_ptr<const api::UnsubscribeToken>> on = UnsubscribeTokens(config);
  ASSERT_TRUE(on.ok()) << on.status();
  ASSERT_NE(*on, nullptr);
  EXPECT_TRUE((*on)->Verify((*on)->Mint({"t", "a@example.com", "c"})).ok());

  write(std::string(32, 's'), 0644);
  absl::Status refused = UnsubscribeTokens(config).status();
  EXPECT_TRUE(absl::StrContains(refused.message(), path)) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "readable by other users")) << refused;

  write(std::string(16, 's'), 0600);
  refused = UnsubscribeTokens(config).status();
  EXPECT_TRUE(absl::StrContains(refused.message(), "unsubscribe.secret_file")) << refused;
}

TEST(DaemonOptionsTest, BounceRulesGoBeforeTheShippedOnesAndBadOnesNameTheFile) {
  common::Config config;
  absl::StatusOr<std::unique_ptr<const mail::BounceClassifier>> none = BounceRules(config);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);  // the shipped rules alone

  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/bounce_rules.toml";
  std::ofstream(path, std::ios::trunc)
      << "[[rule]]\ncategory = \"spam-block\"\ntext = \"listed by acme-rbl\"\n";
  config.bounces.rules_file = path;
  absl::StatusOr<std::unique_ptr<const mail::BounceClassifier>> rules = BounceRules(config);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ((*rules)->Classify(550, "5.1.1", "user unknown; listed by ACME-RBL").category,
            mail::BounceCategory::kSpamBlock);
  // The shipped rules still follow.
  EXPECT_EQ((*rules)->Classify(550, "5.1.1", "user unknown").category,
            mail::BounceCategory::kBadMailbox);

  std::ofstream(path, std::ios::trunc) << "[[rule]]\ncategory = \"nonsense\"\ntext = \"x\"\n";
  absl::Status bad = BounceRules(config).status();
  EXPECT_TRUE(absl::StrContains(bad.message(), path)) << bad;
  config.bounces.rules_file = path + ".missing";
  bad = BounceRules(config).status();
  EXPECT_TRUE(absl::StrContains(bad.message(), "bounces.rules_file")) << bad;
}

TEST(DaemonOptionsTest, VerpNeedsABounceDomainAndAPrivateSecret) {
  common::Config config;
  absl::StatusOr<std::unique_ptr<const mail::Verp>> off = VerpCodec(config);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, nullptr);

  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/verp.key";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << std::string(32, 'v');
  chmod(path.c_str(), 0600);
  config.bounces.verp_domain = "Bounces.Example.com";
  config.bounces.verp_secret_file = path;
  absl::Status refused = VerpCodec(config).status();
  EXPECT_TRUE(absl::StrContains(refused.message(), "must be one of smtp.bounce_domains"))
      << refused;
  config.smtp.bounce_domains = {"bounces.example.com"};
  absl::StatusOr<std::unique_ptr<const mail::Verp>> on = VerpCodec(config);
  ASSERT_TRUE(on.ok()) << on.status();
  const std::string address =
      (*on)->Encode(common::MessageId::FromParts(1, 2, 3, 4), 0, "bounces.example.com");
  EXPECT_TRUE((*on)->Decode(address).ok());
  chmod(path.c_str(), 0644);
  refused = VerpCodec(config).status();
  EXPECT_TRUE(absl::StrContains(refused.message(), "readable by other users")) << refused;
}

}  // namespace sluice::server
