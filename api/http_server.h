// HttpServer: the HTTP listener of one shard, serving the injection and
// admin API, /healthz, /readyz and /metrics over HTTP/1.1 and HTTP/2.
//
// Protocols: on a plaintext listener a connection that opens with the
// HTTP/2 client preface is HTTP/2 (h2c with prior knowledge; no Upgrade),
// any other is HTTP/1.1. With `tls` set every connection is TLS, and ALPN
// decides: "h2" is HTTP/2, anything else (or none) HTTP/1.1.
//
// HTTP/2 (api/http2_session.h): streams are independent; each request is
// handled as soon as it is complete and answered when its answer is ready,
// in any order, up to `max_concurrent_streams` at a time. A stream that
// broke a limit is answered 413/431 alone; a protocol error ends the
// connection with GOAWAY. A stream whose request is not complete within
// one to two `request_timeout`s is answered 408. Stopping sends GOAWAY
// once the answers owed have been given.
//
// HTTP/1.1 connections: keep-alive, with pipelined requests answered strictly in
// order. Requests are handled one at a time per connection: while one waits
// for the spool (or the injection worker), the requests behind it are
// parsed and held (reading pauses once `max_queued_requests` wait), and run
// after it, so their effects happen in the order sent. Limits come from
// Http1Session: a header section over limits.max_header_bytes gets 431, a
// body over limits.max_body_bytes 413, a malformed request 400; each is the
// last answer on its connection (after the answers owed to earlier
// requests). A request that has started arriving must be complete within
// `request_timeout` (408 and close: slow clients); a connection with
// nothing to do is closed after `idle_timeout`.
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
//   GET    /api/v1/sites           read: the live delivery queues (ready,
//                                  in flight, connections, window,
//                                  delivered per minute, last error)
//   GET    /healthz, /metrics      no authentication
//   GET    /readyz                 200 while the spool's writer accepts
//                                  writes, 503 otherwise or when stopping
// Filters are query parameters: site, domain, tenant, campaign, queue.
// "admin" also grants "read". Authentication: api/api_key_store.h.
//
// Large injection bodies (over `worker_threshold_bytes`) are parsed and
// composed on the HttpInjectionWorker, the result posted back here; the
// spool is fed at most `max_enqueues_in_flight` messages at a time per
// request, so 100,000 recipients never overrun its queue.
//
// Used only on its shard; satisfies Sharded<T>'s Stop contract (answers
// owed to clients are written before Stop's `done`).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/api_key_store.h"
#include "api/http1_session.h"
#include "api/http2_session.h"
#include "api/http_injection.h"
#include "api/http_injection_worker.h"
#include "api/http_target.h"
#include "api/injection_request.h"
#include "common/clock.h"
#include "common/log_limiter.h"
#include "common/message_id.h"
#include "common/metrics.h"
#include "engine/delivery_control.h"
#include "queue/spool.h"
#include "queue/spool_admin.h"
#include "reactor/reactor.h"
#include "reactor/tcp_connection.h"
#include "reactor/tcp_listener.h"
#include "tls/server_context.h"

namespace sluice::api {

// Any pointer may be null.
struct HttpServerMetrics {
  common::Counter* requests = nullptr;
  common::Counter* messages_accepted = nullptr;    // spooled and answered 200
  common::Counter* recipients_accepted = nullptr;  // recipients of those
  common::Counter* injections_failed = nullptr;    // spool errors (503)
  // Messages spooled (acknowledged), by the request's tenant.
  std::function<void(std::string_view tenant, uint64_t messages)> received;
};

struct HttpServerOptions {
  HttpLimits limits{.max_header_bytes = 64 << 10, .max_body_bytes = 64 << 20};
  absl::Duration idle_timeout = absl::Seconds(60);
  absl::Duration request_timeout = absl::Seconds(30);
  // HTTP/1.1: parsed requests waiting behind a slow one before reading
  // pauses.
  size_t max_queued_requests = 16;
  // HTTP/2: streams open at once per connection.
  uint32_t max_concurrent_streams = Http2Session::kDefaultMaxConcurrentStreams;
  // Set: every connection is TLS, its ALPN list ({"h2", "http/1.1"})
  // choosing the protocol.
  std::shared_ptr<const tls::ServerContext> tls;

  const common::MetricsRegistry* metrics = nullptr;  // GET /metrics
  HttpServerMetrics counters;
  // Injection and GET /api/v1/messages/{id}; without it those answer 503.
  queue::Spool* spool = nullptr;
  // Counts, retry and purge; without it those answer 503.
  queue::SpoolAdmin* operations = nullptr;
  // Suspend, resume, bounce and the live queues; without it those answer 503.
  engine::DeliveryControl* delivery = nullptr;
  // Who may call; null behaves like an empty store (loopback only).
  std::shared_ptr<const ApiKeyStore> keys;

  InjectionLimits injection;
  std::string hostname = "localhost";  // in generated Message-IDs
  // Bodies this large or larger are prepared on `worker` (when set).
  HttpInjectionWorker* worker = nullptr;
  size_t worker_threshold_bytes = 64 << 10;
  size_t max_enqueues_in_flight = 1024;
  // Runs a task on shard `shard` (how the worker's results come back).
  std::function<void(int shard, absl::AnyInvocable<void()> task)> post;
  const common::Clock* clock = common::Clock::Real();
};

class HttpServer final : public reactor::TcpConnection::Handler {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(reactor::Reactor& reactor,
                                                            int listen_fd, int shard,
                                                            HttpServerOptions options);
  ~HttpServer() override;

  void Stop(absl::AnyInvocable<void()> done);
  // New connections on a TLS listener use `context` (certificate rotation);
  // null, or a plaintext listener, ignores it.
  void SetTlsContext(std::shared_ptr<const tls::ServerContext> context);
  // Replaces the API keys (a configuration reload); requests from then on
  // are judged by `keys`. The rate state starts afresh with the new store.
  void SetKeys(std::shared_ptr<const ApiKeyStore> keys);

  void OnData(reactor::TcpConnection& conn, absl::string_view data) override;
  void OnPeerClosed(reactor::TcpConnection& conn) override;
  void OnClosed(reactor::TcpConnection& conn, const absl::Status& reason) override;

 private:
  struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    HttpHeaders headers;  // beyond Content-Type and Content-Length
    std::string reason;   // an error's message, for the log
  };
  struct Client;
  struct Exchange;
  struct InjectionJob;

  static Response Json(int status, std::string body);
  // Logs (rate-limited) an answer of 400 or above: listener, client,
  // request and reason.
  void LogRefusal(const Client& c, const Response& response, absl::string_view method = "",
                  absl::string_view path = "");
  static Response Text(int status, std::string body);
  // {"error":...} from a "field: problem" message.
  static Response Error(int status, absl::string_view message, HttpHeaders headers = {});

  HttpServer(reactor::Reactor& reactor, int shard, HttpServerOptions options);
  void Accept(reactor::TcpConnection* conn);
  Client* Find(uint64_t id);
  // Waiting for an asynchronous answer (nothing to time out).
  static bool Busy(const Client& c);
  void ArmIdleTimer(Client& c);
  void ArmRequestTimer(Client& c);
  void OnRequestTimeout(uint64_t id);
  // The first plaintext bytes (or the TLS handshake) tell the protocol.
  void StartProtocol(Client& c, bool http2);
  void OnPlaintext(Client& c, absl::string_view data);
  void OnHttp1Data(Client& c, absl::string_view data);
  void OnHttp2Data(Client& c, absl::string_view data);
  void PeerClosed(Client& c);
  // Bytes to the client (through TLS when on).
  void Send(Client& c, std::string bytes);
  // After the queued bytes (and a TLS close_notify), closes.
  void CloseClient(Client& c);
  // HTTP/1.1: runs queued requests until one goes asynchronous, then writes.
  void Drive(Client& c);
  // HTTP/2: writes what the session has, closes when it is done.
  void FlushHttp2(Client& c);
  // Handles one request as an exchange of `c` (`stream` 0 for HTTP/1.1).
  void Dispatch(Client& c, HttpRequest& request, int32_t stream);
  void Route(Exchange& x, HttpRequest& request);
  void Write(Exchange& x, Response response);
  void WriteHttp1(Client& c, const Response& response, bool keep_alive, bool head);
  // An asynchronous answer for exchange `id` has arrived.
  void Complete(uint64_t id, Response response);
  void BeginAsync(Exchange& x);

  bool Authorize(Exchange& x, const HttpRequest& request, uint32_t scopes);
  void Inject(Exchange& x, HttpRequest& request);
  void OnPrepared(uint64_t exchange, absl::StatusOr<PreparedInjection> prepared);
  void PumpJob(uint64_t job_id);
  void FinishJob(uint64_t job_id);
  void ReadMessage(Exchange& x, std::string_view id_text);
  void CountQueues(Exchange& x, const HttpTarget& target);
  void Retry(Exchange& x, const HttpTarget& target);
  void Purge(Exchange& x, const HttpTarget& target);
  void Bounce(Exchange& x, const HttpTarget& target);
  // The filter of an admin request, or nullopt after answering 400. A
  // non-empty `action` ("purge") refuses an empty filter.
  std::optional<queue::SpoolFilter> AdminFilter(Exchange& x, const HttpTarget& target,
                                                absl::string_view action,
                                                absl::string_view also_allowed = "");
  // Starts answering `x` asynchronously; the callback answers {"key":N},
  // or 503 with the error.
  absl::AnyInvocable<void(absl::StatusOr<uint64_t>)> CountAnswer(Exchange& x,
                                                                 absl::string_view key);
  void Suspend(Exchange& x, const HttpTarget& target, bool suspended);
  void Sites(Exchange& x);
  void Ready(Exchange& x);
  // GET /metrics: rendered on the worker when there is one, so a shard
  // never waits for the metrics registry's lock.
  void RenderMetrics(Exchange& x);
  void MaybeFinishStop();

  reactor::Reactor& reactor_;
  const int shard_;
  HttpServerOptions options_;
  reactor::TcpListener* listener_ = nullptr;
  InjectionRequestParser parser_;
  common::MessageIdGenerator ids_;
  common::LogLimiter refusal_log_{/*per_second=*/20, /*burst=*/100};
  absl::flat_hash_map<uint64_t, std::unique_ptr<Client>> clients_;
  absl::flat_hash_map<reactor::TcpConnection*, uint64_t> client_ids_;
  uint64_t next_client_id_ = 1;
  // Requests being answered, by id; an asynchronous one stays until its
  // answer arrives, even if its client has gone.
  absl::flat_hash_map<uint64_t, std::unique_ptr<Exchange>> exchanges_;
  uint64_t next_exchange_id_ = 1;
  absl::flat_hash_map<uint64_t, std::unique_ptr<InjectionJob>> jobs_;
  uint64_t next_job_id_ = 1;
  // Callbacks (spool, worker) that will still call back into this server.
  int pending_answers_ = 0;
  bool stopping_ = false;
  absl::AnyInvocable<void()> stop_done_;
};

}  // namespace sluice::api
