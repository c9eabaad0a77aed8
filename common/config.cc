#include "common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/config_checks.h"
#include "common/status_macros.h"
#include "common/toml_binder.h"

namespace sluice::common {
namespace {

constexpr absl::string_view kDefaultConfigToml = R"toml(# sluice built-in defaults.
# A sluice.toml only needs the keys it changes.

[server]
# Shard threads; 0 means one per CPU.
shards = 0
# Spool and state live here.
data_dir = "data"

[log]
# debug, info, warning or error.
level = "info"

[listen]
# Numeric address and port; IPv6 as "[::1]:25".
relay = "127.0.0.1:2525"
submission = "127.0.0.1:2587"
submissions = "127.0.0.1:2465"
# HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on one port.
http = "127.0.0.1:8025"
# The same API over TLS ([tls] certificates); ALPN picks h2 or http/1.1.
https = "127.0.0.1:8026"

[smtp]
# Greeting and Received header name; "" = this machine's host name.
hostname = ""
max_message_size = 52428800
max_recipients = 1000
max_line_length = 1000
max_bad_commands = 20
max_connections = 10000
max_connections_per_ip = 200
command_timeout = "5m"
# Who may relay through the relay listener without AUTH.
relay_networks = ["127.0.0.0/8", "::1/128"]
# Local domains whose mail (bounces, feedback) is accepted from anyone.
bounce_domains = []
# Networks allowed to send bare LF line endings (normalised to CRLF).
trusted_networks = []
# AUTH is offered only under TLS (RFC 8314); true also allows it in
# plaintext from 127.0.0.1 and ::1 (never the rest of 127.0.0.0/8).
auth_on_loopback_without_tls = false
max_auth_failures_per_minute = 10

[tls]
# PEM files; both empty: a self-signed certificate in <data_dir>/tls.
certificate = ""
private_key = ""

# SMTP AUTH users, one [[users]] table each:
#   [[users]]
#   name = "app"
#   password_hash = "$pbkdf2-sha256$..."   (sluice-passwd prints one)

[dns]
# Name servers as "host:port"; empty: those of /etc/resolv.conf.
servers = []
query_timeout = "3s"
tries = 2
# ipv4_first, ipv6_first, ipv4_only or ipv6_only.
address_order = "ipv4_first"
# The port of mail exchangers.
mx_port = 25
# Send everything to these hosts ("host:port") instead of the MX.
smart_hosts = []
# Static routes, one [[dns.routes]] table each:
#   [[dns.routes]]
#   domain = "example.com"        # or "*.example.com"
#   hosts = ["10.0.0.5:25"]

[delivery]
enabled = true
# EHLO name; "" = smtp.hostname.
helo_name = ""
# How long an MX host that failed (refused, timed out, 5xx greeting) is
# skipped while the site has other hosts.
host_failure_backoff = "5m"
# After a throttling reply (421, 4.7.0, 4.7.28, ...) the site opens no new
# connection for this long, and its concurrency window halves.
throttle_backoff = "1m"
# Trust anchors for tls = "verify"; "" = the system bundle.
tls_ca_file = ""
# NOTIFY=DELAY notices go out once a message waited this long.
delay_notice_after = "4h"

[delivery.retry]
initial = "5m"
multiplier = 2.0
max_interval = "4h"
# Then the message expires and bounces (5 days).
max_age = "120h"
# Each wait is 80% to 120% of its nominal length.
jitter = 0.2

# Limits of every site (a site: the MX hosts a set of domains shares).
[delivery.limits]
max_connections = 32
initial_connections = 4
max_messages_per_connection = 1000
max_recipients_per_transaction = 100
# Message rates; 0 = no limit.
messages_per_second = 0
messages_per_minute = 0
messages_per_hour = 0
idle_timeout = "5s"
connect_timeout = "30s"
reply_timeout = "5m"
data_timeout = "10m"
# opportunistic (STARTTLS when offered), required (STARTTLS must work),
# verify (required, and the certificate must match the MX host name),
# disabled.
tls = "opportunistic"

# Overrides by domain or MX host, each starting from [delivery.limits]:
#   [[delivery.rules]]
#   mx_hosts = ["*.google.com"]
#   max_connections = 10
#   messages_per_second = 50

# Egress: source addresses and pools. Without any, connections come from
# the kernel's choice of address with delivery.helo_name.
#   [[egress.sources]]
#   name = "ip1"
#   address = "192.0.2.10"
#   ehlo = "mta1.example.com"
#   max_connections = 0      (open at once, all sites together; 0: no limit)
#   [[egress.pools]]
#   name = "bulk"
#   sources = ["ip1"]
#   tenants = ["acme"]

[events]
# JSON lines, one per delivery attempt result; "" = <data_dir>/events.jsonl.
path = ""
max_bytes = 104857600
max_files = 5

[metrics]
# Label values with their own series at most: sites (sluice_delivery_site_*)
# and tenants (sluice_messages_received_total, sluice_delivery_tenant_*);
# the rest count under "other". A value gets its series once it has been
# seen promote_after times on one shard (a heavy-hitter estimate that never
# overcounts), for as long as the process runs.
max_sites = 50
max_tenants = 50
promote_after = 10

# HTTP API keys, one [[api_keys]] table each; without any, only loopback
# clients may use the API (with every scope):
#   [[api_keys]]
#   name = "app"
#   token_sha256 = "..."      (printf %s TOKEN | sha256sum)
#   scopes = ["inject"]       (inject, admin, read)
#   rate_per_second = 100     (0: unlimited)
#   burst = 200               (0: the rate)

[dkim]
# Signing threads (an RSA-2048 signature costs about 1 ms, Ed25519 0.03 ms)
# and the messages each may have waiting. A listener whose message finds
# them all full waits, at most max_wait (its client not read meanwhile),
# then answers 451.
workers = 1
queue = 256
max_wait = "30s"
# Keys, one [[dkim.keys]] table each; every key that matches a message's
# From domain and tenant signs it (an RSA and an Ed25519 key dual-sign):
#   [[dkim.keys]]
#   domain = "example.com"            (d=)
#   selector = "s2026"                (s=; publish s2026._domainkey.example.com)
#   key_file = "/etc/sluice/dkim/s2026.pem"   (sluice-dkim keygen makes one)
#   algorithm = "rsa-sha256"          (or "ed25519-sha256"; checked against the key)
#   from_domains = ["example.com", "*.example.com"]   (default: domain)
#   tenants = []                      (default: every tenant)
#   canonicalization = "relaxed/relaxed"
#   headers = []                      (default: From (oversigned), To, Cc, Subject,
#                                      Date, Message-ID, MIME and list headers)
#   expiration = "168h"               (x=; default none)

[unsubscribe]
# One-click unsubscribe (RFC 8058) for injections that ask for it
# ("unsubscribe": "one-click"): List-Unsubscribe points at
# base_url/unsubscribe/TOKEN, served by the HTTP listeners; a POST there
# records an unsubscribe event. Off while secret_file is empty.
#   secret_file = "/etc/sluice/unsubscribe.key"   (32+ random bytes, mode 0600:
#                                                  head -c 32 /dev/urandom > FILE)
#   base_url = "https://mail.example.com"
secret_file = ""
base_url = ""

[bounces]
# Rules for what a failure means, tried before the shipped ones
# (mail/bounce_rules.toml): [[rule]] tables with category, status, code,
# text; see the README. Read at start.
rules_file = ""
# VERP return paths (b-<id>-<recipient>-<mac>@verp_domain, one recipient
# per transaction) so a bounce that comes back names its message even when
# it is mangled. verp_domain must be one of smtp.bounce_domains;
# verp_secret_file holds 32+ random bytes (mode 0600).
verp_domain = ""
verp_secret_file = ""
# A bounce domain of its own for one tenant's or pool's mail (an async
# bounce that comes back there is known to be that tenant's):
#   [[bounces.verp_domains]]
#   tenant = "acme"                   (or pool = "transactional")
#   domain = "bounces.acme.example"   (one of smtp.bounce_domains)

[suppression]
# Addresses sluice will not mail again, per tenant (and a global scope),
# kept in the spool; the admin API lists, adds, removes, imports and
# exports them. These add entries by themselves:
bounce_categories = ["bad-mailbox", "bad-domain", "inactive-mailbox"]
complaints = true
unsubscribes = true
# How long entries last (absent: for ever), e.g. bounce_expiry = "4320h".
# SMTP clients refused at RCPT (550 5.7.1) for a suppressed recipient:
# "tenants" (authenticated submitters), "everyone" or "off". HTTP
# injection always checks and lists them under "rejected".
smtp = "tenants"
)toml";

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), absl::ascii_isdigit);
}

void BindLimits(TableBinder& t, DeliveryLimits* l) {
  t.Int("max_connections", 1, 100'000, &l->max_connections);
  t.Int("initial_connections", 1, 100'000, &l->initial_connections);
  t.Int("max_messages_per_connection", 1, 100'000'000, &l->max_messages_per_connection);
  t.Int("max_recipients_per_transaction", 1, 100'000, &l->max_recipients_per_transaction);
  t.Int64("messages_per_second", 0, 10'000'000, &l->messages_per_second);
  t.Int64("messages_per_minute", 0, 100'000'000, &l->messages_per_minute);
  t.Int64("messages_per_hour", 0, 1'000'000'000, &l->messages_per_hour);
  t.Duration("idle_timeout", &l->idle_timeout);
  t.Duration("connect_timeout", &l->connect_timeout);
  t.Duration("reply_timeout", &l->reply_timeout);
  t.Duration("data_timeout", &l->data_timeout);
  t.Choice("tls", {"opportunistic", "required", "verify", "disabled"}, &l->tls);
}

void BindDns(TableBinder& dns, DnsSection* c) {
  dns.StringList("servers", &c->servers, &CheckHostPort);
  dns.Duration("query_timeout", &c->query_timeout);
  dns.Int("tries", 1, 10, &c->tries);
  dns.Choice("address_order", {"ipv4_first", "ipv6_first", "ipv4_only", "ipv6_only"},
             &c->address_order);
  dns.Int("mx_port", 1, 65535, &c->mx_port);
  dns.StringList("smart_hosts", &c->smart_hosts, &CheckHostPort);
  if (dns.Has("routes")) c->routes.clear();
  dns.TableArray("routes", [&](TableBinder& route, size_t) {
    DnsSection::Route& r = c->routes.emplace_back();
    route.Parsed("domain", &r.domain, &ParseDomainPattern);
    route.StringList("hosts", &r.hosts, &CheckHostPort);
  });
}

void BindDelivery(TableBinder& delivery, DeliveryConfig* c) {
  delivery.Bool("enabled", &c->enabled);
  delivery.String("helo_name", &c->helo_name);
  delivery.Duration("host_failure_backoff", &c->host_failure_backoff);
  delivery.Duration("throttle_backoff", &c->throttle_backoff);
  delivery.String("tls_ca_file", &c->tls_ca_file);
  delivery.Duration("delay_notice_after", &c->delay_notice_after);
  delivery.Table("retry", [&](TableBinder& retry) {
    retry.Duration("initial", &c->retry.initial);
    retry.Double("multiplier", 1.0, 100.0, &c->retry.multiplier);
    retry.Duration("max_interval", &c->retry.max_interval);
    retry.Duration("max_age", &c->retry.max_age);
    retry.Double("jitter", 0.0, 0.9, &c->retry.jitter);
  });
  delivery.Table("limits", [&](TableBinder& limits) { BindLimits(limits, &c->limits); });
  // Bound after [delivery.limits], so each rule starts from the limits
  // this same file set.
  if (delivery.Has("rules")) c->rules.clear();
  delivery.TableArray("rules", [&](TableBinder& rule, size_t) {
    DeliveryRule& r = c->rules.emplace_back();
    r.limits = c->limits;
    rule.StringList("domains", &r.domains, &CheckDomainPattern);
    rule.StringList("mx_hosts", &r.mx_hosts, &CheckDomainPattern);
    BindLimits(rule, &r.limits);
  });
}

// The whole schema: every section and key sluice understands.
void BindConfig(TableBinder& root, Config* config) {
  root.Table("server", [&](TableBinder& server) {
    server.Int("shards", 0, 256, &config->server.shards);
    server.String("data_dir", &config->server.data_dir);
  });
  root.Table("log",
             [&](TableBinder& log) { log.Parsed("level", &config->log.level, &ParseLogLevel); });
  root.Table("listen", [&](TableBinder& listen) {
    listen.Parsed("relay", &config->listen.relay, &ParseListenAddress);
    listen.Parsed("submission", &config->listen.submission, &ParseListenAddress);
    listen.Parsed("submissions", &config->listen.submissions, &ParseListenAddress);
    listen.Parsed("http", &config->listen.http, &ParseListenAddress);
    listen.Parsed("https", &config->listen.https, &ParseListenAddress);
  });
  root.Table("smtp", [&](TableBinder& smtp) {
    SmtpConfig& c = config->smtp;
    smtp.String("hostname", &c.hostname);
    smtp.Int64("max_message_size", 1024, int64_t{1} << 40, &c.max_message_size);
    smtp.Int("max_recipients", 1, 1'000'000, &c.max_recipients);
    smtp.Int("max_line_length", 512, 1 << 20, &c.max_line_length);
    smtp.Int("max_bad_commands", 0, 1'000'000, &c.max_bad_commands);
    smtp.Int("max_connections", 1, 10'000'000, &c.max_connections);
    smtp.Int("max_connections_per_ip", 1, 10'000'000, &c.max_connections_per_ip);
    smtp.Duration("command_timeout", &c.command_timeout);
    smtp.StringList("relay_networks", &c.relay_networks, &CheckNetwork);
    smtp.StringList("bounce_domains", &c.bounce_domains, &CheckDomain);
    smtp.StringList("trusted_networks", &c.trusted_networks, &CheckNetwork);
    smtp.Bool("auth_on_loopback_without_tls", &c.auth_on_loopback_without_tls);
    smtp.Int("max_auth_failures_per_minute", 1, 1'000'000, &c.max_auth_failures_per_minute);
  });
  root.Table("tls", [&](TableBinder& tls) {
    tls.String("certificate", &config->tls.certificate);
    tls.String("private_key", &config->tls.private_key);
  });
  if (root.Has("users")) config->users.clear();  // the file's list replaces the default one
  root.TableArray("users", [&](TableBinder& user, size_t) {
    UserConfig& u = config->users.emplace_back();
    user.String("name", &u.name);
    user.String("password_hash", &u.password_hash);
  });
  root.Table("dns", [&](TableBinder& dns) { BindDns(dns, &config->dns); });
  root.Table("delivery", [&](TableBinder& delivery) { BindDelivery(delivery, &config->delivery); });
  root.Table("egress", [&](TableBinder& egress) {
    if (egress.Has("sources")) config->egress_sources.clear();
    egress.TableArray("sources", [&](TableBinder& source, size_t) {
      EgressSource& s = config->egress_sources.emplace_back();
      source.String("name", &s.name);
      source.Parsed("address", &s.address, &ParseAddress);
      source.String("ehlo", &s.ehlo);
      source.Int("max_connections", 0, 1'000'000, &s.max_connections);
    });
    if (egress.Has("pools")) config->egress_pools.clear();
    egress.TableArray("pools", [&](TableBinder& pool, size_t) {
      EgressPool& p = config->egress_pools.emplace_back();
      pool.String("name", &p.name);
      pool.StringList("sources", &p.sources);
      pool.StringList("tenants", &p.tenants);
    });
  });
  root.Table("events", [&](TableBinder& events) {
    events.String("path", &config->events.path);
    events.Int64("max_bytes", 4096, int64_t{1} << 40, &config->events.max_bytes);
    events.Int("max_files", 1, 1000, &config->events.max_files);
  });
  root.Table("metrics", [&](TableBinder& metrics) {
    metrics.Int("max_sites", 0, 10'000, &config->metrics.max_sites);
    metrics.Int("max_tenants", 0, 10'000, &config->metrics.max_tenants);
    metrics.Int64("promote_after", 1, int64_t{1} << 40, &config->metrics.promote_after);
  });
  if (root.Has("api_keys")) config->api_keys.clear();
  root.TableArray("api_keys", [&](TableBinder& key, size_t) {
    ApiKeyConfig& k = config->api_keys.emplace_back();
    key.String("name", &k.name);
    key.Parsed("token_sha256", &k.token_sha256, &ParseSha256Hex);
    key.StringList("scopes", &k.scopes, &CheckScope);
    key.Int64("rate_per_second", 0, 1'000'000'000, &k.rate_per_second);
    key.Int64("burst", 0, 1'000'000'000, &k.burst);
  });
  root.Table("dkim", [&](TableBinder& dkim) {
    DkimConfig& c = config->dkim;
    dkim.Int("workers", 1, 256, &c.workers);
    dkim.Int("queue", 1, 1'000'000, &c.queue);
    dkim.Duration("max_wait", &c.max_wait);
    if (dkim.Has("keys")) c.keys.clear();
    dkim.TableArray("keys", [&](TableBinder& key, size_t) {
      DkimKeyConfig& k = c.keys.emplace_back();
      key.Checked("domain", &k.domain, &CheckDomain);
      key.String("selector", &k.selector);
      key.String("key_file", &k.key_file);
      key.Checked("algorithm", &k.algorithm, &CheckDkimAlgorithm);
      key.StringList("from_domains", &k.from_domains, &CheckDomainPattern);
      key.StringList("tenants", &k.tenants);
      key.Checked("canonicalization", &k.canonicalization, &CheckCanonicalization);
      key.StringList("headers", &k.headers);
      key.Duration("expiration", &k.expiration);
      if (k.domain.empty() || k.selector.empty() || k.key_file.empty()) {
        key.Error("needs domain, selector and key_file");
      }
    });
  });
  root.Table("bounces", [&](TableBinder& bounces) {
    bounces.String("rules_file", &config->bounces.rules_file);
    bounces.String("verp_domain", &config->bounces.verp_domain);
    if (!config->bounces.verp_domain.empty()) {
      if (absl::Status domain = CheckDomain(config->bounces.verp_domain); !domain.ok()) {
        bounces.Error(absl::StrCat("verp_domain: ", domain.message()));
      }
    }
    bounces.String("verp_secret_file", &config->bounces.verp_secret_file);
    if (config->bounces.verp_domain.empty() != config->bounces.verp_secret_file.empty()) {
      bounces.Error("needs both verp_domain and verp_secret_file, or neither");
    }
    if (bounces.Has("verp_domains")) config->bounces.verp_domains.clear();
    bounces.TableArray("verp_domains", [&](TableBinder& entry, size_t) {
      BouncesConfig::VerpDomain& d = config->bounces.verp_domains.emplace_back();
      entry.String("tenant", &d.tenant);
      entry.String("pool", &d.pool);
      entry.Checked("domain", &d.domain, &CheckDomain);
      if (d.tenant.empty() == d.pool.empty()) entry.Error("needs a tenant or a pool (one of them)");
      if (d.domain.empty()) entry.Error("needs a domain");
    });
    if (!config->bounces.verp_domains.empty() && config->bounces.verp_domain.empty()) {
      bounces.Error("verp_domains needs VERP on (verp_domain and verp_secret_file)");
    }
  });
  root.Table("suppression", [&](TableBinder& suppression) {
    SuppressionConfig& c = config->suppression;
    // Category names are checked where the classifier is (server/daemon.cc).
    suppression.StringList("bounce_categories", &c.bounce_categories);
    suppression.Bool("complaints", &c.complaints);
    suppression.Bool("unsubscribes", &c.unsubscribes);
    suppression.Duration("bounce_expiry", &c.bounce_expiry);
    suppression.Duration("complaint_expiry", &c.complaint_expiry);
    suppression.Duration("unsubscribe_expiry", &c.unsubscribe_expiry);
    suppression.Choice("smtp", {"tenants", "everyone", "off"}, &c.smtp);
  });
  root.Table("unsubscribe", [&](TableBinder& unsubscribe) {
    UnsubscribeConfig& c = config->unsubscribe;
    unsubscribe.String("secret_file", &c.secret_file);
    unsubscribe.Checked("base_url", &c.base_url, &CheckHttpsBaseUrl);
    if (!c.secret_file.empty() && c.base_url.empty()) {
      unsubscribe.Error("secret_file needs base_url");
    }
  });
}

// Parses `text` and binds the keys it contains into *config.
absl::Status ApplyToml(absl::string_view text, absl::string_view source, Config* config) {
  return TableBinder::Bind(text, source, [config](TableBinder& root) { BindConfig(root, config); });
}

}  // namespace

std::string ListenAddress::ToString() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text) {
  auto invalid = [text](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid listen address '", text, "': ", why));
  };
  absl::string_view host;
  absl::string_view port_text;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) return invalid("missing ']'");
    host = text.substr(1, close - 1);
    const absl::string_view rest = text.substr(close + 1);
    if (!absl::StartsWith(rest, ":")) return invalid("expected ':port' after ']'");
    port_text = rest.substr(1);
    if (!IsAddress(AF_INET6, host)) {
      return invalid(absl::StrCat("'", host, "' is not a numeric IPv6 address"));
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return invalid("expected host:port");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != absl::string_view::npos) {
      return invalid("an IPv6 address must be in brackets, like [::1]:25");
    }
    if (!IsAddress(AF_INET, host)) {
      return invalid(absl::StrCat("host '", host, "' is not a numeric IPv4 address"));
    }
  }
  // At most 5 digits, so the value below cannot overflow.
  if (!AllDigits(port_text) || port_text.size() > 5) {
    return invalid("the port must be a number from 0 to 65535");
  }
  uint32_t port = 0;
  for (const char c : port_text) port = port * 10 + static_cast<uint32_t>(c - '0');
  if (port > 65535) return invalid("the port must be a number from 0 to 65535");
  return ListenAddress{std::string(host), static_cast<uint16_t>(port)};
}

absl::string_view DefaultConfigToml() { return kDefaultConfigToml; }

absl::StatusOr<Config> LoadConfig(absl::string_view toml_text, absl::string_view source_name) {
  Config config;
  const absl::Status defaults = ApplyToml(kDefaultConfigToml, "<defaults>", &config);
  if (!defaults.ok()) {
    // Only a broken build gets here; report it rather than run half-configured.
    return absl::InternalError(absl::StrCat("built-in defaults: ", defaults.message()));
  }
  SLUICE_RETURN_IF_ERROR(ApplyToml(toml_text, source_name, &config));
  return config;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read config file '", path, "'"));
  std::string contents;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return absl::ErrnoToStatus(error, absl::StrCat("cannot read config file '", path, "'"));
    }
    contents.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return LoadConfig(contents, path);
}

}  // namespace sluice::common
