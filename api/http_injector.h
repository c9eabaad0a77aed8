// HttpInjector: POST /api/v1/messages without the transport. It prepares
// the request (parse, compose, build the spool's messages; on the
// HttpInjectionWorker when the body is large), DKIM-signs each stored body
// once on the DkimSigningPool when keys are configured, enqueues them and
// answers 200 only once the spool has durably committed each message (400
// naming the field, 503 when the spool cannot take any of it).
//
// Flow control: at most `max_in_flight` messages of one request are being
// signed or written at a time, so 100,000 recipients never overrun the
// spool's queue or the signing workers'. When every signing worker is
// full the request waits (retried every `dkim_retry`) for at most
// `dkim_wait`; messages it could not sign by then fail with their reason
// and nothing unsigned is stored.
//
// Suppression: before anything is signed or stored, the recipients are
// looked up on the suppression list (one lookup per request, off the
// shard); those on it move to "rejected" with the reason, and a request
// whose lookup fails answers 503 with nothing stored.
//
// Used on one shard; what the options point to must outlive the answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "api/dkim_signing_pool.h"
#include "api/http1_session.h"
#include "api/http_injection.h"
#include "api/http_injection_worker.h"
#include "api/http_response.h"
#include "api/injection_request.h"
#include "api/unsubscribe_token.h"
#include "common/clock.h"
#include "common/log_limiter.h"
#include "common/message_id.h"
#include "common/metrics.h"
#include "mail/dkim_keyring.h"
#include "queue/spool.h"
#include "queue/suppression.h"
#include "reactor/reactor.h"

namespace sluice::api {

// Any pointer may be null.
struct HttpInjectionMetrics {
  common::Counter* messages_accepted = nullptr;    // spooled and answered 200
  common::Counter* recipients_accepted = nullptr;  // recipients of those
  common::Counter* injections_failed = nullptr;    // spool or signing errors
  common::Counter* suppressed = nullptr;           // recipients refused as suppressed
  // Messages spooled (acknowledged), by the request's tenant.
  std::function<void(std::string_view tenant, uint64_t messages)> received;
};

struct HttpInjectorOptions {
  queue::Spool* spool = nullptr;  // null: injection answers 503
  InjectionLimits limits;
  std::string hostname = "localhost";  // in generated Message-IDs
  // Bodies this large or larger are prepared on `worker` (when set).
  HttpInjectionWorker* worker = nullptr;
  size_t worker_threshold_bytes = 64 << 10;
  size_t max_in_flight = 1024;
  // Runs a task on shard `shard` (how the worker's results come back).
  std::function<void(int shard, absl::AnyInvocable<void()> task)> post;
  // Signing: both set and the keyring not empty, or nothing is signed.
  DkimSigningPool* dkim_pool = nullptr;
  std::shared_ptr<const mail::DkimKeyring> dkim;
  absl::Duration dkim_retry = absl::Milliseconds(5);
  absl::Duration dkim_wait = absl::Seconds(30);
  // One-click unsubscribe (InjectionContext); null: refused.
  std::shared_ptr<const UnsubscribeToken> unsubscribe;
  std::string unsubscribe_base_url;
  // Every request's recipients are looked up here (in the request's tenant
  // scope and the global one) and the suppressed are rejected; null:
  // nothing is checked.
  queue::SuppressionList* suppression = nullptr;
  HttpInjectionMetrics metrics;
  std::string listener = "http";  // in the log
  const common::Clock* clock = common::Clock::Real();
};

// How an injection's outcome becomes the answer: the JSON of POST
// /api/v1/messages, or a gRPC response (api/grpc_injection.h).
struct InjectionFormat {
  // A request that stored nothing: InvalidArgument ("field: problem"),
  // Unavailable or ResourceExhausted (try again; `retry_after` when the
  // client should wait a moment), anything else an internal failure.
  std::function<HttpResponse(const absl::Status& error, bool retry_after)> error;
  // Some or all recipients accepted: `results[i]` is the answer for
  // prepared.messages[i].
  std::function<HttpResponse(const PreparedInjection& prepared,
                             const std::vector<absl::Status>& results)>
      accepted;

  static InjectionFormat Json();
};

class HttpInjector {
 public:
  HttpInjector(reactor::Reactor& reactor, int shard, HttpInjectorOptions options);
  ~HttpInjector();
  HttpInjector(const HttpInjector&) = delete;
  HttpInjector& operator=(const HttpInjector&) = delete;

  // Takes the request's body; answers through `reply` once, as JSON.
  void Inject(HttpRequest& request, HttpReply reply) {
    Inject(std::move(request.body), InjectionFormat::Json(), std::move(reply));
  }
  // The JSON of an injection request, answered in `format`.
  void Inject(std::string json, InjectionFormat format, HttpReply reply);
  // Keys for requests from now on (a configuration reload).
  void SetDkim(std::shared_ptr<const mail::DkimKeyring> keyring);
  // Runs `done` once no injection is under way (now, or when the last one
  // answers). An answer can go out before its injection has finished
  // with the injector (a gRPC deadline); a stop waits for this.
  void WhenIdle(absl::AnyInvocable<void()> done);

 private:
  struct Job;

  void OnPrepared(HttpReply reply, std::shared_ptr<const InjectionFormat> format,
                  absl::StatusOr<PreparedInjection> prepared);
  // The suppression list's answer for the job's accepted recipients.
  void OnLookedUp(uint64_t job_id,
                  absl::StatusOr<std::vector<std::optional<queue::SuppressionEntry>>> found);
  // Starts messages until `max_in_flight` are out, or the signing workers
  // are full (then tries again after `dkim_retry`).
  void Pump(uint64_t job_id);
  bool Sign(uint64_t job_id, size_t index);
  void Enqueue(uint64_t job_id, size_t index);
  void Answered(uint64_t job_id, size_t index, absl::Status status);
  void Finish(uint64_t job_id);

  reactor::Reactor& reactor_;
  const int shard_;
  HttpInjectorOptions options_;
  InjectionRequestParser parser_;
  common::MessageIdGenerator ids_;
  common::LogLimiter log_{/*per_second=*/20, /*burst=*/100};
  absl::flat_hash_map<uint64_t, std::unique_ptr<Job>> jobs_;
  uint64_t next_job_id_ = 1;
  size_t under_way_ = 0;  // injections not answered yet
  absl::AnyInvocable<void()> idle_;
};

}  // namespace sluice::api
