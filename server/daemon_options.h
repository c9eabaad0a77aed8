// Configuration → component options: the translations sluiced makes from
// common::Config to what each component takes, each checked (an error names
// the setting). Pure functions of the configuration except TlsContext, which
// may generate a self-signed certificate into the data folder. Main thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/api_key_store.h"
#include "api/smtp_server.h"
#include "api/unsubscribe_token.h"
#include "common/config.h"
#include "dns/dns_config.h"
#include "engine/event_log.h"
#include "engine/suppression_feed.h"
#include "mail/bounce_classifier.h"
#include "mail/dkim_keyring.h"
#include "mail/verp.h"
#include "tls/server_context.h"

namespace sluice::server {

// server.shards, or one per CPU.
int ShardCount(const common::Config& config);

// smtp.hostname, or the machine's name.
std::string HostName(const common::Config& config);

// The settings every SMTP listener shares (kind, limiter, metrics, TLS and
// the authenticator are the caller's).
absl::StatusOr<api::SmtpServerOptions> SmtpOptions(const common::Config& config);

absl::StatusOr<dns::DnsConfig> DnsSettings(const common::DnsSection& section);

engine::EventLogOptions EventLogSettings(const common::Config& config);

// Who may call the HTTP API, from [[api_keys]].
absl::StatusOr<std::shared_ptr<const api::ApiKeyStore>> ApiKeys(const common::Config& config);

// The [[dkim.keys]], their key files loaded; an error names the file or the
// key. An empty ring when none are configured.
absl::StatusOr<std::shared_ptr<const mail::DkimKeyring>> DkimKeys(const common::Config& config);

// The one-click unsubscribe tokens of [unsubscribe], or null when it is off
// (no secret_file). The secret file must hold 32 bytes or more and not be
// readable by other users.
absl::StatusOr<std::shared_ptr<const api::UnsubscribeToken>> UnsubscribeTokens(
    const common::Config& config);

// The bounce classifier of [bounces] rules_file (its rules, then the shipped
// ones), or null without a file (the shipped rules alone). Errors name the
// file, the rule and the key.
absl::StatusOr<std::unique_ptr<const mail::BounceClassifier>> BounceRules(
    const common::Config& config);

// The VERP codec of [bounces], or null when VERP is off. verp_domain must
// be one of smtp.bounce_domains (where the bounces come back).
absl::StatusOr<std::unique_ptr<const mail::Verp>> VerpCodec(const common::Config& config);

// What delivery adds to the suppression list by itself ([suppression]),
// without the list and the counters; an unknown category is an error.
absl::StatusOr<engine::SuppressionFeedOptions> SuppressionFeedSettings(
    const common::Config& config);

// The listeners' certificate: the configured files, or a self-signed one
// generated into <data_dir>/tls so the defaults work out of the box.
absl::StatusOr<std::shared_ptr<const tls::ServerContext>> TlsContext(
    const common::Config& config, std::vector<std::string> alpn = {});

// Every translation above that reads only the configuration and the files
// it names (TLS only when certificate files are configured; the
// self-signed fallback is made at start, not here): what
// `sluiced --check_config` runs. The first error, naming the setting.
absl::Status CheckConfig(const common::Config& config);

}  // namespace sluice::server
