// config: the daemon's configuration, read from TOML.
//
// A built-in TOML document (DefaultConfigToml) is applied first, then the
// operator's file on top of it: a key present in the file replaces the
// default, a key absent keeps it. Every key is declared; an unknown key or
// table, a value of the wrong type or out of range is an InvalidArgument error
// naming the source, line, column and dotted key, e.g.
//   sluice.toml:3:1: unknown key 'listen.smpt'
// All errors found are reported, one per line. A missing or unreadable file
// is an error naming the path and the errno text. Call from any thread; the
// functions share no state.
//
// To add a setting: add the field here, its default to DefaultConfigToml() in
// config.cc and one line to the section's binder there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/logging.h"

namespace sluice::common {

// A numeric IPv4 or IPv6 address and a port; host names are not accepted.
struct ListenAddress {
  std::string host;  // e.g. "127.0.0.1" or "::1" (no brackets)
  uint16_t port = 0;

  // "127.0.0.1:2525" or "[::1]:25".
  std::string ToString() const;

  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

// Parses "1.2.3.4:25" or "[::1]:25". The host is checked with inet_pton; the
// port must be decimal 0..65535 (0 asks the kernel for any free port).
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

// The fields carry no defaults of their own: DefaultConfigToml() is the one
// place defaults are written down.
struct ServerConfig {
  int shards = 0;  // [0, 256]; 0 means one shard per CPU, left for the caller to resolve
  std::string data_dir;
};

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
};

struct ListenConfig {
  ListenAddress relay;        // SMTP relay (port 25 traffic)
  ListenAddress submission;   // SMTP submission with STARTTLS
  ListenAddress submissions;  // SMTP submission over implicit TLS
  ListenAddress http;         // HTTP injection API and metrics (HTTP/1.1, h2c)
  ListenAddress https;        // the same over TLS (ALPN h2 or http/1.1)
};

// The SMTP listeners (relay, submission, submissions).
struct SmtpConfig {
  std::string hostname;          // in greetings and Received headers; "" = the system's host name
  int64_t max_message_size = 0;  // octets; SIZE is advertised with it
  int max_recipients = 0;        // per transaction; more get 452 4.5.3
  int max_line_length = 0;       // octets with CRLF, commands and text lines
  int max_bad_commands = 0;      // then 421 and close; 0 = no limit
  int max_connections = 0;       // per listener, all shards together
  int max_connections_per_ip = 0;
  // RFC 5321 4.5.3.2.7: how long the server waits for the client's next
  // command or data block.
  absl::Duration command_timeout;
  // Clients in these networks may relay through the relay listener without
  // AUTH (CIDR, e.g. "10.0.0.0/8").
  std::vector<std::string> relay_networks;
  // Mail to these domains is accepted on the relay listener from anyone and
  // spooled to the "bounces" queue (asynchronous bounces and feedback).
  std::vector<std::string> bounce_domains;
  // Clients in these networks may send bare LF line endings, which are
  // normalised; everyone else gets them refused (SMTP smuggling).
  std::vector<std::string> trusted_networks;
  // AUTH over plaintext from 127.0.0.1 and ::1 (everyone else needs TLS).
  bool auth_on_loopback_without_tls = false;
  // Failed AUTH attempts per client IP per minute before 454 4.7.0.
  int max_auth_failures_per_minute = 0;
};

// Certificates for the TLS listeners; both empty means a self-signed
// certificate generated into <data_dir>/tls on first start.
struct TlsConfig {
  std::string certificate;  // PEM chain, leaf first
  std::string private_key;  // PEM, RSA or ECDSA
};

// A user that may AUTH on the SMTP listeners. The password is only ever
// stored as a hash (sluice-passwd prints one).
struct UserConfig {
  std::string name;
  std::string password_hash;
};

// [dns]: how delivery finds mail exchangers (dns/dns_config.h).
struct DnsSection {
  std::vector<std::string> servers;  // "host:port"; empty = /etc/resolv.conf
  absl::Duration query_timeout;
  int tries = 0;
  std::string address_order;  // ipv4_first, ipv6_first, ipv4_only, ipv6_only
  int mx_port = 0;
  std::vector<std::string> smart_hosts;
  struct Route {
    std::string domain;  // "example.com" or "*.example.com"
    std::vector<std::string> hosts;
  };
  std::vector<Route> routes;  // [[dns.routes]]
};

// Per-site delivery limits: [delivery.limits] for every site, and each
// [[delivery.rules]] entry starting from those.
struct DeliveryLimits {
  int max_connections = 0;
  int initial_connections = 0;  // the concurrency window starts here
  int max_messages_per_connection = 0;
  int max_recipients_per_transaction = 0;
  int64_t messages_per_second = 0;  // 0 = no limit
  int64_t messages_per_minute = 0;
  int64_t messages_per_hour = 0;
  absl::Duration idle_timeout;
  absl::Duration connect_timeout;
  absl::Duration reply_timeout;  // every reply but the one to the data
  absl::Duration data_timeout;   // the reply to the end of the data
  std::string tls;               // opportunistic, required, verify, disabled
};

struct DeliveryRule {
  std::vector<std::string> domains;   // "example.com" or "*.example.com"
  std::vector<std::string> mx_hosts;  // MX host names, same patterns ("*.google.com")
  DeliveryLimits limits;
};

struct RetrySection {
  absl::Duration initial;
  double multiplier = 0;
  absl::Duration max_interval;
  absl::Duration max_age;
  double jitter = 0;
};

// [delivery]: the outbound side.
struct DeliveryConfig {
  bool enabled = true;
  std::string helo_name;  // "" = smtp.hostname
  absl::Duration host_failure_backoff;
  absl::Duration throttle_backoff;
  std::string tls_ca_file;  // "" = the system bundle
  absl::Duration delay_notice_after;
  RetrySection retry;
  DeliveryLimits limits;
  std::vector<DeliveryRule> rules;
};

// An egress source: a local address to connect from and the EHLO name
// that goes with it.
struct EgressSource {
  std::string name;
  std::string address;      // numeric; "" = the kernel's choice
  std::string ehlo;         // "" = delivery.helo_name
  int max_connections = 0;  // open at once from this source, all sites; 0 = no limit
};

struct EgressPool {
  std::string name;
  std::vector<std::string> sources;
  std::vector<std::string> tenants;  // messages of these tenants use this pool
};

// [events]: the JSON-lines delivery event log.
struct EventsConfig {
  std::string path;  // "" = <data_dir>/events.jsonl
  int64_t max_bytes = 0;
  int max_files = 0;
};

// [metrics]: how many values of an unbounded label (a destination site, a
// tenant) get their own series; the rest count under "other" (see
// common/bounded_labels.h for the rule).
struct MetricsConfig {
  int max_sites = 0;
  int max_tenants = 0;
  int64_t promote_after = 0;  // messages or recipients seen before a value gets a series
};

// A key for the HTTP API. The bearer token itself is never stored, only its
// SHA-256 (printf %s TOKEN | sha256sum).
struct ApiKeyConfig {
  std::string name;
  std::string token_sha256;         // 64 hex digits
  std::vector<std::string> scopes;  // "inject", "admin", "read"
  int64_t rate_per_second = 0;      // requests; 0 = unlimited
  int64_t burst = 0;                // 0 = the rate
};

// [[dkim.keys]]: one DKIM key and which mail it signs.
struct DkimKeyConfig {
  std::string domain;    // d=
  std::string selector;  // s=
  std::string key_file;  // PEM (RSA or Ed25519), not readable by other users
  // "rsa-sha256" or "ed25519-sha256"; "" = whatever the key file holds.
  std::string algorithm;
  // From domains it signs ("example.com", "*.example.com"); empty = domain.
  std::vector<std::string> from_domains;
  std::vector<std::string> tenants;  // empty = every tenant
  std::string canonicalization = "relaxed/relaxed";
  std::vector<std::string> headers;                  // empty = the default list
  absl::Duration expiration = absl::ZeroDuration();  // x= after t=; zero = none
};

// [dkim]: signing at ingest, on worker threads.
struct DkimConfig {
  int workers = 1;
  int queue = 256;  // messages waiting per worker
  // A listener whose message finds every worker full waits this long at
  // most (its client not read meanwhile), then answers 451.
  absl::Duration max_wait = absl::Seconds(30);
  std::vector<DkimKeyConfig> keys;
};

// [unsubscribe]: one-click unsubscribe URLs (RFC 8058) that sluice
// generates and answers itself.
struct UnsubscribeConfig {
  // The HMAC secret of the tokens (at least 32 bytes; not world-readable).
  // Empty: one-click unsubscribe is off.
  std::string secret_file;
  // Where the HTTPS listener is reachable by mailbox providers, without a
  // trailing slash: "https://mail.example.com".
  std::string base_url;
};

// [bounces]: what failures mean (mail/bounce_classifier.h).
struct BouncesConfig {
  // [[rule]] tables tried before the shipped rules; "" for none. Read at
  // start.
  std::string rules_file;
  // VERP: outbound mail goes out from b-<id>-<recipient>-<mac>@verp_domain
  // (one of smtp.bounce_domains), signed with the secret in
  // verp_secret_file (32+ bytes, not readable by others). Both or neither.
  std::string verp_domain;
  std::string verp_secret_file;
  // [[bounces.verp_domains]]: another bounce domain (also one of
  // smtp.bounce_domains) for one tenant's or one egress pool's mail, so
  // each sender's bounces come back to its own domain, and an async bounce
  // there is known to be that tenant's. A tenant's entry wins over its
  // pool's; mail of neither uses verp_domain.
  struct VerpDomain {
    std::string tenant;  // exactly one of tenant and pool
    std::string pool;
    std::string domain;
    bool operator==(const VerpDomain&) const = default;
  };
  std::vector<VerpDomain> verp_domains;
};

// [suppression]: who is not mailed again (queue/suppression.h).
struct SuppressionConfig {
  // Hard bounces (synchronous 5xx, or a DSN reporting a permanent failure)
  // of these categories add the recipient to its tenant's list.
  std::vector<std::string> bounce_categories = {"bad-mailbox", "bad-domain", "inactive-mailbox"};
  bool complaints = true;    // a feedback report adds the complainer
  bool unsubscribes = true;  // a one-click unsubscribe adds the recipient
  // How long each kind of entry lasts; zero: for ever.
  absl::Duration bounce_expiry = absl::ZeroDuration();
  absl::Duration complaint_expiry = absl::ZeroDuration();
  absl::Duration unsubscribe_expiry = absl::ZeroDuration();
  // Which SMTP clients get 550 5.7.1 at RCPT for a suppressed recipient:
  // "tenants" (authenticated submitters), "everyone" (relay clients too,
  // against the global scope) or "off". HTTP injection is always checked.
  std::string smtp = "tenants";
};

struct Config {
  ServerConfig server;
  LogConfig log;
  ListenConfig listen;
  SmtpConfig smtp;
  TlsConfig tls;
  std::vector<UserConfig> users;
  DnsSection dns;
  DeliveryConfig delivery;
  std::vector<EgressSource> egress_sources;
  std::vector<EgressPool> egress_pools;
  EventsConfig events;
  MetricsConfig metrics;
  // Without any, the HTTP API serves loopback clients only (every scope).
  std::vector<ApiKeyConfig> api_keys;
  DkimConfig dkim;
  UnsubscribeConfig unsubscribe;
  BouncesConfig bounces;
  SuppressionConfig suppression;
};

// The built-in defaults, as TOML.
absl::string_view DefaultConfigToml();

// Defaults overlaid with `toml_text`; `source_name` prefixes error positions.
absl::StatusOr<Config> LoadConfig(absl::string_view toml_text, absl::string_view source_name);

// LoadConfig on the contents of the file at `path`.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

}  // namespace sluice::common
