// HttpServer: the HTTP listener of one shard, serving the injection and
// admin API, /healthz, /readyz and /metrics over HTTP/1.1 and HTTP/2 (the
// connections: api/http_transport.h). It is the route table and
// authentication in front of the handlers: HttpInjector (injection) and
// HttpAdmin (everything else under /api/v1).
//
// Endpoints (JSON answers; errors as {"error":{"field","message"}}):
//   POST   /api/v1/messages        inject (api/injection_request.h); 200 only
//                                  after the spool's durable commit, with
//                                  accepted recipients and their message
//                                  ids, and rejected ones with reasons; 400
//                                  naming the field; 503 when the spool
//                                  cannot take it
//   GET    /api/v1/messages/{id}   read: the envelope, per-recipient state
//   GET    /api/v1/queues          read: counts grouped by ?group_by=domain
//                                  (site, tenant, campaign)
//   POST   /api/v1/retry           admin: make matching envelopes due now
//   DELETE /api/v1/messages        admin: purge matching envelopes (at least
//                                  one filter required)
//   POST   /api/v1/bounce          admin: bounce matching envelopes now, with
//                                  DSNs (?reason=...; a filter required)
//   POST   /api/v1/suspend         admin: stop delivering for one ?site=,
//   POST   /api/v1/resume                 ?domain=, ?tenant= or ?campaign=,
//                                         or restart
//   GET    /api/v1/messages        read: envelopes by filter, paged
//                                  (?limit=, ?after=ID)
//   GET    /api/v1/sites           read: the live delivery queues (ready,
//                                  in flight, connections, window,
//                                  delivered per minute, last error),
//                                  sorted, filtered and paged server-side
//                                  (api/site_query.h)
//   GET    /api/v1/failures        read: recent deferral and bounce
//                                  reasons grouped by site
//   GET    /api/v1/stats           read: totals, gauges and the last hour
//                                  of rates and latencies
//                                  (api/stats_history.h; ?since=UNIX_MS)
//   GET    /, /dashboard/...       the dashboard (api/dashboard.h): static
//                                  pages compiled in, no authentication;
//                                  the page calls the API with the key the
//                                  operator types in
//   /api/v1/suppressions...        the suppression list (api/suppression_admin.h):
//                                  read: list, check, export; admin: add,
//                                  remove, import
//   POST   /unsubscribe/{token}    one-click unsubscribe (RFC 8058; GET shows
//                                  a confirmation page): the token is the
//                                  authority (api/unsubscribe_handler.h)
//   GET    /healthz, /metrics      no authentication
//   GET    /readyz                 200 while the spool's writer accepts
//                                  writes, 503 otherwise or when stopping
// Filters are query parameters: site, domain, tenant, campaign, queue.
// "admin" also grants "read". Authentication: api/api_key_store.h.
//
// Injection (api/http_injector.h) prepares large bodies on the
// HttpInjectionWorker, signs every stored body when DKIM keys are set, and
// feeds the spool a bounded number of messages at a time per request.
//
// Used only on its shard; satisfies Sharded<T>'s Stop contract (answers
// owed to clients are written before Stop's `done`).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/api_key_store.h"
#include "api/dkim_signing_pool.h"
#include "api/grpc_admin.h"
#include "api/http1_session.h"
#include "api/http2_session.h"
#include "api/http_admin.h"
#include "api/http_injection_worker.h"
#include "api/http_injector.h"
#include "api/http_response.h"
#include "api/http_routes.h"
#include "api/http_transport.h"
#include "api/injection_request.h"
#include "api/stats_history.h"
#include "api/suppression_admin.h"
#include "api/unsubscribe_handler.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "engine/delivery_control.h"
#include "mail/dkim_keyring.h"
#include "queue/spool.h"
#include "queue/spool_admin.h"
#include "queue/suppression.h"
#include "reactor/reactor.h"
#include "tls/server_context.h"

namespace sluice::api {

// Any pointer may be null.
struct HttpServerMetrics {
  common::Counter* requests = nullptr;
  common::Counter* unsubscribes = nullptr;  // one-click unsubscribes recorded
  HttpInjectionMetrics injection;
};

struct HttpServerOptions {
  // Limits, timeouts and TLS of the connections. Its `requests` and
  // `clock` come from `counters` and `clock` below.
  HttpTransportOptions transport;
  // The injection handler: limits, hostname, worker, DKIM. Its spool,
  // post, metrics, listener name and clock come from the fields below.
  HttpInjectorOptions injector;

  const common::MetricsRegistry* metrics = nullptr;  // GET /metrics
  HttpServerMetrics counters;
  // GET /api/v1/stats: what it reads, and how often it keeps a point.
  StatsSources stats;
  absl::Duration stats_interval = absl::Seconds(5);
  // Injection and GET /api/v1/messages/{id}; without it those answer 503.
  queue::Spool* spool = nullptr;
  // Counts, retry and purge; without it those answer 503.
  queue::SpoolAdmin* operations = nullptr;
  // Suspend, resume, bounce and the live queues; without it those answer 503.
  engine::DeliveryControl* delivery = nullptr;
  // Checked at injection, served under /api/v1/suppressions, and fed by
  // one-click unsubscribes when `unsubscribes_suppress` (entries lasting
  // `unsubscribe_expiry`, zero: for ever); null: none of that.
  queue::SuppressionList* suppression = nullptr;
  bool unsubscribes_suppress = true;
  absl::Duration unsubscribe_expiry = absl::ZeroDuration();
  // Who may call; null behaves like an empty store (loopback only).
  std::shared_ptr<const ApiKeyStore> keys;
  // Runs a task on shard `shard` (how the worker's results come back).
  std::function<void(int shard, absl::AnyInvocable<void()> task)> post;
  // Where one-click unsubscribes (injector.unsubscribe's tokens) are
  // recorded: the event log.
  UnsubscribeHandler::Record record_event;
  const common::Clock* clock = common::Clock::Real();
};

class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(reactor::Reactor& reactor,
                                                            int listen_fd, int shard,
                                                            HttpServerOptions options);

  // Once every answer owed is written, and every injection has finished
  // (some answer early: a gRPC deadline).
  void Stop(absl::AnyInvocable<void()> done);
  // New connections on a TLS listener use `context` (certificate rotation);
  // null, or a plaintext listener, ignores it.
  void SetTlsContext(std::shared_ptr<const tls::ServerContext> context) {
    transport_->SetTlsContext(std::move(context));
  }
  // Replaces the API keys (a configuration reload); requests from then on
  // are judged by `keys`. The rate state starts afresh with the new store.
  void SetKeys(std::shared_ptr<const ApiKeyStore> keys) { options_.keys = std::move(keys); }
  // Replaces the DKIM keys for injections from now on.
  void SetDkim(std::shared_ptr<const mail::DkimKeyring> keyring) {
    injector_.SetDkim(std::move(keyring));
  }

 private:
  HttpServer(reactor::Reactor& reactor, int shard, HttpServerOptions options);
  void AddRoutes();
  void Serve(HttpRequest& request, bool loopback, HttpReply reply);
  // A unary gRPC call: sluice.v1.Injection/Inject (api/grpc_injection.h,
  // scope inject), sluice.v1.Admin's methods (api/grpc_admin.h, scopes
  // read or admin) and health checking; anything else is UNIMPLEMENTED.
  void ServeGrpc(HttpRequest& request, bool loopback, HttpReply reply);
  // A gRPC call's refusal (the caller lacks every one of `scopes`) or the
  // answer to a malformed grpc-timeout; nullopt to go on, with the call's
  // deadline in `timeout` when it has one.
  std::optional<HttpResponse> CallRefused(const HttpRequest& request, bool loopback,
                                          uint32_t scopes,
                                          std::optional<absl::Duration>* timeout) const;
  // A unary call's request message, once the caller has one of `scopes`;
  // nullopt after answering with the refusal or the error. With a
  // grpc-timeout, `reply` is replaced by one that keeps the deadline.
  std::optional<std::string> UnaryCall(const HttpRequest& request, bool loopback, uint32_t scopes,
                                       size_t max_bytes, HttpReply& reply);
  // A sluice.v1.Admin call that needs one of `scopes`.
  void ServeGrpcAdmin(HttpRequest& request, bool loopback, uint32_t scopes, HttpReply reply);
  // A streaming call at its headers: sluice.v1.Injection/InjectStream
  // (api/grpc_inject_stream.h) or server reflection (api/grpc_reflection.h,
  // no key needed). The stream's handler, or null when it was refused.
  std::shared_ptr<HttpStreamHandler> ServeGrpcStream(HttpRequest& request, bool loopback,
                                                     HttpStreamWriter writer);
  // grpc.health.v1.Health/Check (no key needed, like /readyz): SERVING
  // while ready, for the service "" and sluice's own (Watch, the stream
  // of it: api/grpc_health_watch.h).
  void GrpcHealthCheck(HttpRequest& request, HttpReply reply);
  // `reply`, answered DEADLINE_EXCEEDED if the real answer has not come
  // within `timeout` (which is then dropped).
  HttpReply WithDeadline(absl::Duration timeout, HttpReply reply);
  // The refusal (401, 403, 429) when the caller lacks every one of `scopes`.
  std::optional<HttpResponse> Refusal(const HttpRequest& request, bool loopback,
                                      uint32_t scopes) const;
  void Health(HttpReply reply);
  // GET /api/v1/stats[?since=UNIX_MS].
  void Stats(const HttpTarget& target, HttpReply reply);
  // Takes a stats point every options_.stats_interval until Stop.
  void SampleStats();
  // GET /metrics: rendered on the worker when there is one, so a shard
  // never waits for the metrics registry's lock.
  void RenderMetrics(HttpReply reply);

  reactor::Reactor& reactor_;
  const int shard_;
  HttpServerOptions options_;
  HttpAdmin admin_;
  GrpcAdmin grpc_admin_;
  SuppressionAdmin suppressions_;
  HttpInjector injector_;
  UnsubscribeHandler unsubscribe_;
  HttpRoutes routes_;
  StatsHistory stats_;
  reactor::TimerId stats_timer_;
  std::unique_ptr<HttpTransport> transport_;  // last: its connections use the rest
};

}  // namespace sluice::api
