#include "server/daemon_options.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/ip_network.h"
#include "common/logging.h"
#include "common/secret_file.h"
#include "common/status_macros.h"
#include "tls/self_signed.h"

namespace sluice::server {

int ShardCount(const common::Config& config) {
  if (config.server.shards > 0) return config.server.shards;
  const unsigned cpus = std::thread::hardware_concurrency();
  return cpus == 0 ? 1 : static_cast<int>(cpus);
}

std::string HostName(const common::Config& config) {
  if (!config.smtp.hostname.empty()) return config.smtp.hostname;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

absl::StatusOr<api::SmtpServerOptions> SmtpOptions(const common::Config& config) {
  api::SmtpServerOptions options;
  options.session.hostname = HostName(config);
  options.session.max_message_size = static_cast<uint64_t>(config.smtp.max_message_size);
  options.session.max_recipients = static_cast<size_t>(config.smtp.max_recipients);
  options.session.max_command_line = static_cast<size_t>(config.smtp.max_line_length);
  options.session.max_text_line = static_cast<size_t>(config.smtp.max_line_length);
  options.session.max_bad_commands = config.smtp.max_bad_commands;
  options.command_timeout = config.smtp.command_timeout;
  SLUICE_ASSIGN_OR_RETURN(options.relay_networks,
                          common::IpNetwork::ParseList(config.smtp.relay_networks));
  SLUICE_ASSIGN_OR_RETURN(options.trusted_networks,
                          common::IpNetwork::ParseList(config.smtp.trusted_networks));
  for (const std::string& domain : config.smtp.bounce_domains) {
    options.bounce_domains.insert(absl::AsciiStrToLower(domain));
  }
  options.auth_on_loopback_without_tls = config.smtp.auth_on_loopback_without_tls;
  return options;
}

absl::StatusOr<dns::DnsConfig> DnsSettings(const common::DnsSection& section) {
  dns::DnsConfig dns;
  dns.servers = section.servers;
  dns.query_timeout = section.query_timeout;
  dns.tries = section.tries;
  if (section.address_order == "ipv6_first") {
    dns.address_order = dns::AddressOrder::kIpv6First;
  } else if (section.address_order == "ipv4_only") {
    dns.address_order = dns::AddressOrder::kIpv4Only;
  } else if (section.address_order == "ipv6_only") {
    dns.address_order = dns::AddressOrder::kIpv6Only;
  } else {
    dns.address_order = dns::AddressOrder::kIpv4First;
  }
  dns.mx_port = static_cast<uint16_t>(section.mx_port);
  dns.smart_hosts = section.smart_hosts;
  for (const common::DnsSection::Route& route : section.routes) {
    dns.static_routes.push_back({route.domain, route.hosts});
  }
  SLUICE_RETURN_IF_ERROR(dns.Validate());
  return dns;
}

engine::EventLogOptions EventLogSettings(const common::Config& config) {
  engine::EventLogOptions events;
  events.path = config.events.path.empty()
                    ? (std::filesystem::path(config.server.data_dir) / "events.jsonl").string()
                    : config.events.path;
  events.max_bytes = static_cast<uint64_t>(config.events.max_bytes);
  events.max_files = config.events.max_files;
  return events;
}

absl::StatusOr<std::shared_ptr<const api::ApiKeyStore>> ApiKeys(const common::Config& config) {
  std::vector<api::ApiKeySpec> specs;
  for (const common::ApiKeyConfig& key : config.api_keys) {
    specs.push_back({key.name, key.token_sha256, key.scopes, key.rate_per_second, key.burst});
  }
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<api::ApiKeyStore> keys, api::ApiKeyStore::Create(specs));
  if (keys->empty()) {
    SLUICE_LOG(kWarning, "no [[api_keys]] configured; the HTTP API serves loopback clients only");
  }
  return keys;
}

absl::StatusOr<std::shared_ptr<const mail::DkimKeyring>> DkimKeys(const common::Config& config) {
  std::vector<mail::DkimKeySpec> specs;
  for (const common::DkimKeyConfig& key : config.dkim.keys) {
    const std::string name = absl::StrCat("dkim key ", key.selector, "._domainkey.", key.domain);
    mail::DkimKeySpec& spec = specs.emplace_back();
    absl::StatusOr<std::shared_ptr<const mail::DkimKey>> loaded =
        mail::DkimKey::LoadFile(key.key_file);
    if (!loaded.ok()) {
      return absl::Status(loaded.status().code(),
                          absl::StrCat(name, ": ", loaded.status().message()));
    }
    const absl::string_view algorithm = mail::DkimAlgorithmName((*loaded)->algorithm());
    if (!key.algorithm.empty() && key.algorithm != algorithm) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": ", key.key_file, " holds an ",
                                                     algorithm, " key, not ", key.algorithm));
    }
    spec.signature.domain = key.domain;
    spec.signature.selector = key.selector;
    spec.signature.key = *std::move(loaded);
    const size_t slash = key.canonicalization.find('/');
    auto canonicalization = [](absl::string_view name) {
      return name == "simple" ? mail::DkimCanonicalization::kSimple
                              : mail::DkimCanonicalization::kRelaxed;
    };
    spec.signature.header_canonicalization =
        canonicalization(absl::string_view(key.canonicalization).substr(0, slash));
    spec.signature.body_canonicalization =
        canonicalization(absl::string_view(key.canonicalization).substr(slash + 1));
    if (!key.headers.empty()) spec.signature.headers = key.headers;
    spec.signature.expiration = key.expiration;
    spec.from_domains = key.from_domains;
    spec.tenants = key.tenants;
  }
  return mail::DkimKeyring::Create(std::move(specs));
}

absl::StatusOr<std::unique_ptr<const mail::BounceClassifier>> BounceRules(
    const common::Config& config) {
  const std::string& path = config.bounces.rules_file;
  if (path.empty()) return nullptr;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("bounces.rules_file ", path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<mail::BounceClassifier::Rule>> rules =
      mail::BounceClassifier::ParseRules(text.str(), path);
  if (!rules.ok()) return rules.status();
  absl::StatusOr<std::vector<mail::BounceClassifier::Rule>> shipped =
      mail::BounceClassifier::ParseRules(mail::BounceClassifier::BuiltinRulesToml(),
                                         "bounce_rules.toml");
  if (!shipped.ok()) return shipped.status();
  rules->insert(rules->end(), shipped->begin(), shipped->end());
  return mail::BounceClassifier::Create(*std::move(rules));
}

absl::StatusOr<engine::SuppressionFeedOptions> SuppressionFeedSettings(
    const common::Config& config) {
  const common::SuppressionConfig& c = config.suppression;
  engine::SuppressionFeedOptions options;
  for (const std::string& name : c.bounce_categories) {
    absl::StatusOr<mail::BounceCategory> category = mail::ParseBounceCategory(name);
    if (!category.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("suppression.bounce_categories: ", category.status().message()));
    }
    options.bounce_categories[static_cast<size_t>(*category)] = true;
  }
  options.complaints = c.complaints;
  options.bounce_expiry = c.bounce_expiry;
  options.complaint_expiry = c.complaint_expiry;
  return options;
}

absl::StatusOr<std::unique_ptr<const mail::Verp>> VerpCodec(const common::Config& config) {
  const common::BouncesConfig& b = config.bounces;
  if (b.verp_domain.empty()) return nullptr;
  auto is_bounce_domain = [&config](const std::string& name) {
    const std::string domain = absl::AsciiStrToLower(name);
    for (const std::string& d : config.smtp.bounce_domains) {
      if (absl::AsciiStrToLower(d) == domain) return true;
    }
    return false;
  };
  if (!is_bounce_domain(b.verp_domain)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bounces.verp_domain ", b.verp_domain,
                     " must be one of smtp.bounce_domains, or its bounces would be refused"));
  }
  for (const common::BouncesConfig::VerpDomain& d : b.verp_domains) {
    if (!is_bounce_domain(d.domain)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bounces.verp_domains: ", d.domain,
                       " must be one of smtp.bounce_domains, or its bounces would be refused"));
    }
  }
  absl::StatusOr<std::string> secret = common::ReadSecretFile(b.verp_secret_file);
  if (!secret.ok()) return secret.status();
  absl::StatusOr<mail::Verp> verp = mail::Verp::Create(*std::move(secret));
  if (!verp.ok()) {
    return absl::Status(verp.status().code(),
                        absl::StrCat("bounces.verp_secret_file ", b.verp_secret_file, ": ",
                                     verp.status().message()));
  }
  return std::make_unique<const mail::Verp>(*std::move(verp));
}

absl::StatusOr<std::shared_ptr<const api::UnsubscribeToken>> UnsubscribeTokens(
    const common::Config& config) {
  const std::string& path = config.unsubscribe.secret_file;
  if (path.empty()) return nullptr;
  absl::StatusOr<std::string> secret = common::ReadSecretFile(path);
  if (!secret.ok()) return secret.status();
  absl::StatusOr<api::UnsubscribeToken> tokens = api::UnsubscribeToken::Create(*std::move(secret));
  if (!tokens.ok()) {
    return absl::Status(tokens.status().code(), absl::StrCat("unsubscribe.secret_file ", path, ": ",
                                                             tokens.status().message()));
  }
  return std::make_shared<const api::UnsubscribeToken>(*std::move(tokens));
}

absl::StatusOr<std::shared_ptr<const tls::ServerContext>> TlsContext(
    const common::Config& config, std::vector<std::string> alpn) {
  tls::ServerOptions options;
  options.alpn = std::move(alpn);
  if (config.tls.certificate.empty() != config.tls.private_key.empty()) {
    return absl::InvalidArgumentError("tls.certificate and tls.private_key go together");
  }
  if (config.tls.certificate.empty()) {
    SLUICE_ASSIGN_OR_RETURN(tls::SelfSignedFiles files,
                            tls::EnsureSelfSigned(config.server.data_dir, HostName(config)));
    if (files.generated) {
      SLUICE_LOG(kWarning, "no TLS certificate configured; generated a self-signed one")
          .Field("certificate", files.cert_file);
    }
    options.cert_chain_file = files.cert_file;
    options.key_file = files.key_file;
  } else {
    options.cert_chain_file = config.tls.certificate;
    options.key_file = config.tls.private_key;
  }
  return tls::ServerContext::Create(options);
}

absl::Status CheckConfig(const common::Config& config) {
  SLUICE_RETURN_IF_ERROR(SmtpOptions(config).status());
  SLUICE_RETURN_IF_ERROR(DnsSettings(config.dns).status());
  SLUICE_RETURN_IF_ERROR(ApiKeys(config).status());
  SLUICE_RETURN_IF_ERROR(DkimKeys(config).status());
  SLUICE_RETURN_IF_ERROR(UnsubscribeTokens(config).status());
  SLUICE_RETURN_IF_ERROR(BounceRules(config).status());
  SLUICE_RETURN_IF_ERROR(VerpCodec(config).status());
  SLUICE_RETURN_IF_ERROR(SuppressionFeedSettings(config).status());
  if (!config.tls.certificate.empty() || !config.tls.private_key.empty()) {
    SLUICE_RETURN_IF_ERROR(TlsContext(config).status());
  }
  return absl::OkStatus();
}

}  // namespace sluice::server
