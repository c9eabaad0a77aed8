// sluiced: the sluice daemon.
//
// Starts one shard per CPU (or --shards), opens the configured listeners on
// every shard with SO_REUSEPORT, and then waits for signals on the main
// thread, which is not a shard and may block: SIGTERM or SIGINT drain and
// stop (exit 0); SIGHUP reloads the configuration file. Errors in the
// configuration or in opening a listener are reported on stderr and exit 1.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "api/api_key_store.h"
#include "api/connection_limiter.h"
#include "api/http_injection_worker.h"
#include "api/http_server.h"
#include "api/smtp_server.h"
#include "api/user_authenticator.h"
#include "common/bounded_labels.h"
#include "common/config.h"
#include "common/ip_network.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "dns/dns_config.h"
#include "dns/resolver.h"
#include "engine/delivery_connection.h"
#include "engine/delivery_engine.h"
#include "engine/delivery_policy.h"
#include "engine/delivery_service.h"
#include "engine/event_log.h"
#include "queue/rocksdb_spool.h"
#include "reactor/shard_group.h"
#include "reactor/sharded.h"
#include "reactor/socket_address.h"
#include "reactor/tcp_listener.h"
#include "tls/client_context.h"
#include "tls/self_signed.h"
#include "tls/server_context.h"

ABSL_FLAG(std::string, config, "",
          "TOML configuration file, layered over the embedded defaults "
          "(sluiced --print_default_config shows them)");
ABSL_FLAG(std::string, data_dir, "", "spool folder; overrides server.data_dir");
ABSL_FLAG(int, shards, -1, "shard threads; overrides server.shards (0: one per CPU)");
ABSL_FLAG(bool, print_default_config, false, "print the embedded default configuration and exit");

namespace sluice {
namespace {

using common::Config;

absl::StatusOr<Config> LoadConfiguration() {
  const std::string path = absl::GetFlag(FLAGS_config);
  SLUICE_ASSIGN_OR_RETURN(Config config, path.empty() ? common::LoadConfig("", "defaults")
                                                      : common::LoadConfigFile(path));
  if (const std::string dir = absl::GetFlag(FLAGS_data_dir); !dir.empty()) {
    config.server.data_dir = dir;
  }
  if (const int shards = absl::GetFlag(FLAGS_shards); shards >= 0) config.server.shards = shards;
  return config;
}

int ShardCount(const Config& config) {
  if (config.server.shards > 0) return config.server.shards;
  const unsigned cpus = std::thread::hardware_concurrency();
  return cpus == 0 ? 1 : static_cast<int>(cpus);
}

absl::StatusOr<reactor::SocketAddress> ToSocketAddress(const common::ListenAddress& listen) {
  return reactor::SocketAddress::FromHostPort(listen.host, listen.port);
}

// Applies the parts of a reloaded configuration that can change while
// running. Later features add their own (routes, limits, users, keys).
void ApplyReload(const Config& old_config, const Config& new_config) {
  common::SetLogLevel(new_config.log.level);
  if (new_config.server.shards != old_config.server.shards ||
      new_config.server.data_dir != old_config.server.data_dir) {
    SLUICE_LOG(kWarning, "server.shards and server.data_dir take effect only after a restart");
  }
}

std::string HostName(const Config& config) {
  if (!config.smtp.hostname.empty()) return config.smtp.hostname;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// The settings every SMTP listener shares, from the configuration.
absl::StatusOr<api::SmtpServerOptions> SmtpOptions(const Config& config, queue::Spool* spool) {
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
  options.spool = spool;
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

// Who may call the HTTP API, from [[api_keys]].
absl::StatusOr<std::shared_ptr<const api::ApiKeyStore>> ApiKeys(const Config& config) {
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

// The listeners' certificate: the configured files, or a self-signed one
// generated into <data_dir>/tls so the defaults work out of the box.
absl::StatusOr<std::shared_ptr<const tls::ServerContext>> TlsContext(
    const Config& config, std::vector<std::string> alpn = {}) {
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

// Opens `listen` on every shard and starts one T per shard with `create`;
// returns the bound address (which differs from the configured one for
// port 0).
template <typename T, typename Create>
absl::StatusOr<reactor::SocketAddress> StartListener(reactor::ShardGroup& group,
                                                     reactor::Sharded<T>& servers,
                                                     const common::ListenAddress& listen,
                                                     Create create) {
  SLUICE_ASSIGN_OR_RETURN(reactor::SocketAddress address, ToSocketAddress(listen));
  SLUICE_ASSIGN_OR_RETURN(std::vector<int> fds,
                          reactor::TcpListener::OpenReusePort(address, group.size()));
  SLUICE_ASSIGN_OR_RETURN(reactor::SocketAddress bound, reactor::SocketAddress::LocalOf(fds[0]));
  SLUICE_RETURN_IF_ERROR(servers.Start([fds, create](int shard, reactor::Reactor& reactor) mutable {
    return create(shard, reactor, fds[shard]);
  }));
  return bound;
}

int Run() {
  absl::StatusOr<Config> loaded = LoadConfiguration();
  if (!loaded.ok()) {
    fprintf(stderr, "sluiced: %s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }
  Config config = *std::move(loaded);
  common::SetLogLevel(config.log.level);
  common::StartAsyncLogging();

  std::error_code fs_error;
  std::filesystem::create_directories(config.server.data_dir, fs_error);
  if (fs_error) {
    SLUICE_LOG(kError, "cannot create data folder")
        .Field("data_dir", config.server.data_dir)
        .Field("error", fs_error.message());
    common::StopAsyncLogging();
    return 1;
  }

  reactor::ShardGroupOptions group_options;
  group_options.shards = ShardCount(config);
  absl::StatusOr<std::unique_ptr<reactor::ShardGroup>> group =
      reactor::ShardGroup::Start(group_options);
  if (!group.ok()) {
    SLUICE_LOG(kError, "cannot start shards").Field("error", group.status());
    common::StopAsyncLogging();
    return 1;
  }

  // Metrics, one cell per shard (plus one for other threads), rendered at
  // GET /metrics.
  common::MetricsRegistry metrics((*group)->size());
  absl::Status registered = absl::OkStatus();
  auto counter = [&](absl::string_view name, absl::string_view help,
                     common::MetricLabels labels = {}) -> common::Counter* {
    absl::StatusOr<common::Counter*> c = metrics.AddCounter(name, help, std::move(labels));
    if (!c.ok()) registered.Update(c.status());
    return c.ok() ? *c : nullptr;
  };
  auto histogram = [&](absl::string_view name, absl::string_view help,
                       std::vector<double> bounds) -> common::Histogram* {
    absl::StatusOr<common::Histogram*> h = metrics.AddHistogram(name, help, std::move(bounds));
    if (!h.ok()) registered.Update(h.status());
    return h.ok() ? *h : nullptr;
  };
  // Label values that are not ours to bound (sites, tenants): at most
  // [metrics] max_sites / max_tenants series each, the rest as "other".
  auto bounded = [&](std::string name, std::string help, std::string label, int max_values,
                     std::vector<common::MetricLabels> columns) {
    absl::StatusOr<std::unique_ptr<common::BoundedLabels>> b = common::BoundedLabels::Create(
        metrics, {.name = std::move(name),
                  .help = std::move(help),
                  .label = std::move(label),
                  .columns = std::move(columns),
                  .max_values = max_values,
                  .promote_after = static_cast<uint64_t>(config.metrics.promote_after)});
    if (!b.ok()) registered.Update(b.status());
    return b.ok() ? *std::move(b) : nullptr;
  };
  const std::vector<common::MetricLabels> result_columns = {{{"result", "delivered"}},
                                                            {{"result", "deferred"}},
                                                            {{"result", "bounced"}},
                                                            {{"result", "expired"}}};
  // Per shard: how late a timer due every 100 ms runs, i.e. how long work
  // waits behind whatever the loop is busy with.
  std::vector<common::Histogram*> loop_lag;
  for (int shard = 0; shard < (*group)->size(); ++shard) {
    absl::StatusOr<common::Histogram*> h = metrics.AddHistogram(
        "sluice_reactor_loop_lag_seconds",
        "How late a shard's 100 ms probe timer ran: time its loop was busy past a deadline.",
        {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1},
        {{"shard", std::to_string(shard)}});
    if (!h.ok()) registered.Update(h.status());
    loop_lag.push_back(h.ok() ? *h : nullptr);
  }
  (*group)->StartLagProbes(loop_lag, absl::Milliseconds(100));
  // Messages acknowledged (after the spool commit), by listener and tenant.
  std::unique_ptr<common::BoundedLabels> received =
      bounded("sluice_messages_received_total",
              "Messages acknowledged after spooling, by listener and tenant.", "tenant",
              config.metrics.max_tenants,
              {{{"listener", "relay"}},
               {{"listener", "submission"}},
               {{"listener", "submissions"}},
               {{"listener", "http"}}});
  auto count_received = [received = received.get()](int column) {
    return [received, column](std::string_view tenant, uint64_t messages) {
      if (received != nullptr) received->Add(column, tenant, messages);
    };
  };
  std::unique_ptr<common::BoundedLabels> delivery_by_site;
  std::unique_ptr<common::BoundedLabels> delivery_by_tenant;

  // Delivery: settings shared by every shard's engine. The engines start
  // after the spool they read from, and the spool hands out due messages
  // only once they run.
  engine::DeliveryShared delivery_shared;
  std::unique_ptr<engine::DeliveryPolicy> delivery_policy;
  std::unique_ptr<engine::EventLog> event_log;
  reactor::Sharded<engine::DeliveryEngine> delivery(**group);
  absl::Status delivery_ready = [&]() -> absl::Status {
    if (!config.delivery.enabled) return absl::OkStatus();
    const std::string helo =
        config.delivery.helo_name.empty() ? HostName(config) : config.delivery.helo_name;
    SLUICE_ASSIGN_OR_RETURN(engine::DeliveryPolicy policy,
                            engine::DeliveryPolicy::Create(config, helo));
    delivery_policy = std::make_unique<engine::DeliveryPolicy>(std::move(policy));
    SLUICE_ASSIGN_OR_RETURN(delivery_shared.dns, DnsSettings(config.dns));
    tls::ClientOptions tls_options;
    tls_options.ca_file = config.delivery.tls_ca_file;
    SLUICE_ASSIGN_OR_RETURN(delivery_shared.tls, tls::ClientContext::Create(tls_options));
    engine::EventLogOptions events;
    events.path = config.events.path.empty()
                      ? (std::filesystem::path(config.server.data_dir) / "events.jsonl").string()
                      : config.events.path;
    events.max_bytes = static_cast<uint64_t>(config.events.max_bytes);
    events.max_files = config.events.max_files;
    SLUICE_ASSIGN_OR_RETURN(event_log, engine::EventLog::Open(std::move(events)));
    delivery_shared.policy = delivery_policy.get();
    delivery_shared.events = event_log.get();
    delivery_shared.reporting_mta = HostName(config);
    delivery_shared.shards = (*group)->size();
    delivery_shared.post = [&delivery](int shard,
                                       absl::AnyInvocable<void(engine::DeliveryEngine&)> task) {
      delivery.InvokeOn(shard, std::move(task));
    };
    delivery_shared.connect = [](reactor::Reactor& reactor,
                                 engine::OutboundConnection::Params params,
                                 engine::OutboundConnection::Owner* owner) {
      return engine::DeliveryConnection::Open(reactor, std::move(params), owner);
    };
    engine::DeliveryMetrics& m = delivery_shared.metrics;
    auto outcome = [&](absl::string_view result) {
      return counter("sluice_delivery_recipients_total",
                     "Recipients by the result of their delivery attempt.",
                     common::MetricLabels{{"result", std::string(result)}});
    };
    m.delivered = outcome("delivered");
    m.deferred = outcome("deferred");
    m.bounced = outcome("bounced");
    m.expired = outcome("expired");
    m.dsns = counter("sluice_dsn_generated_total", "Delivery status notifications generated.");
    m.connections = counter("sluice_delivery_connections_total", "Outbound connections opened.");
    m.connection_failures =
        counter("sluice_delivery_connection_failures_total", "Outbound connections that failed.");
    m.tls_connections =
        counter("sluice_delivery_tls_connections_total", "Outbound connections that used TLS.");
    m.throttled =
        counter("sluice_delivery_throttled_total", "Throttling replies that slowed a site down.");
    auto gauge = [&](absl::string_view name, absl::string_view help) -> common::Gauge* {
      absl::StatusOr<common::Gauge*> g = metrics.AddGauge(name, help, {});
      if (!g.ok()) registered.Update(g.status());
      return g.ok() ? *g : nullptr;
    };
    m.scheduled = gauge("sluice_delivery_scheduled_messages",
                        "Messages held in memory until their due time.");
    m.ready = gauge("sluice_delivery_ready_messages", "Messages waiting for a connection.");
    m.open_connections = gauge("sluice_delivery_connections_open", "Outbound connections open.");
    delivery_by_site = bounded("sluice_delivery_site_recipients_total",
                               "Recipients by the result of their delivery attempt and site.",
                               "site", config.metrics.max_sites, result_columns);
    delivery_by_tenant = bounded("sluice_delivery_tenant_recipients_total",
                                 "Recipients by the result of their delivery attempt and tenant.",
                                 "tenant", config.metrics.max_tenants, result_columns);
    m.by_site = delivery_by_site.get();
    m.by_tenant = delivery_by_tenant.get();
    if (absl::StatusOr<dns::ResolverMetrics> dns = dns::RegisterResolverMetrics(metrics);
        dns.ok()) {
      m.dns = *dns;
    } else {
      registered.Update(dns.status());
    }
    return registered;
  }();
  if (!delivery_ready.ok()) {
    SLUICE_LOG(kError, "cannot set up delivery").Field("error", delivery_ready);
    (*group)->Stop();
    common::StopAsyncLogging();
    return 1;
  }

  // The spool: completions go back to the shard that asked.
  queue::RocksDbSpoolOptions spool_options;
  spool_options.commits_metric =
      counter("sluice_spool_commits_total", "Synced spool writes (group commits).");
  spool_options.write_errors_metric =
      counter("sluice_spool_write_errors_total", "Spool writes that failed (disk full, I/O).");
  spool_options.batch_size_metric =
      histogram("sluice_spool_commit_batch_requests", "Requests per synced spool write.",
                {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
  spool_options.commit_seconds_metric =
      histogram("sluice_spool_commit_seconds", "Time of one synced spool write.",
                {0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1});
  spool_options.path = (std::filesystem::path(config.server.data_dir) / "spool").string();
  spool_options.post = [group = group->get()](int shard, absl::AnyInvocable<void()> task) {
    group->Post(shard, std::move(task));
  };
  spool_options.schedule_on_open = false;
  if (config.delivery.enabled) {
    spool_options.due_sink = [&delivery,
                              shards = (*group)->size()](std::vector<queue::ScheduledMessage> due) {
      // Each domain is scheduled and routed on its own shard.
      std::vector<std::vector<queue::ScheduledMessage>> by_shard =
          engine::Scheduler::ByDomainShard(std::move(due), shards);
      for (int shard = 0; shard < shards; ++shard) {
        if (by_shard[shard].empty()) continue;
        delivery.InvokeOn(
            shard, [batch = std::move(by_shard[shard])](engine::DeliveryEngine& engine) mutable {
              engine.AddScheduled(std::move(batch));
            });
      }
    };
  }
  absl::StatusOr<std::unique_ptr<queue::RocksDbSpool>> spool =
      queue::RocksDbSpool::Open(std::move(spool_options));
  if (!spool.ok()) {
    SLUICE_LOG(kError, "cannot open the spool").Field("error", spool.status());
    (*group)->Stop();
    common::StopAsyncLogging();
    return 1;
  }

  if (config.delivery.enabled) {
    delivery_shared.spool = spool->get();
    absl::Status delivery_started =
        delivery.Start([&delivery_shared](int shard, reactor::Reactor& reactor) {
          return engine::DeliveryEngine::Create(reactor, shard, &delivery_shared);
        });
    if (!delivery_started.ok()) {
      SLUICE_LOG(kError, "cannot start delivery").Field("error", delivery_started);
      spool->reset();
      (*group)->Stop();
      common::StopAsyncLogging();
      return 1;
    }
    (*spool)->StartScheduling();
  }
  // The admin API's handle on delivery; outlives the HTTP servers.
  std::unique_ptr<engine::DeliveryService> delivery_service;
  if (config.delivery.enabled) {
    delivery_service = std::make_unique<engine::DeliveryService>(**group, delivery, spool->get());
  }

  // Before `http`, so they outlive its servers.
  std::shared_ptr<const api::ApiKeyStore> api_keys;
  api::HttpInjectionWorker http_worker(api::InjectionLimits{}, common::Clock::Real(),
                                       /*id_shard=*/255);
  reactor::Sharded<api::HttpServer> http(**group);
  reactor::Sharded<api::HttpServer> https(**group);
  reactor::Sharded<api::SmtpServer> relay(**group);
  reactor::Sharded<api::SmtpServer> submission(**group);
  reactor::Sharded<api::SmtpServer> submissions(**group);
  std::unique_ptr<api::ConnectionLimiter> limiters[3];
  std::unique_ptr<api::UserAuthenticator> authenticator;
  reactor::SocketAddress http_address;
  reactor::SocketAddress https_address;
  reactor::SocketAddress relay_address;
  reactor::SocketAddress submission_address;
  reactor::SocketAddress submissions_address;
  absl::Status started = [&]() -> absl::Status {
    SLUICE_ASSIGN_OR_RETURN(api_keys, ApiKeys(config));
    api::HttpServerOptions http_options;
    http_options.metrics = &metrics;
    http_options.counters.requests = counter("sluice_http_requests_total", "HTTP requests.");
    http_options.counters.messages_accepted = counter("sluice_http_messages_accepted_total",
                                                      "Messages spooled by POST /api/v1/messages.");
    http_options.counters.recipients_accepted = counter(
        "sluice_http_recipients_accepted_total", "Recipients spooled by POST /api/v1/messages.");
    http_options.counters.injections_failed = counter("sluice_http_injections_failed_total",
                                                      "Injection requests the spool failed (503).");
    http_options.counters.received = count_received(3);
    SLUICE_RETURN_IF_ERROR(registered);
    http_options.spool = spool->get();
    http_options.operations = spool->get();
    http_options.keys = api_keys;
    http_options.delivery = delivery_service.get();
    http_options.hostname = HostName(config);
    http_options.worker = &http_worker;
    http_options.post = [group = group->get()](int shard, absl::AnyInvocable<void()> task) {
      group->Post(shard, std::move(task));
    };
    SLUICE_ASSIGN_OR_RETURN(
        http_address, StartListener(**group, http, config.listen.http,
                                    [&http_options](int shard, reactor::Reactor& reactor, int fd) {
                                      return api::HttpServer::Create(reactor, fd, shard,
                                                                     http_options);
                                    }));
    api::HttpServerOptions https_options = http_options;
    SLUICE_ASSIGN_OR_RETURN(https_options.tls, TlsContext(config, {"h2", "http/1.1"}));
    SLUICE_ASSIGN_OR_RETURN(
        https_address, StartListener(**group, https, config.listen.https,
                                     [https_options](int shard, reactor::Reactor& reactor, int fd) {
                                       return api::HttpServer::Create(reactor, fd, shard,
                                                                      https_options);
                                     }));
    SLUICE_ASSIGN_OR_RETURN(api::SmtpServerOptions smtp, SmtpOptions(config, spool->get()));
    SLUICE_ASSIGN_OR_RETURN(smtp.tls, TlsContext(config));
    api::UserAuthenticator::Options auth_options;
    auth_options.users = config.users;
    auth_options.max_failures_per_minute = config.smtp.max_auth_failures_per_minute;
    auth_options.post = [group = group->get()](int shard, absl::AnyInvocable<void()> task) {
      group->Post(shard, std::move(task));
    };
    SLUICE_ASSIGN_OR_RETURN(authenticator, api::UserAuthenticator::Create(std::move(auth_options)));
    smtp.authenticator = authenticator.get();
    struct Listener {
      api::SmtpListenerKind kind;
      reactor::Sharded<api::SmtpServer>* servers;
      const common::ListenAddress* address;
      reactor::SocketAddress* bound;
    };
    const Listener listeners[] = {
        {api::SmtpListenerKind::kRelay, &relay, &config.listen.relay, &relay_address},
        {api::SmtpListenerKind::kSubmission, &submission, &config.listen.submission,
         &submission_address},
        {api::SmtpListenerKind::kSubmissions, &submissions, &config.listen.submissions,
         &submissions_address},
    };
    for (int i = 0; i < 3; ++i) {
      const Listener& listener = listeners[i];
      const std::string name(api::SmtpListenerName(listener.kind));
      const common::MetricLabels label = {{"listener", name}};
      api::SmtpListenerMetrics listener_metrics;
      listener_metrics.connections =
          counter("sluice_smtp_connections_total", "SMTP connections accepted.", label);
      listener_metrics.connections_refused =
          counter("sluice_smtp_connections_refused_total", "SMTP connections over a limit.", label);
      absl::StatusOr<common::Gauge*> open =
          metrics.AddGauge("sluice_smtp_connections_open", "SMTP connections open now.", label);
      SLUICE_RETURN_IF_ERROR(open.status());
      listener_metrics.connections_open = *open;
      listener_metrics.messages_accepted = counter("sluice_smtp_messages_accepted_total",
                                                   "Messages acknowledged after spooling.", label);
      listener_metrics.messages_failed = counter(
          "sluice_smtp_messages_failed_total", "Messages refused because the spool failed.", label);
      listener_metrics.bytes_accepted =
          counter("sluice_smtp_bytes_accepted_total", "Bytes of acknowledged messages.", label);
      listener_metrics.tls_sessions =
          counter("sluice_smtp_tls_sessions_total", "SMTP TLS handshakes completed.", label);
      listener_metrics.refused_temporary =
          counter("sluice_smtp_refusals_total", "SMTP replies refusing something, by class.",
                  {{"listener", name}, {"class", "4xx"}});
      listener_metrics.refused_permanent =
          counter("sluice_smtp_refusals_total", "SMTP replies refusing something, by class.",
                  {{"listener", name}, {"class", "5xx"}});
      listener_metrics.received = count_received(i);
      SLUICE_RETURN_IF_ERROR(registered);
      limiters[i] = std::make_unique<api::ConnectionLimiter>(config.smtp.max_connections,
                                                             config.smtp.max_connections_per_ip);
      api::SmtpServerOptions options = smtp;
      options.kind = listener.kind;
      options.limiter = limiters[i].get();
      options.metrics = listener_metrics;
      SLUICE_ASSIGN_OR_RETURN(
          *listener.bound, StartListener(**group, *listener.servers, *listener.address,
                                         [options](int shard, reactor::Reactor& reactor, int fd) {
                                           return api::SmtpServer::Create(reactor, fd, shard,
                                                                          options);
                                         }));
    }
    return absl::OkStatus();
  }();
  if (!started.ok()) {
    SLUICE_LOG(kError, "cannot open the listeners").Field("error", started);
    submissions.Stop();
    submission.Stop();
    relay.Stop();
    https.Stop();
    http.Stop();
    delivery.Stop();
    spool->reset();
    (*group)->Stop();
    common::StopAsyncLogging();
    return 1;
  }
  SLUICE_LOG(kInfo, "sluiced started")
      .Field("shards", (*group)->size())
      .Field("http", http_address.ToString())
      .Field("https", https_address.ToString())
      .Field("relay", relay_address.ToString())
      .Field("submission", submission_address.ToString())
      .Field("submissions", submissions_address.ToString())
      .Field("data_dir", config.server.data_dir);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  while (true) {
    siginfo_t info;
    if (sigwaitinfo(&signals, &info) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (info.si_signo != SIGHUP) {
      SLUICE_LOG(kInfo, "stopping").Field("signal", strsignal(info.si_signo));
      break;
    }
    absl::StatusOr<Config> reloaded = LoadConfiguration();
    if (!reloaded.ok()) {
      SLUICE_LOG(kError, "configuration reload failed; keeping the running configuration")
          .Field("error", reloaded.status());
      continue;
    }
    ApplyReload(config, *reloaded);
    // New certificate files (or renewed ones at the same paths): new
    // connections get them, connections already in TLS keep theirs.
    if (absl::StatusOr<std::shared_ptr<const tls::ServerContext>> context = TlsContext(*reloaded);
        context.ok()) {
      for (reactor::Sharded<api::SmtpServer>* servers : {&relay, &submission, &submissions}) {
        servers->InvokeOnAll(
            [context = *context](api::SmtpServer& server) { server.SetTlsContext(context); });
      }
      if (auto h2 = TlsContext(*reloaded, {"h2", "http/1.1"}); h2.ok()) {
        https.InvokeOnAll([h2 = *h2](api::HttpServer& server) { server.SetTlsContext(h2); });
      }
      SLUICE_LOG(kInfo, "tls certificate reloaded")
          .Field("sha256", (*context)->certificate_sha256());
    } else {
      SLUICE_LOG(kError, "tls certificate reload failed; keeping the current one")
          .Field("error", context.status());
    }
    if (absl::StatusOr<std::shared_ptr<const api::ApiKeyStore>> keys = ApiKeys(*reloaded);
        keys.ok()) {
      for (reactor::Sharded<api::HttpServer>* servers : {&http, &https}) {
        servers->InvokeOnAllAndWait([&keys](api::HttpServer& server) { server.SetKeys(*keys); });
      }
      SLUICE_LOG(kInfo, "api keys reloaded").Field("keys", (*keys)->size());
    } else {
      SLUICE_LOG(kError, "api keys reload failed; keeping the current ones")
          .Field("error", keys.status());
    }
    config = *std::move(reloaded);
    SLUICE_LOG(kInfo, "configuration reloaded");
  }

  // Listeners first (clients waiting for the spool get their answers),
  // then delivery (connections finish their message), then the spool
  // (commits what is queued), then the shards.
  submissions.Stop();
  submission.Stop();
  relay.Stop();
  https.Stop();
  http.Stop();
  delivery.Stop();
  spool->reset();
  if (event_log != nullptr) {
    if (absl::Status closed = event_log->Close(); !closed.ok()) {
      SLUICE_LOG(kError, "cannot close the event log").Field("error", closed);
    }
  }
  (*group)->Stop();
  SLUICE_LOG(kInfo, "sluiced stopped");
  common::StopAsyncLogging();
  return 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("sluiced: the sluice mail engine. Flags override the config file.");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_print_default_config)) {
    const absl::string_view defaults = sluice::common::DefaultConfigToml();
    fwrite(defaults.data(), 1, defaults.size(), stdout);
    return 0;
  }
  // Every thread inherits this mask, so the signals reach only the main
  // thread's sigwaitinfo and never interrupt a shard.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return sluice::Run();
}
