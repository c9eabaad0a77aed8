#include "server/daemon.h"

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "engine/delivery_connection.h"
#include "reactor/tcp_listener.h"
#include "server/daemon_options.h"
#include "tls/client_context.h"

namespace sluice::server {
namespace {

constexpr api::SmtpListenerKind kSmtpKinds[] = {api::SmtpListenerKind::kRelay,
                                                api::SmtpListenerKind::kSubmission,
                                                api::SmtpListenerKind::kSubmissions};

const common::ListenAddress& SmtpListen(const common::Config& config, api::SmtpListenerKind kind) {
  switch (kind) {
    case api::SmtpListenerKind::kRelay:
      return config.listen.relay;
    case api::SmtpListenerKind::kSubmission:
      return config.listen.submission;
    case api::SmtpListenerKind::kSubmissions:
      return config.listen.submissions;
  }
  return config.listen.relay;
}

// `status` with what failed in front of its message.
absl::Status Prefixed(const absl::Status& status, absl::string_view what) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

// Opens `listen` on every shard with SO_REUSEPORT and starts one T per shard
// with `create`; returns the bound address (which differs from the
// configured one for port 0).
template <typename T, typename Create>
absl::StatusOr<reactor::SocketAddress> StartListener(reactor::ShardGroup& group,
                                                     reactor::Sharded<T>& servers,
                                                     const common::ListenAddress& listen,
                                                     Create create) {
  SLUICE_ASSIGN_OR_RETURN(reactor::SocketAddress address,
                          reactor::SocketAddress::FromHostPort(listen.host, listen.port));
  SLUICE_ASSIGN_OR_RETURN(std::vector<int> fds,
                          reactor::TcpListener::OpenReusePort(address, group.size()));
  SLUICE_ASSIGN_OR_RETURN(reactor::SocketAddress bound, reactor::SocketAddress::LocalOf(fds[0]));
  SLUICE_RETURN_IF_ERROR(servers.Start([fds, create](int shard, reactor::Reactor& reactor) mutable {
    return create(shard, reactor, fds[shard]);
  }));
  return bound;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(common::Config config) {
  std::unique_ptr<Daemon> daemon(new Daemon(std::move(config)));
  if (absl::Status started = daemon->StartAll(); !started.ok()) {
    daemon->Stop();
    return started;
  }
  const common::Config& c = daemon->config_;
  SLUICE_LOG(kInfo, "sluiced started")
      .Field("shards", daemon->group_->size())
      .Field("http", daemon->http_address_.ToString())
      .Field("https", daemon->https_address_.ToString())
      .Field("relay", daemon->smtp_addresses_[0].ToString())
      .Field("submission", daemon->smtp_addresses_[1].ToString())
      .Field("submissions", daemon->smtp_addresses_[2].ToString())
      .Field("data_dir", c.server.data_dir);
  return daemon;
}

Daemon::Daemon(common::Config config) : config_(std::move(config)) {}

Daemon::~Daemon() { Stop(); }

absl::Status Daemon::StartAll() {
  std::error_code fs_error;
  std::filesystem::create_directories(config_.server.data_dir, fs_error);
  if (fs_error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create data folder ", config_.server.data_dir, ": ", fs_error.message()));
  }
  SLUICE_RETURN_IF_ERROR(StartShards());
  SLUICE_RETURN_IF_ERROR(PrepareDelivery());
  SLUICE_RETURN_IF_ERROR(OpenSpool());
  SLUICE_RETURN_IF_ERROR(StartDelivery());
  SLUICE_RETURN_IF_ERROR(StartSigning());
  if (absl::Status status = StartHttp(); !status.ok()) {
    return Prefixed(status, "cannot open the HTTP listeners");
  }
  if (absl::Status status = StartSmtp(); !status.ok()) {
    return Prefixed(status, "cannot open the SMTP listeners");
  }
  return absl::OkStatus();
}

absl::Status Daemon::StartShards() {
  reactor::ShardGroupOptions options;
  options.shards = ShardCount(config_);
  absl::StatusOr<std::unique_ptr<reactor::ShardGroup>> group = reactor::ShardGroup::Start(options);
  if (!group.ok()) return Prefixed(group.status(), "cannot start shards");
  group_ = *std::move(group);
  absl::StatusOr<std::unique_ptr<DaemonMetrics>> metrics =
      DaemonMetrics::Create(group_->size(), config_.metrics);
  if (!metrics.ok()) return Prefixed(metrics.status(), "cannot register metrics");
  metrics_ = *std::move(metrics);
  group_->StartLagProbes(metrics_->loop_lag(), absl::Milliseconds(100));
  delivery_ = std::make_unique<reactor::Sharded<engine::DeliveryEngine>>(*group_);
  http_ = std::make_unique<reactor::Sharded<api::HttpServer>>(*group_);
  https_ = std::make_unique<reactor::Sharded<api::HttpServer>>(*group_);
  for (auto& servers : smtp_)
    servers = std::make_unique<reactor::Sharded<api::SmtpServer>>(*group_);
  return absl::OkStatus();
}

// The settings every shard's engine shares. The engines start after the
// spool they read from, and the spool hands out due messages only once they
// run.
absl::Status Daemon::PrepareDelivery() {
  if (!config_.delivery.enabled) return absl::OkStatus();
  const std::string helo =
      config_.delivery.helo_name.empty() ? HostName(config_) : config_.delivery.helo_name;
  absl::StatusOr<engine::DeliveryPolicy> policy = engine::DeliveryPolicy::Create(config_, helo);
  if (!policy.ok()) return Prefixed(policy.status(), "cannot set up delivery");
  delivery_policy_ = std::make_unique<engine::DeliveryPolicy>(*std::move(policy));
  engine::DeliveryShared& shared = delivery_shared_;
  absl::StatusOr<dns::DnsConfig> dns = DnsSettings(config_.dns);
  if (!dns.ok()) return Prefixed(dns.status(), "cannot set up delivery");
  shared.dns = *std::move(dns);
  tls::ClientOptions tls_options;
  tls_options.ca_file = config_.delivery.tls_ca_file;
  absl::StatusOr<std::shared_ptr<tls::ClientContext>> tls = tls::ClientContext::Create(tls_options);
  if (!tls.ok()) return Prefixed(tls.status(), "cannot set up outbound TLS");
  shared.tls = *std::move(tls);
  absl::StatusOr<std::unique_ptr<engine::EventLog>> events =
      engine::EventLog::Open(EventLogSettings(config_));
  if (!events.ok()) return Prefixed(events.status(), "cannot open the event log");
  event_log_ = *std::move(events);
  shared.policy = delivery_policy_.get();
  shared.events = event_log_.get();
  shared.reporting_mta = HostName(config_);
  SLUICE_ASSIGN_OR_RETURN(bounce_rules_, BounceRules(config_));
  // The shipped rules compile here, at start, rather than on a shard at its
  // first failed delivery.
  shared.classifier =
      bounce_rules_ != nullptr ? bounce_rules_.get() : &mail::BounceClassifier::Builtin();
  SLUICE_ASSIGN_OR_RETURN(verp_, VerpCodec(config_));
  shared.verp = verp_.get();
  shared.verp_domain = absl::AsciiStrToLower(config_.bounces.verp_domain);
  for (const common::BouncesConfig::VerpDomain& d : config_.bounces.verp_domains) {
    const std::string domain = absl::AsciiStrToLower(d.domain);
    if (!d.tenant.empty()) {
      shared.verp_domain_by_tenant[d.tenant] = domain;
      shared.verp_tenant_by_domain[domain] = d.tenant;
    } else {
      shared.verp_domain_by_pool[d.pool] = domain;
    }
  }
  SLUICE_ASSIGN_OR_RETURN(shared.suppression, SuppressionFeedSettings(config_));
  shared.suppression.added_bounces = metrics_->suppression().added_bounces;
  shared.suppression.added_complaints = metrics_->suppression().added_complaints;
  shared.shards = group_->size();
  shared.metrics = metrics_->delivery();
  shared.post = [engines = delivery_.get()](
                    int shard, absl::AnyInvocable<void(engine::DeliveryEngine&)> task) {
    engines->InvokeOn(shard, std::move(task));
  };
  shared.connect = [](reactor::Reactor& reactor, engine::OutboundConnection::Params params,
                      engine::OutboundConnection::Owner* owner) {
    return engine::DeliveryConnection::Open(reactor, std::move(params), owner);
  };
  return absl::OkStatus();
}

// Completions go back to the shard that asked.
absl::Status Daemon::OpenSpool() {
  queue::RocksDbSpoolOptions options;
  const SpoolMetrics& metrics = metrics_->spool();
  options.commits_metric = metrics.commits;
  options.write_errors_metric = metrics.write_errors;
  options.batch_size_metric = metrics.batch_size;
  options.commit_seconds_metric = metrics.commit_seconds;
  options.suppression_entries_metric = metrics_->suppression().entries;
  options.path = (std::filesystem::path(config_.server.data_dir) / "spool").string();
  options.post = [group = group_.get()](int shard, absl::AnyInvocable<void()> task) {
    group->Post(shard, std::move(task));
  };
  options.schedule_on_open = false;
  if (config_.delivery.enabled) {
    options.due_sink = engine::DeliveryEngine::DueSink(*delivery_, group_->size());
  }
  absl::StatusOr<std::unique_ptr<queue::RocksDbSpool>> spool =
      queue::RocksDbSpool::Open(std::move(options));
  if (!spool.ok()) return Prefixed(spool.status(), "cannot open the spool");
  spool_ = *std::move(spool);
  return absl::OkStatus();
}

absl::Status Daemon::StartDelivery() {
  if (!config_.delivery.enabled) return absl::OkStatus();
  delivery_shared_.spool = spool_.get();
  delivery_shared_.suppression.list = spool_.get();
  absl::Status started = delivery_->Start([this](int shard, reactor::Reactor& reactor) {
    return engine::DeliveryEngine::Create(reactor, shard, &delivery_shared_);
  });
  if (!started.ok()) return Prefixed(started, "cannot start delivery");
  spool_->StartScheduling();
  delivery_service_ = std::make_unique<engine::DeliveryService>(*group_, *delivery_, spool_.get());
  return absl::OkStatus();
}

absl::Status Daemon::StartSigning() {
  absl::StatusOr<std::shared_ptr<const mail::DkimKeyring>> keys = DkimKeys(config_);
  if (!keys.ok()) return Prefixed(keys.status(), "cannot load the DKIM keys");
  absl::StatusOr<std::shared_ptr<const api::UnsubscribeToken>> tokens = UnsubscribeTokens(config_);
  if (!tokens.ok()) return Prefixed(tokens.status(), "cannot load the unsubscribe secret");
  unsubscribe_ = *std::move(tokens);
  dkim_keys_ = *std::move(keys);
  dkim_pool_ = std::make_unique<api::DkimSigningPool>(
      config_.dkim.workers, static_cast<size_t>(config_.dkim.queue), metrics_->dkim(),
      [group = group_.get()](int shard, absl::AnyInvocable<void()> task) {
        group->Post(shard, std::move(task));
      });
  if (!dkim_keys_->empty()) {
    SLUICE_LOG(kInfo, "dkim keys loaded").Field("keys", static_cast<int64_t>(dkim_keys_->size()));
  }
  return absl::OkStatus();
}

absl::Status Daemon::StartHttp() {
  SLUICE_ASSIGN_OR_RETURN(api_keys_, ApiKeys(config_));
  http_worker_ = std::make_unique<api::HttpInjectionWorker>(
      api::InjectionLimits{}, common::Clock::Real(), /*id_shard=*/255);
  api::HttpServerOptions options;
  options.metrics = &metrics_->registry();
  options.counters = metrics_->http();
  options.stats = metrics_->stats();
  options.spool = spool_.get();
  options.operations = spool_.get();
  options.keys = api_keys_;
  options.delivery = delivery_service_.get();
  options.suppression = spool_.get();
  options.unsubscribes_suppress = config_.suppression.unsubscribes;
  options.unsubscribe_expiry = config_.suppression.unsubscribe_expiry;
  options.injector.hostname = HostName(config_);
  options.injector.worker = http_worker_.get();
  options.injector.dkim = dkim_keys_;
  options.injector.dkim_pool = dkim_pool_.get();
  options.injector.dkim_wait = config_.dkim.max_wait;
  options.injector.unsubscribe = unsubscribe_;
  options.injector.unsubscribe_base_url = config_.unsubscribe.base_url;
  options.record_event = [events = event_log_.get()](std::string line) {
    return events != nullptr && events->LogLine(std::move(line));
  };
  options.post = [group = group_.get()](int shard, absl::AnyInvocable<void()> task) {
    group->Post(shard, std::move(task));
  };
  auto create = [](api::HttpServerOptions options) {
    return [options](int shard, reactor::Reactor& reactor, int fd) {
      return api::HttpServer::Create(reactor, fd, shard, options);
    };
  };
  SLUICE_ASSIGN_OR_RETURN(http_address_,
                          StartListener(*group_, *http_, config_.listen.http, create(options)));
  SLUICE_ASSIGN_OR_RETURN(options.transport.tls, TlsContext(config_, {"h2", "http/1.1"}));
  SLUICE_ASSIGN_OR_RETURN(https_address_,
                          StartListener(*group_, *https_, config_.listen.https, create(options)));
  return absl::OkStatus();
}

absl::Status Daemon::StartSmtp() {
  SLUICE_ASSIGN_OR_RETURN(api::SmtpServerOptions shared, SmtpOptions(config_));
  shared.spool = spool_.get();
  SLUICE_ASSIGN_OR_RETURN(shared.tls, TlsContext(config_));
  api::UserAuthenticator::Options auth_options;
  auth_options.users = config_.users;
  auth_options.max_failures_per_minute = config_.smtp.max_auth_failures_per_minute;
  auth_options.post = [group = group_.get()](int shard, absl::AnyInvocable<void()> task) {
    group->Post(shard, std::move(task));
  };
  SLUICE_ASSIGN_OR_RETURN(authenticator_, api::UserAuthenticator::Create(std::move(auth_options)));
  shared.authenticator = authenticator_.get();
  shared.dkim = dkim_keys_;
  shared.dkim_pool = dkim_pool_.get();
  shared.dkim_wait = config_.dkim.max_wait;
  shared.unsubscribe = unsubscribe_;
  shared.unsubscribe_base_url = config_.unsubscribe.base_url;
  if (config_.suppression.smtp != "off") shared.suppression = spool_.get();
  shared.suppression_for_everyone = config_.suppression.smtp == "everyone";
  for (api::SmtpListenerKind kind : kSmtpKinds) {
    const int i = static_cast<int>(kind);
    limiters_[i] = std::make_unique<api::ConnectionLimiter>(config_.smtp.max_connections,
                                                            config_.smtp.max_connections_per_ip);
    api::SmtpServerOptions options = shared;
    options.kind = kind;
    options.limiter = limiters_[i].get();
    options.metrics = metrics_->smtp(kind);
    SLUICE_ASSIGN_OR_RETURN(smtp_addresses_[i],
                            StartListener(*group_, *smtp_[i], SmtpListen(config_, kind),
                                          [options](int shard, reactor::Reactor& reactor, int fd) {
                                            return api::SmtpServer::Create(reactor, fd, shard,
                                                                           options);
                                          }));
  }
  return absl::OkStatus();
}

void Daemon::Reload(common::Config config) {
  common::SetLogLevel(config.log.level);
  if (config.server.shards != config_.server.shards ||
      config.server.data_dir != config_.server.data_dir) {
    SLUICE_LOG(kWarning, "server.shards and server.data_dir take effect only after a restart");
  }
  if (config.bounces.rules_file != config_.bounces.rules_file ||
      config.bounces.verp_domain != config_.bounces.verp_domain ||
      config.bounces.verp_secret_file != config_.bounces.verp_secret_file ||
      config.bounces.verp_domains != config_.bounces.verp_domains) {
    SLUICE_LOG(kWarning, "the [bounces] section takes effect only after a restart");
  }
  const common::SuppressionConfig& a = config.suppression;
  const common::SuppressionConfig& b = config_.suppression;
  if (a.bounce_categories != b.bounce_categories || a.complaints != b.complaints ||
      a.unsubscribes != b.unsubscribes || a.bounce_expiry != b.bounce_expiry ||
      a.complaint_expiry != b.complaint_expiry || a.unsubscribe_expiry != b.unsubscribe_expiry ||
      a.smtp != b.smtp) {
    SLUICE_LOG(kWarning, "the [suppression] section takes effect only after a restart");
  }
  if (config.unsubscribe.secret_file != config_.unsubscribe.secret_file ||
      config.unsubscribe.base_url != config_.unsubscribe.base_url) {
    SLUICE_LOG(kWarning, "the [unsubscribe] section takes effect only after a restart");
  }
  // New certificate files (or renewed ones at the same paths): new
  // connections get them, connections already in TLS keep theirs.
  if (absl::StatusOr<std::shared_ptr<const tls::ServerContext>> context = TlsContext(config);
      context.ok()) {
    for (auto& servers : smtp_) {
      servers->InvokeOnAll(
          [context = *context](api::SmtpServer& server) { server.SetTlsContext(context); });
    }
    if (auto h2 = TlsContext(config, {"h2", "http/1.1"}); h2.ok()) {
      https_->InvokeOnAll([h2 = *h2](api::HttpServer& server) { server.SetTlsContext(h2); });
    }
    SLUICE_LOG(kInfo, "tls certificate reloaded").Field("sha256", (*context)->certificate_sha256());
  } else {
    SLUICE_LOG(kError, "tls certificate reload failed; keeping the current one")
        .Field("error", context.status());
  }
  if (absl::StatusOr<std::shared_ptr<const api::ApiKeyStore>> keys = ApiKeys(config); keys.ok()) {
    for (auto* servers : {http_.get(), https_.get()}) {
      servers->InvokeOnAllAndWait([&keys](api::HttpServer& server) { server.SetKeys(*keys); });
    }
    SLUICE_LOG(kInfo, "api keys reloaded").Field("keys", (*keys)->size());
  } else {
    SLUICE_LOG(kError, "api keys reload failed; keeping the current ones")
        .Field("error", keys.status());
  }
  if (absl::StatusOr<std::shared_ptr<const mail::DkimKeyring>> keys = DkimKeys(config); keys.ok()) {
    dkim_keys_ = *keys;
    for (auto& servers : smtp_) {
      servers->InvokeOnAll([keys = *keys](api::SmtpServer& server) { server.SetDkim(keys); });
    }
    for (auto* servers : {http_.get(), https_.get()}) {
      servers->InvokeOnAll([keys = *keys](api::HttpServer& server) { server.SetDkim(keys); });
    }
    SLUICE_LOG(kInfo, "dkim keys reloaded").Field("keys", static_cast<int64_t>((*keys)->size()));
  } else {
    SLUICE_LOG(kError, "dkim keys reload failed; keeping the current ones")
        .Field("error", keys.status());
  }
  config_ = std::move(config);
  SLUICE_LOG(kInfo, "configuration reloaded");
}

void Daemon::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (int i = 2; i >= 0; --i) {
    if (smtp_[i] != nullptr) smtp_[i]->Stop();
  }
  if (https_ != nullptr) https_->Stop();
  if (http_ != nullptr) http_->Stop();
  if (delivery_ != nullptr) delivery_->Stop();
  spool_.reset();
  if (event_log_ != nullptr) {
    if (absl::Status closed = event_log_->Close(); !closed.ok()) {
      SLUICE_LOG(kError, "cannot close the event log").Field("error", closed);
    }
  }
  if (group_ != nullptr) group_->Stop();
}

}  // namespace sluice::server
