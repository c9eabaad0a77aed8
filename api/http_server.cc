#include "api/http_server.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/dashboard.h"
#include "api/grpc_health_watch.h"
#include "api/grpc_inject_stream.h"
#include "api/grpc_injection.h"
#include "api/grpc_reflection.h"
#include "api/http_json.h"
#include "api/proto/grpc/health/v1/health.pb.h"

namespace sluice::api {
namespace {

// An admin request (10,000 suppressions at most) fits in this.
constexpr size_t kMaxAdminRequestBytes = 8 << 20;

HttpInjectorOptions InjectorOptions(const HttpServerOptions& options) {
  HttpInjectorOptions out = options.injector;
  out.spool = options.spool;
  out.post = options.post;
  out.metrics = options.counters.injection;
  out.suppression = options.suppression;
  out.listener = options.transport.tls != nullptr ? "https" : "http";
  out.clock = options.clock;
  return out;
}

HttpTransportOptions TransportOptions(const HttpServerOptions& options) {
  HttpTransportOptions out = options.transport;
  out.requests = options.counters.requests;
  out.clock = options.clock;
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(reactor::Reactor& reactor,
                                                               int listen_fd, int shard,
                                                               HttpServerOptions options) {
  if (options.injector.worker != nullptr && !options.post) {
    return absl::InvalidArgumentError("an HTTP server with a worker needs `post`");
  }
  std::unique_ptr<HttpServer> server(new HttpServer(reactor, shard, std::move(options)));
  HttpServer* self = server.get();
  HttpStreaming streaming{
      .wants =
          [](const HttpRequest& request) {
            return request.method == "POST" &&
                   (request.target == kGrpcInjectStreamPath ||
                    request.target == kGrpcReflectionV1AlphaPath ||
                    request.target == kGrpcReflectionV1Path ||
                    request.target == kGrpcHealthWatchPath) &&
                   IsGrpcRequest(request);
          },
      .serve =
          [self](HttpRequest& request, bool loopback, HttpStreamWriter writer) {
            return self->ServeGrpcStream(request, loopback, writer);
          },
  };
  self->transport_ = std::make_unique<HttpTransport>(
      reactor, listen_fd, TransportOptions(self->options_),
      [self](HttpRequest& request, bool loopback, HttpReply reply) {
        self->Serve(request, loopback, std::move(reply));
      },
      std::move(streaming));
  self->SampleStats();
  return server;
}

HttpServer::HttpServer(reactor::Reactor& reactor, int shard, HttpServerOptions options)
    : reactor_(reactor),
      shard_(shard),
      options_(std::move(options)),
      admin_(options_.spool, options_.operations, options_.delivery),
      grpc_admin_(options_.spool, options_.operations, options_.delivery, options_.suppression,
                  options_.clock),
      suppressions_(options_.suppression, options_.clock),
      injector_(reactor, shard, InjectorOptions(options_)),
      unsubscribe_(options_.injector.unsubscribe, options_.record_event,
                   options_.counters.unsubscribes, options_.clock,
                   options_.unsubscribes_suppress ? options_.suppression : nullptr,
                   options_.unsubscribe_expiry),
      stats_(options_.stats, options_.stats_interval) {
  AddRoutes();
}

void HttpServer::Stop(absl::AnyInvocable<void()> done) {
  reactor_.CancelTimer(std::exchange(stats_timer_, reactor::TimerId{}));
  transport_->Stop(
      [this, done = std::move(done)]() mutable { injector_.WhenIdle(std::move(done)); });
}

void HttpServer::AddRoutes() {
  constexpr uint32_t kNone = 0;
  constexpr uint32_t kRead = kScopeRead | kScopeAdmin;
  HttpRoutes& r = routes_;
  for (const char* method : {"GET", "HEAD"}) {
    r.Add(method, "/healthz", kNone, [this](HttpCall& call) { Health(std::move(call.reply)); });
    r.Add(method, "/metrics", kNone,
          [this](HttpCall& call) { RenderMetrics(std::move(call.reply)); });
  }
  r.Add("GET", "/readyz", kNone,
        [this](HttpCall& call) { admin_.Ready(transport_->stopping(), std::move(call.reply)); });
  r.Add("POST", "/api/v1/messages", kScopeInject,
        [this](HttpCall& call) { injector_.Inject(call.request, std::move(call.reply)); });
  r.Add("DELETE", "/api/v1/messages", kScopeAdmin,
        [this](HttpCall& call) { admin_.Purge(call.target, std::move(call.reply)); });
  r.Add("GET", "/api/v1/messages/", kRead,
        [this](HttpCall& call) { admin_.ReadMessage(call.rest, std::move(call.reply)); });
  r.Add("GET", "/api/v1/queues", kRead,
        [this](HttpCall& call) { admin_.CountQueues(call.target, std::move(call.reply)); });
  r.Add("POST", "/api/v1/retry", kScopeAdmin,
        [this](HttpCall& call) { admin_.Retry(call.target, std::move(call.reply)); });
  r.Add("POST", "/api/v1/bounce", kScopeAdmin,
        [this](HttpCall& call) { admin_.Bounce(call.target, std::move(call.reply)); });
  r.Add("POST", "/api/v1/suspend", kScopeAdmin,
        [this](HttpCall& call) { admin_.Suspend(call.target, true, std::move(call.reply)); });
  r.Add("POST", "/api/v1/resume", kScopeAdmin,
        [this](HttpCall& call) { admin_.Suspend(call.target, false, std::move(call.reply)); });
  r.Add("GET", "/api/v1/messages", kRead,
        [this](HttpCall& call) { admin_.ListMessages(call.target, std::move(call.reply)); });
  r.Add("GET", "/api/v1/sites", kRead,
        [this](HttpCall& call) { admin_.Sites(call.target, std::move(call.reply)); });
  r.Add("GET", "/api/v1/failures", kRead,
        [this](HttpCall& call) { admin_.Failures(call.target, std::move(call.reply)); });
  r.Add("GET", "/api/v1/stats", kRead,
        [this](HttpCall& call) { Stats(call.target, std::move(call.reply)); });
  for (const char* method : {"GET", "HEAD"}) {
    // The pages carry no data: the API calls they make are authorized.
    r.Add(method, "/", kNone,
          [](HttpCall& call) { call.reply(DashboardResponse(call.target.path)); });
    r.Add(method, "/dashboard/", kNone,
          [](HttpCall& call) { call.reply(DashboardResponse(call.target.path)); });
  }
  r.Add("GET", "/api/v1/suppressions", kRead,
        [this](HttpCall& call) { suppressions_.List(call.target, std::move(call.reply)); });
  r.Add("POST", "/api/v1/suppressions", kScopeAdmin,
        [this](HttpCall& call) { suppressions_.Add(call.request, std::move(call.reply)); });
  r.Add("GET", "/api/v1/suppressions/check", kRead,
        [this](HttpCall& call) { suppressions_.Check(call.target, std::move(call.reply)); });
  r.Add("GET", "/api/v1/suppressions/export", kRead,
        [this](HttpCall& call) { suppressions_.Export(call.target, std::move(call.reply)); });
  r.Add("POST", "/api/v1/suppressions/import", kScopeAdmin, [this](HttpCall& call) {
    suppressions_.Import(call.request, call.target, std::move(call.reply));
  });
  r.Add("DELETE", "/api/v1/suppressions/", kScopeAdmin, [this](HttpCall& call) {
    suppressions_.Remove(call.rest, call.target, std::move(call.reply));
  });
  r.Add("POST", "/unsubscribe/", kNone, [this](HttpCall& call) {
    unsubscribe_.Post(call.rest, call.request, std::move(call.reply));
  });
  r.Add("GET", "/unsubscribe/", kNone,
        [this](HttpCall& call) { unsubscribe_.Confirm(call.rest, std::move(call.reply)); });
}

void HttpServer::Serve(HttpRequest& request, bool loopback, HttpReply reply) {
  if (IsGrpcRequest(request)) {
    ServeGrpc(request, loopback, std::move(reply));
    return;
  }
  absl::StatusOr<HttpTarget> target = HttpTarget::Parse(request.target);
  if (!target.ok()) {
    reply(HttpResponse::Error(400, target.status().message()));
    return;
  }
  const HttpRoutes::Match match = routes_.Find(request.method, target->path);
  if (match.status == 404) {
    reply(HttpResponse::Error(404, absl::StrCat("no such resource: ", target->path)));
    return;
  }
  if (match.status == 405) {
    reply(HttpResponse::Error(405, absl::StrCat("method ", request.method, " not allowed"),
                              {{"Allow", match.allow}}));
    return;
  }
  if (match.route->scopes != 0) {
    if (std::optional<HttpResponse> refusal = Refusal(request, loopback, match.route->scopes)) {
      reply(*std::move(refusal));
      return;
    }
  }
  HttpCall call{
      .request = request, .target = *target, .rest = match.rest, .reply = std::move(reply)};
  match.route->handler(call);
}

void HttpServer::ServeGrpc(HttpRequest& request, bool loopback, HttpReply reply) {
  if (!request.http2) {
    reply(HttpResponse::Error(415, "gRPC needs HTTP/2: h2c on the HTTP listener, h2 on HTTPS"));
    return;
  }
  if (request.method == "POST" && request.target == kGrpcHealthCheckPath) {
    GrpcHealthCheck(request, std::move(reply));
    return;
  }
  if (const uint32_t scopes = GrpcAdmin::ScopesOf(request.target);
      scopes != 0 && request.method == "POST") {
    ServeGrpcAdmin(request, loopback, scopes, std::move(reply));
    return;
  }
  if (request.method != "POST" || request.target != kGrpcInjectPath) {
    reply(GrpcStatusResponse(absl::UnimplementedError(
        absl::StrCat(request.method, " ", request.target, " is not a method sluice serves"))));
    return;
  }
  std::optional<std::string> message =
      UnaryCall(request, loopback, kScopeInject, options_.injector.limits.max_request_bytes, reply);
  if (!message.has_value()) return;
  sluice::v1::InjectRequest inject;
  if (!inject.ParseFromString(*message)) {
    reply(GrpcStatusResponse(absl::InvalidArgumentError("body: not a sluice.v1.InjectRequest")));
    return;
  }
  absl::StatusOr<std::string> json = InjectionJsonOf(inject);
  if (!json.ok()) {
    reply(GrpcStatusResponse(json.status()));
    return;
  }
  injector_.Inject(*std::move(json), GrpcInjectFormat(inject.request_id()), std::move(reply));
}

std::optional<std::string> HttpServer::UnaryCall(const HttpRequest& request, bool loopback,
                                                 uint32_t scopes, size_t max_bytes,
                                                 HttpReply& reply) {
  std::optional<absl::Duration> timeout;
  if (std::optional<HttpResponse> refused = CallRefused(request, loopback, scopes, &timeout)) {
    reply(*std::move(refused));
    return std::nullopt;
  }
  if (timeout.has_value()) reply = WithDeadline(*timeout, std::move(reply));
  absl::StatusOr<std::string> message = UnaryRequestMessage(request, max_bytes);
  if (!message.ok()) {
    reply(GrpcStatusResponse(message.status()));
    return std::nullopt;
  }
  return *std::move(message);
}

void HttpServer::ServeGrpcAdmin(HttpRequest& request, bool loopback, uint32_t scopes,
                                HttpReply reply) {
  std::optional<std::string> message =
      UnaryCall(request, loopback, scopes, kMaxAdminRequestBytes, reply);
  if (message.has_value()) grpc_admin_.Serve(request.target, *message, std::move(reply));
}

std::shared_ptr<HttpStreamHandler> HttpServer::ServeGrpcStream(HttpRequest& request, bool loopback,
                                                               HttpStreamWriter writer) {
  if (request.target == kGrpcHealthWatchPath) {  // no key, like Check and /readyz
    return GrpcHealthWatch::Start(
        writer, reactor_,
        [this](absl::AnyInvocable<void(bool)> done) {
          admin_.Ready(
              transport_->stopping(),
              [done = std::move(done)](HttpResponse ready) mutable { done(ready.status == 200); });
        },
        absl::Seconds(1));
  }
  // Reflection describes the published protos only: no key needed.
  if (request.target != kGrpcInjectStreamPath) return GrpcReflection::Start(writer);
  std::optional<absl::Duration> timeout;
  if (std::optional<HttpResponse> refused =
          CallRefused(request, loopback, kScopeInject, &timeout)) {
    writer.Start(200, "application/grpc");
    writer.Finish(refused->trailers);
    return nullptr;
  }
  const absl::string_view encoding = request.Header("grpc-encoding");
  std::shared_ptr<GrpcInjectStream> stream = GrpcInjectStream::Start(
      writer, std::string(encoding),
      [this](std::string json, InjectionFormat format, HttpReply reply) {
        injector_.Inject(std::move(json), std::move(format), std::move(reply));
      },
      {.max_message_bytes = options_.injector.limits.max_request_bytes});
  if (timeout.has_value()) {
    // A stream that ends first leaves the timer nothing to do.
    reactor_.RunAfter(*timeout, [weak = std::weak_ptr<GrpcInjectStream>(stream)] {
      if (std::shared_ptr<GrpcInjectStream> live = weak.lock()) live->Expire();
    });
  }
  return stream;
}

std::optional<HttpResponse> HttpServer::CallRefused(const HttpRequest& request, bool loopback,
                                                    uint32_t scopes,
                                                    std::optional<absl::Duration>* timeout) const {
  if (std::optional<HttpResponse> refusal = Refusal(request, loopback, scopes)) {
    return GrpcRefusal(*refusal);
  }
  absl::StatusOr<std::optional<absl::Duration>> deadline = GrpcTimeoutOf(request);
  if (!deadline.ok()) return GrpcStatusResponse(deadline.status());
  *timeout = *deadline;
  return std::nullopt;
}

HttpReply HttpServer::WithDeadline(absl::Duration timeout, HttpReply reply) {
  struct Pending {
    HttpReply reply;
    reactor::TimerId timer;
  };
  auto pending = std::make_shared<Pending>();
  pending->reply = std::move(reply);
  pending->timer = reactor_.RunAfter(timeout, [pending] {
    pending->timer = reactor::TimerId{};
    if (HttpReply late = std::exchange(pending->reply, nullptr)) {
      // What was under way goes on (and may still be stored): like any
      // deadline, the client cannot tell.
      late(GrpcStatusResponse(absl::DeadlineExceededError("the call's deadline passed")));
    }
  });
  return [pending, &reactor = reactor_](HttpResponse response) {
    reactor.CancelTimer(pending->timer);
    if (HttpReply answer = std::exchange(pending->reply, nullptr)) answer(std::move(response));
  };
}

void HttpServer::GrpcHealthCheck(HttpRequest& request, HttpReply reply) {
  absl::StatusOr<std::string> message = UnaryRequestMessage(request, 64 << 10);
  ::grpc::health::v1::HealthCheckRequest check;
  if (!message.ok() || !check.ParseFromString(*message)) {
    reply(GrpcStatusResponse(
        message.ok() ? absl::InvalidArgumentError("body: not a grpc.health.v1.HealthCheckRequest")
                     : message.status()));
    return;
  }
  if (!GrpcHealthWatch::Known(check.service())) {
    reply(GrpcStatusResponse(
        absl::NotFoundError(absl::StrCat("service ", check.service(), " is not served here"))));
    return;
  }
  // Serving exactly when /readyz says ready: not stopping, the spool writes.
  admin_.Ready(transport_->stopping(), [reply = std::move(reply)](HttpResponse ready) mutable {
    ::grpc::health::v1::HealthCheckResponse answer;
    answer.set_status(ready.status == 200 ? ::grpc::health::v1::HealthCheckResponse::SERVING
                                          : ::grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    reply(GrpcMessageResponse(answer.SerializeAsString()));
  });
}

std::optional<HttpResponse> HttpServer::Refusal(const HttpRequest& request, bool loopback,
                                                uint32_t scopes) const {
  static const ApiKeyStore* const kNoKeys = ApiKeyStore::Create({})->release();
  const ApiKeyStore& keys = options_.keys != nullptr ? *options_.keys : *kNoKeys;
  const absl::string_view header = request.Header("Authorization");
  const ApiAuthorization auth = keys.Authorize(std::string_view(header.data(), header.size()),
                                               loopback, scopes, options_.clock->Now());
  if (auth.status == 200) return std::nullopt;
  HttpResponse response = HttpResponse::Error(auth.status, auth.message);
  if (auth.status == 401)
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluice\"");
  if (auth.status == 429) {
    const int64_t seconds = std::max<int64_t>(
        1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(auth.retry_after))));
    response.headers.emplace_back("Retry-After", absl::StrCat(seconds));
  }
  return response;
}

void HttpServer::SampleStats() {
  stats_.Sample(options_.clock->Now());
  stats_timer_ = reactor_.RunAfter(stats_.interval(), [this] {
    stats_timer_ = reactor::TimerId{};
    SampleStats();
  });
}

void HttpServer::Stats(const HttpTarget& target, HttpReply reply) {
  absl::Time since = absl::InfinitePast();
  for (const auto& [name, value] : target.params) {
    int64_t unix_ms = 0;
    if (name != "since") {
      reply(HttpResponse::Error(400, absl::StrCat(name, ": unknown parameter (since)")));
      return;
    }
    if (!absl::SimpleAtoi(value, &unix_ms)) {
      reply(HttpResponse::Error(400, "since: must be milliseconds since the Unix epoch"));
      return;
    }
    since = absl::FromUnixMillis(unix_ms);
  }
  reply(HttpResponse::Json(200, stats_.Json(options_.clock->Now(), since)));
}

void HttpServer::Health(HttpReply reply) {
  const bool stopping = transport_->stopping();
  reply(HttpResponse::Text(stopping ? 503 : 200, stopping ? "stopping\n" : "ok\n"));
}

void HttpServer::RenderMetrics(HttpReply reply) {
  if (options_.metrics == nullptr) {
    reply(HttpResponse::Error(404, "no metrics"));
    return;
  }
  auto answer = [](std::string text) {
    HttpResponse response;
    response.body = std::move(text);
    response.content_type = "text/plain; version=0.0.4";
    return response;
  };
  // The reply waits in a shared slot: Run() may refuse the task, and then
  // it is rendered here.
  auto slot = std::make_shared<HttpReply>(std::move(reply));
  HttpInjectionWorker* worker = options_.injector.worker;
  const bool posted = worker != nullptr && worker->Run([slot, answer, metrics = options_.metrics,
                                                        post = options_.post, shard = shard_] {
    post(shard, [slot, answer, text = metrics->RenderPrometheus()]() mutable {
      (*slot)(answer(std::move(text)));
    });
  });
  if (posted) return;
  (*slot)(answer(options_.metrics->RenderPrometheus()));  // no worker, or it is full
}

}  // namespace sluice::api
