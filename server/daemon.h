// Daemon: one running sluiced (shards, spool, delivery engines, listeners)
// built from a configuration.
//
// Start() brings the parts up in dependency order: shards, metrics, the
// delivery settings, the spool, the engines that read from it, then the
// HTTP and SMTP listeners. Stop() takes them down in the one order that
// loses nothing: listeners first (clients waiting for the spool still get
// their answers), then delivery (connections finish their message), then
// the spool (commits what is queued), the event log, and the shards. A
// failed Start() and the destructor run the same Stop(), over whatever had
// started. Reload() applies what may change while running.
//
// Main thread only: Start, Reload and Stop block until the shards have done
// their part.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "api/api_key_store.h"
#include "api/connection_limiter.h"
#include "api/dkim_signing_pool.h"
#include "api/http_injection_worker.h"
#include "api/http_server.h"
#include "api/smtp_server.h"
#include "api/user_authenticator.h"
#include "common/config.h"
#include "engine/delivery_engine.h"
#include "engine/delivery_policy.h"
#include "engine/delivery_service.h"
#include "engine/delivery_shared.h"
#include "engine/event_log.h"
#include "mail/bounce_classifier.h"
#include "mail/verp.h"
#include "queue/rocksdb_spool.h"
#include "reactor/shard_group.h"
#include "reactor/sharded.h"
#include "reactor/socket_address.h"
#include "server/daemon_metrics.h"

namespace sluice::server {

class Daemon {
 public:
  // Logs "sluiced started" with the bound addresses once everything runs.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(common::Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Log level, TLS certificate, API keys and DKIM keys from `config`; a part that fails
  // to load keeps its running version (logged). Settings that need a restart
  // are named in a warning.
  void Reload(common::Config config);
  // Idempotent.
  void Stop();

 private:
  explicit Daemon(common::Config config);
  absl::Status StartAll();
  absl::Status StartShards();
  absl::Status PrepareDelivery();
  absl::Status OpenSpool();
  absl::Status StartDelivery();
  // What outbound mail gets at ingest, for every listener: the DKIM keys,
  // the signing pool and the one-click unsubscribe secret.
  absl::Status StartSigning();
  absl::Status StartHttp();
  absl::Status StartSmtp();

  common::Config config_;
  bool stopped_ = false;
  // Declared first so that it is destroyed last: everything below lives on
  // its shards.
  std::unique_ptr<reactor::ShardGroup> group_;
  std::unique_ptr<DaemonMetrics> metrics_;
  std::unique_ptr<engine::DeliveryPolicy> delivery_policy_;
  std::unique_ptr<engine::EventLog> event_log_;
  engine::DeliveryShared delivery_shared_;
  // [bounces] rules_file; null: the shipped rules. Outlives delivery.
  std::unique_ptr<const mail::BounceClassifier> bounce_rules_;
  std::unique_ptr<const mail::Verp> verp_;  // null: VERP off
  std::unique_ptr<reactor::Sharded<engine::DeliveryEngine>> delivery_;
  std::unique_ptr<queue::RocksDbSpool> spool_;
  // The admin API's handle on delivery; outlives the HTTP servers.
  std::unique_ptr<engine::DeliveryService> delivery_service_;
  std::shared_ptr<const api::ApiKeyStore> api_keys_;
  std::unique_ptr<api::HttpInjectionWorker> http_worker_;
  std::unique_ptr<reactor::Sharded<api::HttpServer>> http_;
  std::unique_ptr<reactor::Sharded<api::HttpServer>> https_;
  std::unique_ptr<api::UserAuthenticator> authenticator_;
  std::shared_ptr<const mail::DkimKeyring> dkim_keys_;
  std::unique_ptr<api::DkimSigningPool> dkim_pool_;           // outlives the listeners
  std::shared_ptr<const api::UnsubscribeToken> unsubscribe_;  // null: off
  // By api::SmtpListenerKind: relay, submission, submissions.
  std::unique_ptr<api::ConnectionLimiter> limiters_[3];
  std::unique_ptr<reactor::Sharded<api::SmtpServer>> smtp_[3];
  reactor::SocketAddress http_address_;
  reactor::SocketAddress https_address_;
  reactor::SocketAddress smtp_addresses_[3];
};

}  // namespace sluice::server
