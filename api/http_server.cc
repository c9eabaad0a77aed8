#include "api/http_server.h"

#include <netinet/in.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/http_json.h"
#include "common/logging.h"
#include "queue/spool_keys.h"

namespace sluice::api {
namespace {

// A different id stream from the SMTP listeners and delivery on the same
// shard (common/message_id.h).
constexpr uint16_t kIdStream = 8;

constexpr absl::string_view kMessagesPath = "/api/v1/messages";

void Add(common::Counter* counter, uint64_t n = 1) {
  if (counter != nullptr) counter->Add(n);
}

bool IsLoopback(const reactor::SocketAddress& address) {
  const sockaddr* sa = address.sockaddr_ptr();
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

std::string_view StateName(queue::proto::RecipientState state) {
  switch (state) {
    case queue::proto::PENDING:
      return "pending";
    case queue::proto::DEFERRED:
      return "deferred";
    case queue::proto::DELIVERED:
      return "delivered";
    case queue::proto::BOUNCED:
      return "bounced";
    case queue::proto::EXPIRED:
      return "expired";
    default:
      return "unspecified";
  }
}

std::string EnvelopeJson(const queue::Envelope& envelope) {
  std::string out = "{\"id\":";
  const absl::StatusOr<common::MessageId> id = queue::ParseIdKey(envelope.id());
  const absl::StatusOr<common::MessageId> body_id = queue::ParseIdKey(envelope.body_id());
  AppendJsonString(&out, id.ok() ? id->ToString() : "");
  out.append(",\"body_id\":");
  AppendJsonString(&out, body_id.ok() ? body_id->ToString() : "");
  out.append(",\"sender\":");
  AppendJsonString(&out, envelope.sender());
  absl::StrAppend(&out, ",\"created_unix_ms\":", envelope.created_unix_ms(),
                  ",\"next_due_unix_ms\":", envelope.next_due_unix_ms(),
                  ",\"attempts\":", envelope.attempts(), ",\"size\":", envelope.size());
  const std::pair<absl::string_view, const std::string*> strings[] = {
      {"last_reply", &envelope.last_reply()},
      {"tenant", &envelope.tenant()},
      {"campaign", &envelope.campaign()},
      {"pool", &envelope.pool()},
      {"queue", &envelope.queue()},
      {"domain", &envelope.domain()},
      {"site", &envelope.site()},
      {"envid", &envelope.envid()},
  };
  for (const auto& [name, value] : strings) {
    absl::StrAppend(&out, ",\"", name, "\":");
    AppendJsonString(&out, *value);
  }
  out.append(",\"recipients\":[");
  for (int i = 0; i < envelope.recipients_size(); ++i) {
    const queue::proto::Recipient& r = envelope.recipients(i);
    if (i > 0) out.push_back(',');
    out.append("{\"address\":");
    AppendJsonString(&out, r.address());
    out.append(",\"state\":");
    AppendJsonString(&out, StateName(r.state()));
    absl::StrAppend(&out, ",\"attempts\":", r.attempts(), ",\"last_reply\":");
    AppendJsonString(&out, r.last_reply());
    out.push_back('}');
  }
  out.append("]}\n");
  return out;
}

// The filter named by the query; InvalidArgument for an unknown parameter.
absl::StatusOr<queue::SpoolFilter> FilterOf(const HttpTarget& target,
                                            absl::string_view also_allowed = "") {
  queue::SpoolFilter filter;
  for (const auto& [name, value] : target.params) {
    if (name == "site") {
      filter.site = value;
    } else if (name == "domain") {
      filter.domain = value;
    } else if (name == "tenant") {
      filter.tenant = value;
    } else if (name == "campaign") {
      filter.campaign = value;
    } else if (name == "queue") {
      filter.queue = value;
    } else if (name != also_allowed || also_allowed.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": unknown parameter (site, domain, tenant, campaign or queue)"));
    }
  }
  return filter;
}

std::string_view Std(absl::string_view text) { return std::string_view(text.data(), text.size()); }

}  // namespace

HttpServer::Response HttpServer::Json(int status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

HttpServer::Response HttpServer::Text(int status, std::string body) {
  Response response = Json(status, std::move(body));
  response.content_type = "text/plain";
  return response;
}

HttpServer::Response HttpServer::Error(int status, absl::string_view message, HttpHeaders headers) {
  Response response = Json(status, JsonError(Std(message)));
  response.headers = std::move(headers);
  response.reason = std::string(message);
  return response;
}

struct HttpServer::Client {
  enum class Protocol { kUnknown, kHttp1, kHttp2 };

  uint64_t id = 0;
  reactor::TcpConnection* conn = nullptr;
  bool loopback = false;
  std::unique_ptr<tls::TlsSession> tls;  // set on a TLS listener
  Protocol protocol = Protocol::kUnknown;
  std::string sniffed;  // plaintext held until the protocol is known

  // HTTP/1.1.
  std::unique_ptr<Http1Session> h1;
  std::deque<HttpRequest> queued;
  // Waiting for an asynchronous answer.
  bool busy = false;
  // An error to answer, and close with, once the queued requests are done.
  int error_status = 0;
  std::string error_message;
  bool paused = false;

  // HTTP/2.
  std::unique_ptr<Http2Session> h2;
  int in_flight = 0;  // exchanges awaiting an asynchronous answer
  bool goaway = false;
  // The streams incomplete when the request timer was armed.
  std::vector<int32_t> timed_streams;

  bool request_started = false;
  bool closing = false;  // the last answer has been written
  bool close_sent = false;
  bool peer_closed = false;
  bool driving = false;  // answers given now are written by the caller
  reactor::TimerId idle_timer;
  reactor::TimerId request_timer;
  std::string out;
};

// One request awaiting one answer, owned by its connection's protocol:
// HTTP/1.1 answers in order on the connection, HTTP/2 on `stream`.
struct HttpServer::Exchange {
  uint64_t id = 0;
  uint64_t client = 0;
  std::string method;  // for the log
  std::string path;
  int32_t stream = 0;  // HTTP/2 stream; 0 for HTTP/1.1
  bool loopback = false;
  bool keep_alive = true;
  bool head = false;   // answer without the body
  bool async = false;  // answered later through Complete()
};

struct HttpServer::InjectionJob {
  uint64_t exchange = 0;
  PreparedInjection prepared;
  std::vector<absl::Status> results;
  size_t next = 0;
  size_t in_flight = 0;
  size_t answered = 0;
  bool pumping = false;  // inside PumpJob(): answers given now wait for it
  std::string tenant;    // of every message (one request), for counters.received
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(reactor::Reactor& reactor,
                                                               int listen_fd, int shard,
                                                               HttpServerOptions options) {
  if (options.worker != nullptr && !options.post) {
    return absl::InvalidArgumentError("an HTTP server with a worker needs `post`");
  }
  std::unique_ptr<HttpServer> server(new HttpServer(reactor, shard, std::move(options)));
  HttpServer* self = server.get();
  self->listener_ = reactor::TcpListener::Start(
      reactor, listen_fd, [self](reactor::TcpConnection* conn) { self->Accept(conn); });
  return server;
}

HttpServer::HttpServer(reactor::Reactor& reactor, int shard, HttpServerOptions options)
    : reactor_(reactor),
      shard_(shard),
      options_(std::move(options)),
      parser_(options_.injection),
      ids_(options_.clock, shard, common::MessageIdGenerator::StreamNode(kIdStream)) {}

HttpServer::~HttpServer() {
  for (auto& [id, client] : clients_) {
    reactor_.CancelTimer(client->idle_timer);
    reactor_.CancelTimer(client->request_timer);
  }
}

void HttpServer::Accept(reactor::TcpConnection* conn) {
  if (stopping_) {
    conn->Close();
    return;
  }
  auto client = std::make_unique<Client>();
  client->id = next_client_id_++;
  client->conn = conn;
  client->loopback = IsLoopback(conn->peer());
  if (options_.tls != nullptr) {
    absl::StatusOr<std::unique_ptr<tls::TlsSession>> session = options_.tls->NewSession();
    if (!session.ok()) {
      SLUICE_LOG(kError, "cannot start a TLS session").Field("error", session.status());
      conn->Close();
      return;
    }
    client->tls = *std::move(session);
  }
  Client& c = *client;
  client_ids_.emplace(conn, c.id);
  clients_.emplace(c.id, std::move(client));
  ArmIdleTimer(c);
  conn->Start(this);
}

HttpServer::Client* HttpServer::Find(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

bool HttpServer::Busy(const Client& c) { return c.busy || c.in_flight > 0; }

void HttpServer::ArmIdleTimer(Client& c) {
  reactor_.CancelTimer(c.idle_timer);
  c.idle_timer = reactor::TimerId{};
  if (Busy(c) || c.closing) return;
  const uint64_t id = c.id;
  c.idle_timer = reactor_.RunAfter(options_.idle_timeout, [this, id] {
    Client* c = Find(id);
    if (c == nullptr) return;
    c->idle_timer = reactor::TimerId{};
    if (c->h2 != nullptr && !c->goaway) {
      c->goaway = true;
      c->h2->Shutdown();
      Send(*c, c->h2->TakeOutput());
    }
    CloseClient(*c);
  });
}

void HttpServer::ArmRequestTimer(Client& c) {
  const uint64_t id = c.id;
  c.request_timer =
      reactor_.RunAfter(options_.request_timeout, [this, id] { OnRequestTimeout(id); });
}

void HttpServer::OnRequestTimeout(uint64_t id) {
  Client* c = Find(id);
  if (c == nullptr) return;
  c->request_timer = reactor::TimerId{};
  if (c->closing) return;
  switch (c->protocol) {
    case Client::Protocol::kUnknown:
      // Not even a preface or a TLS handshake in time.
      CloseClient(*c);
      return;
    case Client::Protocol::kHttp1:
      if (c->error_status != 0) return;
      c->error_status = 408;
      c->error_message = "request not received in time";
      c->conn->PauseReading();
      Drive(*c);
      return;
    case Client::Protocol::kHttp2: {
      // Streams that were incomplete when the timer started and still are.
      for (int32_t stream : std::exchange(c->timed_streams, {})) {
        if (!c->h2->Abandon(stream)) continue;
        const Response response = Error(408, "request not received in time");
        LogRefusal(*c, response);
        c->h2->Respond(stream, response.status, response.content_type, response.body);
      }
      c->timed_streams = c->h2->IncompleteStreams();
      if (!c->timed_streams.empty()) ArmRequestTimer(*c);
      FlushHttp2(*c);
      return;
    }
  }
}

void HttpServer::OnData(reactor::TcpConnection& conn, absl::string_view data) {
  auto it = client_ids_.find(&conn);
  if (it == client_ids_.end()) return;
  Client& c = *clients_.at(it->second);
  if (c.closing) return;
  if (c.tls == nullptr) {
    OnPlaintext(c, data);
    return;
  }
  c.tls->FeedCiphertext(std::string_view(data.data(), data.size()));
  std::string plain;
  const absl::Status status = c.tls->ReadPlaintext(&plain);
  if (c.tls->HasCiphertext()) c.conn->Send(c.tls->TakeCiphertext());  // also an alert
  if (!status.ok()) {
    SLUICE_LOG(kDebug, "http tls handshake or read failed").Field("error", status);
    c.closing = true;
    c.close_sent = true;
    c.conn->CloseAfterFlush();
    return;
  }
  if (c.protocol == Client::Protocol::kUnknown) {
    if (!c.tls->handshake_done()) {
      if (!c.request_started) {
        c.request_started = true;
        ArmRequestTimer(c);
      }
      return;
    }
    StartProtocol(c, c.tls->alpn() == "h2");
    if (c.closing) return;
  }
  if (!plain.empty()) OnPlaintext(c, plain);
  // close_notify: like a TCP half-close.
  if (c.tls->peer_closed() && !c.peer_closed && !c.closing) PeerClosed(c);
}

void HttpServer::StartProtocol(Client& c, bool http2) {
  // The clock ran for the handshake or the preface; each protocol times its
  // requests from here (HTTP/2 per stream).
  reactor_.CancelTimer(c.request_timer);
  c.request_timer = reactor::TimerId{};
  c.request_started = false;
  if (!http2) {
    c.h1 = std::make_unique<Http1Session>(options_.limits);
    c.protocol = Client::Protocol::kHttp1;
    return;
  }
  absl::StatusOr<std::unique_ptr<Http2Session>> session =
      Http2Session::Create(options_.limits, options_.max_concurrent_streams);
  if (!session.ok()) {
    SLUICE_LOG(kError, "cannot start an HTTP/2 session").Field("error", session.status());
    CloseClient(c);
    return;
  }
  c.h2 = *std::move(session);
  c.protocol = Client::Protocol::kHttp2;
}

void HttpServer::OnPlaintext(Client& c, absl::string_view data) {
  if (c.protocol == Client::Protocol::kUnknown) {
    // Plaintext: the HTTP/2 preface, or HTTP/1.1.
    constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    c.sniffed.append(data.data(), data.size());
    const size_t n = std::min(c.sniffed.size(), kPreface.size());
    const bool preface_so_far = std::string_view(c.sniffed).substr(0, n) == kPreface.substr(0, n);
    if (preface_so_far && c.sniffed.size() < kPreface.size()) {
      if (!c.request_started) {
        c.request_started = true;
        ArmRequestTimer(c);
      }
      ArmIdleTimer(c);
      return;
    }
    StartProtocol(c, preface_so_far);
    if (c.closing) return;
    const std::string sniffed = std::exchange(c.sniffed, {});
    OnPlaintext(c, sniffed);
    return;
  }
  if (c.protocol == Client::Protocol::kHttp2) {
    OnHttp2Data(c, data);
  } else {
    OnHttp1Data(c, data);
  }
}

void HttpServer::OnHttp1Data(Client& c, absl::string_view data) {
  if (c.closing || c.error_status != 0) return;
  if (!c.busy) ArmIdleTimer(c);
  if (!c.request_started) {
    // The first bytes of a request: all of it must arrive in time, however
    // slowly it trickles in.
    c.request_started = true;
    ArmRequestTimer(c);
  }
  std::vector<HttpRequest> requests;
  const absl::Status status = c.h1->Feed(data, &requests);
  if (!requests.empty()) {
    // Any bytes after the last complete request start the clock again when
    // more arrive (or the idle timer closes a connection that sends nothing).
    c.request_started = false;
    reactor_.CancelTimer(c.request_timer);
    c.request_timer = reactor::TimerId{};
    for (HttpRequest& request : requests) c.queued.push_back(std::move(request));
  }
  if (!status.ok()) {
    c.error_status = Http1Session::StatusForError(status);
    c.error_message = std::string(status.message());
    reactor_.CancelTimer(c.request_timer);
    c.request_timer = reactor::TimerId{};
    c.conn->PauseReading();
  }
  Drive(c);
}

void HttpServer::OnHttp2Data(Client& c, absl::string_view data) {
  std::vector<Http2Request> requests;
  const absl::Status status = c.h2->Feed(std::string_view(data.data(), data.size()), &requests);
  if (!status.ok()) SLUICE_LOG(kDebug, "http2 protocol error").Field("error", status);
  c.driving = true;
  for (Http2Request& request : requests) {
    Add(options_.counters.requests);
    if (request.error_status != 0) {
      const Response response = Error(request.error_status, request.error);
      LogRefusal(c, response, request.request.method, request.request.target);
      c.h2->Respond(request.stream_id, response.status, response.content_type, response.body);
      continue;
    }
    Dispatch(c, request.request, request.stream_id);
  }
  c.driving = false;
  // Streams still arriving must finish within a request timeout of the
  // timer that sees them (so within two).
  if (!c.request_timer.valid()) {
    c.timed_streams = c.h2->IncompleteStreams();
    if (!c.timed_streams.empty()) ArmRequestTimer(c);
  }
  if (!Busy(c)) ArmIdleTimer(c);
  FlushHttp2(c);
}

void HttpServer::FlushHttp2(Client& c) {
  if (c.closing) return;
  if ((stopping_ || c.peer_closed) && c.in_flight == 0 && !c.goaway) {
    c.goaway = true;
    c.h2->Shutdown();
  }
  Send(c, c.h2->TakeOutput());
  if (c.h2->wants_close() || (c.peer_closed && c.in_flight == 0)) CloseClient(c);
}

void HttpServer::Send(Client& c, std::string bytes) {
  if (bytes.empty() || c.close_sent) return;
  if (c.tls == nullptr) {
    c.conn->Send(std::move(bytes));
    return;
  }
  if (const absl::Status status = c.tls->WritePlaintext(bytes); !status.ok()) {
    SLUICE_LOG(kDebug, "http tls write failed").Field("error", status);
    c.closing = true;
  }
  if (c.tls->HasCiphertext()) c.conn->Send(c.tls->TakeCiphertext());
}

void HttpServer::CloseClient(Client& c) {
  c.closing = true;
  if (c.close_sent) return;
  c.close_sent = true;
  if (c.tls != nullptr && c.tls->handshake_done()) {
    (void)c.tls->Shutdown();  // close_notify; the connection closes either way
    if (c.tls->HasCiphertext()) c.conn->Send(c.tls->TakeCiphertext());
  }
  c.conn->CloseAfterFlush();
}

void HttpServer::OnPeerClosed(reactor::TcpConnection& conn) {
  auto it = client_ids_.find(&conn);
  if (it == client_ids_.end()) {
    conn.CloseAfterFlush();
    return;
  }
  PeerClosed(*clients_.at(it->second));
}

void HttpServer::PeerClosed(Client& c) {
  c.peer_closed = true;
  // Requests already received still get their answers.
  if (c.protocol == Client::Protocol::kHttp2) {
    FlushHttp2(c);
  } else if (!c.busy && c.queued.empty()) {
    CloseClient(c);
  }
}

void HttpServer::OnClosed(reactor::TcpConnection& conn, const absl::Status& /*reason*/) {
  auto it = client_ids_.find(&conn);
  if (it == client_ids_.end()) return;
  auto client = clients_.find(it->second);
  reactor_.CancelTimer(client->second->idle_timer);
  reactor_.CancelTimer(client->second->request_timer);
  clients_.erase(client);
  client_ids_.erase(it);
  MaybeFinishStop();
}

void HttpServer::Drive(Client& c) {
  c.driving = true;
  while (!c.busy && !c.closing && !c.queued.empty()) {
    HttpRequest request = std::move(c.queued.front());
    c.queued.pop_front();
    Add(options_.counters.requests);
    Dispatch(c, request, 0);
  }
  c.driving = false;
  if (!c.busy && !c.closing && c.queued.empty() && c.error_status != 0) {
    const Response response = Error(c.error_status, c.error_message);
    LogRefusal(c, response);
    WriteHttp1(c, response, /*keep_alive=*/false, /*head=*/false);
  }
  if (!c.out.empty()) Send(c, std::exchange(c.out, {}));
  if (c.closing) {
    CloseClient(c);
    return;
  }
  if (!c.busy && c.queued.empty() && (c.peer_closed || stopping_)) {
    CloseClient(c);
    return;
  }
  // Flow control: a client that pipelines faster than we answer waits.
  if (!c.paused && c.queued.size() >= options_.max_queued_requests) {
    c.paused = true;
    c.conn->PauseReading();
  } else if (c.paused && c.queued.size() < options_.max_queued_requests / 2 &&
             c.error_status == 0) {
    c.paused = false;
    c.conn->ResumeReading();
  }
  if (!c.busy) ArmIdleTimer(c);
}

void HttpServer::Dispatch(Client& c, HttpRequest& request, int32_t stream) {
  auto exchange = std::make_unique<Exchange>();
  const uint64_t id = next_exchange_id_++;
  exchange->id = id;
  exchange->client = c.id;
  exchange->stream = stream;
  exchange->loopback = c.loopback;
  exchange->keep_alive = request.keep_alive;
  exchange->head = request.method == "HEAD";
  exchange->method = request.method;
  exchange->path = request.target.substr(0, request.target.find('?'));  // no query in logs
  Exchange& x = *exchange;
  exchanges_.emplace(id, std::move(exchange));
  Route(x, request);
  // Answered now: done with it. (One answered through Complete() already
  // during Route is gone.)
  auto it = exchanges_.find(id);
  if (it != exchanges_.end() && !it->second->async) exchanges_.erase(it);
}

void HttpServer::Write(Exchange& x, Response response) {
  Client* c = Find(x.client);
  if (c == nullptr) return;
  if (response.status >= 400) LogRefusal(*c, response, x.method, x.path);
  if (c->protocol == Client::Protocol::kHttp2) {
    // False when the client reset the stream meanwhile: nothing to do.
    (void)c->h2->Respond(x.stream, response.status, response.content_type, std::move(response.body),
                         response.headers, x.head);
    return;
  }
  WriteHttp1(*c, response, x.keep_alive, x.head);
}

void HttpServer::WriteHttp1(Client& c, const Response& response, bool keep_alive, bool head) {
  keep_alive = keep_alive && !stopping_;
  std::string headers;
  for (const auto& [name, value] : response.headers)
    absl::StrAppend(&headers, name, ": ", value, "\r\n");
  std::string text = Http1Session::FormatResponse(response.status, response.content_type,
                                                  response.body, keep_alive, headers);
  // HEAD: the same headers, no body.
  if (head) text.resize(text.size() - response.body.size());
  c.out += text;
  if (!keep_alive) {
    c.closing = true;
    c.queued.clear();
  }
}

void HttpServer::LogRefusal(const Client& c, const Response& response, absl::string_view method,
                            absl::string_view path) {
  if (!refusal_log_.Allow(options_.clock->Now(), "http refusals")) return;
  SLUICE_LOG(kWarning, "http refused")
      .Field("listener", options_.tls != nullptr ? "https" : "http")
      .Field("client", c.conn->peer().HostString())
      .Field("method", method)
      .Field("path", path.substr(0, path.find('?')))
      .Field("status", response.status)
      .Field("reason", response.reason);
}

void HttpServer::BeginAsync(Exchange& x) {
  x.async = true;
  ++pending_answers_;
  Client* c = Find(x.client);
  if (c == nullptr) return;
  if (c->protocol == Client::Protocol::kHttp2) {
    ++c->in_flight;
  } else {
    c->busy = true;
  }
  reactor_.CancelTimer(c->idle_timer);
  c->idle_timer = reactor::TimerId{};
}

void HttpServer::Complete(uint64_t id, Response response) {
  --pending_answers_;
  auto it = exchanges_.find(id);
  std::unique_ptr<Exchange> x = std::move(it->second);
  exchanges_.erase(it);
  Client* c = Find(x->client);
  if (c == nullptr) {
    MaybeFinishStop();  // the client left before its answer
    return;
  }
  Write(*x, std::move(response));
  if (c->protocol == Client::Protocol::kHttp2) {
    --c->in_flight;
    if (!c->driving) {
      if (!Busy(*c)) ArmIdleTimer(*c);
      FlushHttp2(*c);
    }
    return;
  }
  c->busy = false;
  if (!c->driving) Drive(*c);
}

bool HttpServer::Authorize(Exchange& x, const HttpRequest& request, uint32_t scopes) {
  static const ApiKeyStore* const kNoKeys = ApiKeyStore::Create({})->release();
  const ApiKeyStore& keys = options_.keys != nullptr ? *options_.keys : *kNoKeys;
  const ApiAuthorization auth = keys.Authorize(Std(request.Header("Authorization")), x.loopback,
                                               scopes, options_.clock->Now());
  if (auth.status == 200) return true;
  Response response;
  response.status = auth.status;
  response.body = JsonError(auth.message);
  response.reason = auth.message;
  if (auth.status == 401)
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluice\"");
  if (auth.status == 429) {
    const int64_t seconds = std::max<int64_t>(
        1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(auth.retry_after))));
    response.headers.emplace_back("Retry-After", absl::StrCat(seconds));
  }
  Write(x, std::move(response));
  return false;
}

void HttpServer::Route(Exchange& x, HttpRequest& request) {
  absl::StatusOr<HttpTarget> target = HttpTarget::Parse(request.target);
  if (!target.ok()) {
    Write(x, Error(400, target.status().message()));
    return;
  }
  const std::string& path = target->path;
  const std::string& method = request.method;
  auto not_allowed = [&](absl::string_view allow) {
    Write(x, Error(405, absl::StrCat("method ", method, " not allowed"),
                   {{"Allow", std::string(allow)}}));
  };
  if (path == "/healthz" || path == "/metrics") {
    if (method != "GET" && method != "HEAD") return not_allowed("GET, HEAD");
    if (path == "/metrics") {
      if (options_.metrics == nullptr) {
        Write(x, Error(404, "no metrics"));
        return;
      }
      RenderMetrics(x);
      return;
    }
    Response response;
    response.status = stopping_ ? 503 : 200;
    response.body = stopping_ ? "stopping\n" : "ok\n";
    response.content_type = "text/plain";
    Write(x, std::move(response));
    return;
  }
  if (path == "/readyz") {
    if (method != "GET") return not_allowed("GET");
    Ready(x);
    return;
  }
  if (path == kMessagesPath) {
    if (method == "POST") {
      if (Authorize(x, request, kScopeInject)) Inject(x, request);
      return;
    }
    if (method == "DELETE") {
      if (Authorize(x, request, kScopeAdmin)) Purge(x, *target);
      return;
    }
    return not_allowed("POST, DELETE");
  }
  if (absl::StartsWith(path, absl::StrCat(kMessagesPath, "/"))) {
    if (method != "GET") return not_allowed("GET");
    if (Authorize(x, request, kScopeRead | kScopeAdmin)) {
      ReadMessage(x, std::string_view(path).substr(kMessagesPath.size() + 1));
    }
    return;
  }
  if (path == "/api/v1/queues") {
    if (method != "GET") return not_allowed("GET");
    if (Authorize(x, request, kScopeRead | kScopeAdmin)) CountQueues(x, *target);
    return;
  }
  if (path == "/api/v1/retry") {
    if (method != "POST") return not_allowed("POST");
    if (Authorize(x, request, kScopeAdmin)) Retry(x, *target);
    return;
  }
  if (path == "/api/v1/bounce") {
    if (method != "POST") return not_allowed("POST");
    if (Authorize(x, request, kScopeAdmin)) Bounce(x, *target);
    return;
  }
  if (path == "/api/v1/suspend" || path == "/api/v1/resume") {
    if (method != "POST") return not_allowed("POST");
    if (Authorize(x, request, kScopeAdmin)) Suspend(x, *target, path == "/api/v1/suspend");
    return;
  }
  if (path == "/api/v1/sites") {
    if (method != "GET") return not_allowed("GET");
    if (Authorize(x, request, kScopeRead | kScopeAdmin)) Sites(x);
    return;
  }
  Write(x, Error(404, absl::StrCat("no such resource: ", path)));
}

// Injection ------------------------------------------------------------------

void HttpServer::Inject(Exchange& x, HttpRequest& request) {
  if (options_.spool == nullptr) {
    Write(x, Error(503, "no spool: injection is unavailable"));
    return;
  }
  InjectionContext context;
  context.hostname = options_.hostname;
  context.now = options_.clock->Now();
  const uint64_t id = x.id;
  if (options_.worker != nullptr && request.body.size() >= options_.worker_threshold_bytes) {
    BeginAsync(x);
    const bool posted =
        options_.worker->Submit(std::move(request.body), std::move(context),
                                [this, id, post = options_.post, shard = shard_](
                                    absl::StatusOr<PreparedInjection> prepared) mutable {
                                  post(shard, [this, id, prepared = std::move(prepared)]() mutable {
                                    OnPrepared(id, std::move(prepared));
                                  });
                                });
    if (!posted) {
      Complete(id, Error(503, "injection worker is busy; try again"));
    }
    return;
  }
  BeginAsync(x);
  OnPrepared(id, PrepareInjection(parser_, request.body, ids_, context));
}

void HttpServer::OnPrepared(uint64_t exchange, absl::StatusOr<PreparedInjection> prepared) {
  if (!prepared.ok()) {
    Complete(exchange, Error(400, prepared.status().message()));
    return;
  }
  const uint64_t job_id = next_job_id_++;
  auto job = std::make_unique<InjectionJob>();
  job->exchange = exchange;
  job->prepared = *std::move(prepared);
  if (!job->prepared.messages.empty() && !job->prepared.messages[0].envelopes.empty()) {
    job->tenant = job->prepared.messages[0].envelopes[0].tenant();
  }
  job->results.resize(job->prepared.messages.size());
  jobs_.emplace(job_id, std::move(job));
  PumpJob(job_id);
}

void HttpServer::PumpJob(uint64_t job_id) {
  InjectionJob& job = *jobs_.at(job_id);
  std::vector<queue::NewMessage>& messages = job.prepared.messages;
  job.pumping = true;
  while (job.in_flight < options_.max_enqueues_in_flight && job.next < messages.size()) {
    const size_t index = job.next++;
    ++job.in_flight;
    // Only the ids are needed after this; the body goes to the spool.
    options_.spool->Enqueue(std::move(messages[index]), [this, job_id, index](absl::Status status) {
      InjectionJob& job = *jobs_.at(job_id);
      job.results[index] = std::move(status);
      --job.in_flight;
      ++job.answered;
      if (!job.pumping) PumpJob(job_id);
    });
  }
  job.pumping = false;
  if (job.answered == job.results.size()) FinishJob(job_id);
}

void HttpServer::FinishJob(uint64_t job_id) {
  auto it = jobs_.find(job_id);
  std::unique_ptr<InjectionJob> job = std::move(it->second);
  jobs_.erase(it);
  size_t failed = 0;
  absl::Status first_error;
  for (const absl::Status& status : job->results) {
    if (!status.ok()) {
      if (failed++ == 0) first_error = status;
    }
  }
  size_t recipients = 0;
  for (const PreparedRecipient& r : job->prepared.accepted) {
    if (job->results[r.message].ok()) ++recipients;
  }
  Add(options_.counters.messages_accepted, job->results.size() - failed);
  if (options_.counters.received && failed < job->results.size()) {
    options_.counters.received(job->tenant, job->results.size() - failed);
  }
  Add(options_.counters.recipients_accepted, recipients);
  if (failed > 0) Add(options_.counters.injections_failed);
  if (failed == job->results.size()) {
    // Nothing was stored: the client may safely send it all again.
    const int status = absl::IsUnavailable(first_error) ? 503 : 500;
    Complete(job->exchange,
             Error(status, absl::StrCat("spool: ", first_error.message()),
                   status == 503 ? HttpHeaders{{"Retry-After", "1"}} : HttpHeaders{}));
    return;
  }
  if (failed > 0 && refusal_log_.Allow(options_.clock->Now(), "http refusals")) {
    SLUICE_LOG(kWarning, "http injection partly failed")
        .Field("listener", options_.tls != nullptr ? "https" : "http")
        .Field("messages", job->results.size())
        .Field("failed", failed)
        .Field("error", first_error);
  }
  SLUICE_LOG(kDebug, "http injection accepted")
      .Field("listener", options_.tls != nullptr ? "https" : "http")
      .Field("tenant", job->tenant)
      .Field("messages", job->results.size() - failed)
      .Field("recipients", recipients);
  Complete(job->exchange, Json(200, FormatInjectionResponse(job->prepared, job->results)));
}

// Admin ----------------------------------------------------------------------

void HttpServer::ReadMessage(Exchange& x, std::string_view id_text) {
  absl::StatusOr<common::MessageId> id =
      common::MessageId::Parse(absl::string_view(id_text.data(), id_text.size()));
  if (!id.ok()) {
    Write(x, Error(400, absl::StrCat("id: ", id.status().message())));
    return;
  }
  if (options_.spool == nullptr) {
    Write(x, Error(503, "no spool"));
    return;
  }
  BeginAsync(x);
  const uint64_t exchange = x.id;
  options_.spool->Read(*id, [this, exchange](absl::StatusOr<queue::StoredMessage> stored) {
    if (!stored.ok()) {
      const int status = absl::IsNotFound(stored.status())      ? 404
                         : absl::IsUnavailable(stored.status()) ? 503
                                                                : 500;
      Complete(exchange, Error(status, stored.status().message()));
      return;
    }
    Complete(exchange, Json(200, EnvelopeJson(stored->envelope)));
  });
}

void HttpServer::CountQueues(Exchange& x, const HttpTarget& target) {
  absl::StatusOr<queue::SpoolFilter> filter = FilterOf(target, "group_by");
  if (!filter.ok()) {
    Write(x, Error(400, filter.status().message()));
    return;
  }
  queue::SpoolGroupBy group_by = queue::SpoolGroupBy::kDomain;
  std::string group_name = "domain";
  if (const std::string* value = target.Param("group_by"); value != nullptr) {
    group_name = *value;
    if (*value == "site") {
      group_by = queue::SpoolGroupBy::kSite;
    } else if (*value == "tenant") {
      group_by = queue::SpoolGroupBy::kTenant;
    } else if (*value == "campaign") {
      group_by = queue::SpoolGroupBy::kCampaign;
    } else if (*value != "domain") {
      Write(x, Error(400, "group_by: must be site, domain, tenant or campaign"));
      return;
    }
  }
  if (options_.operations == nullptr) {
    Write(x, Error(503, "spool operations are unavailable"));
    return;
  }
  BeginAsync(x);
  const uint64_t exchange = x.id;
  options_.operations->Count(
      *std::move(filter), group_by,
      [this, exchange, group_name](absl::StatusOr<std::vector<queue::SpoolCount>> counts) {
        if (!counts.ok()) {
          Complete(exchange, Error(503, counts.status().message()));
          return;
        }
        std::string body = "{\"group_by\":";
        AppendJsonString(&body, group_name);
        body.append(",\"groups\":[");
        uint64_t envelopes = 0;
        uint64_t recipients = 0;
        for (size_t i = 0; i < counts->size(); ++i) {
          const queue::SpoolCount& count = (*counts)[i];
          if (i > 0) body.push_back(',');
          body.append("{\"key\":");
          AppendJsonString(&body, count.key);
          absl::StrAppend(&body, ",\"envelopes\":", count.envelopes,
                          ",\"recipients\":", count.recipients, "}");
          envelopes += count.envelopes;
          recipients += count.recipients;
        }
        absl::StrAppend(&body, "],\"total\":{\"envelopes\":", envelopes,
                        ",\"recipients\":", recipients, "}}\n");
        Complete(exchange, Json(200, std::move(body)));
      });
}

void HttpServer::Retry(Exchange& x, const HttpTarget& target) {
  std::optional<queue::SpoolFilter> filter = AdminFilter(x, target, "");
  if (!filter.has_value()) return;
  if (options_.operations == nullptr) {
    Write(x, Error(503, "spool operations are unavailable"));
    return;
  }
  options_.operations->RescheduleNow(*std::move(filter), CountAnswer(x, "rescheduled"));
}

void HttpServer::Bounce(Exchange& x, const HttpTarget& target) {
  std::optional<queue::SpoolFilter> filter = AdminFilter(x, target, "bounce", "reason");
  if (!filter.has_value()) return;
  if (options_.delivery == nullptr) {
    Write(x, Error(503, "delivery is not running"));
    return;
  }
  const std::string* reason = target.Param("reason");
  options_.delivery->Bounce(*std::move(filter), reason != nullptr ? *reason : "",
                            CountAnswer(x, "bounced"));
}

void HttpServer::Suspend(Exchange& x, const HttpTarget& target, bool suspended) {
  if (options_.delivery == nullptr) {
    Write(x, Error(503, "delivery is not running"));
    return;
  }
  if (target.params.size() != 1) {
    Write(x, Error(400, "filter: give exactly one of site, domain, tenant, campaign"));
    return;
  }
  const auto& [name, value] = target.params.front();
  engine::SuspendScope scope;
  if (name == "site") {
    scope = engine::SuspendScope::kSite;
  } else if (name == "domain") {
    scope = engine::SuspendScope::kDomain;
  } else if (name == "tenant") {
    scope = engine::SuspendScope::kTenant;
  } else if (name == "campaign") {
    scope = engine::SuspendScope::kCampaign;
  } else {
    Write(x,
          Error(400, absl::StrCat(name, ": unknown parameter (site, domain, tenant or campaign)")));
    return;
  }
  if (value.empty()) {
    Write(x, Error(400, absl::StrCat(name, ": must not be empty")));
    return;
  }
  options_.delivery->SetSuspended(scope, value, suspended);
  std::string body = absl::StrCat("{\"", suspended ? "suspended" : "resumed", "\":{");
  AppendJsonString(&body, Std(name));
  body += ":";
  AppendJsonString(&body, Std(value));
  body += "}}\n";
  Write(x, Json(200, std::move(body)));
}

void HttpServer::Sites(Exchange& x) {
  if (options_.delivery == nullptr) {
    Write(x, Error(503, "delivery is not running"));
    return;
  }
  BeginAsync(x);
  const uint64_t exchange = x.id;
  options_.delivery->Queues([this, exchange](std::vector<engine::QueueSnapshot> queues) {
    std::sort(queues.begin(), queues.end(),
              [](const engine::QueueSnapshot& a, const engine::QueueSnapshot& b) {
                return a.ready != b.ready ? a.ready > b.ready : a.key < b.key;
              });
    std::string body = "{\"queues\":[";
    for (size_t i = 0; i < queues.size(); ++i) {
      const engine::QueueSnapshot& q = queues[i];
      if (i > 0) body += ",";
      body += "{\"site\":";
      AppendJsonString(&body, q.site);
      body += ",\"pool\":";
      AppendJsonString(&body, q.pool);
      absl::StrAppend(&body, ",\"ready\":", q.ready, ",\"in_flight\":", q.in_flight,
                      ",\"connections\":", q.connections, ",\"window\":", q.window,
                      ",\"delivered_per_minute\":", absl::StrFormat("%.1f", q.delivered_per_minute),
                      ",\"suspended\":", q.suspended ? "true" : "false", ",\"last_error\":");
      AppendJsonString(&body, q.last_error);
      body += "}";
    }
    body += "]}\n";
    Complete(exchange, Json(200, std::move(body)));
  });
}

void HttpServer::RenderMetrics(Exchange& x) {
  auto answer = [](std::string text) {
    Response response;
    response.body = std::move(text);
    response.content_type = "text/plain; version=0.0.4";
    return response;
  };
  const uint64_t id = x.id;
  BeginAsync(x);
  if (options_.worker != nullptr &&
      options_.worker->Run(
          [this, id, answer, metrics = options_.metrics, post = options_.post, shard = shard_] {
            post(shard, [this, id, answer, text = metrics->RenderPrometheus()]() mutable {
              Complete(id, answer(std::move(text)));
            });
          })) {
    return;
  }
  Complete(id, answer(options_.metrics->RenderPrometheus()));  // no worker, or it is full
}

void HttpServer::Purge(Exchange& x, const HttpTarget& target) {
  std::optional<queue::SpoolFilter> filter = AdminFilter(x, target, "purge");
  if (!filter.has_value()) return;
  if (options_.operations == nullptr) {
    Write(x, Error(503, "spool operations are unavailable"));
    return;
  }
  options_.operations->Purge(*std::move(filter), CountAnswer(x, "purged"));
}

std::optional<queue::SpoolFilter> HttpServer::AdminFilter(Exchange& x, const HttpTarget& target,
                                                          absl::string_view action,
                                                          absl::string_view also_allowed) {
  absl::StatusOr<queue::SpoolFilter> filter = FilterOf(target, also_allowed);
  if (!filter.ok()) {
    Write(x, Error(400, filter.status().message()));
    return std::nullopt;
  }
  if (!action.empty() && filter->Empty()) {
    Write(x, Error(400, absl::StrCat("filter: a ", action,
                                     " needs at least one of site, domain, tenant, campaign, "
                                     "queue")));
    return std::nullopt;
  }
  return *std::move(filter);
}

absl::AnyInvocable<void(absl::StatusOr<uint64_t>)> HttpServer::CountAnswer(Exchange& x,
                                                                           absl::string_view key) {
  BeginAsync(x);
  return [this, exchange = x.id, key = std::string(key)](absl::StatusOr<uint64_t> count) {
    if (!count.ok()) {
      Complete(exchange, Error(503, count.status().message()));
      return;
    }
    Complete(exchange, Json(200, absl::StrCat("{\"", key, "\":", *count, "}\n")));
  };
}

void HttpServer::Ready(Exchange& x) {
  if (stopping_ || options_.spool == nullptr) {
    Write(x, Text(503, stopping_ ? "stopping\n" : "no spool\n"));
    return;
  }
  // Probe the writer with a remove of the all-zero id, which no message
  // has: kNotFound means the writer is running and writing.
  BeginAsync(x);
  const uint64_t exchange = x.id;
  options_.spool->Remove(common::MessageId(), [this, exchange](absl::Status status) {
    if (status.ok() || absl::IsNotFound(status)) {
      Complete(exchange, Text(200, "ready\n"));
      return;
    }
    Complete(exchange, Text(503, absl::StrCat("spool: ", status.message(), "\n")));
  });
}

// Stop -----------------------------------------------------------------------

void HttpServer::Stop(absl::AnyInvocable<void()> done) {
  stopping_ = true;
  stop_done_ = std::move(done);
  if (listener_ != nullptr) {
    listener_->Close([this] {
      listener_ = nullptr;
      MaybeFinishStop();
    });
  }
  // Idle connections close now (HTTP/2 ones with GOAWAY, once what they
  // were answered has been written); busy ones after their answers (Drive
  // and FlushHttp2 see stopping_).
  std::vector<uint64_t> idle;
  for (auto& [id, client] : clients_) {
    if (!Busy(*client)) idle.push_back(id);
  }
  for (uint64_t id : idle) {
    Client* c = Find(id);
    if (c == nullptr) continue;
    if (c->h2 != nullptr) {
      FlushHttp2(*c);
      if (!c->h2->has_streams()) CloseClient(*c);
    } else {
      CloseClient(*c);
    }
  }
  MaybeFinishStop();
}

void HttpServer::SetKeys(std::shared_ptr<const ApiKeyStore> keys) {
  options_.keys = std::move(keys);
}

void HttpServer::SetTlsContext(std::shared_ptr<const tls::ServerContext> context) {
  if (context != nullptr && options_.tls != nullptr) options_.tls = std::move(context);
}

void HttpServer::MaybeFinishStop() {
  if (stopping_ && listener_ == nullptr && clients_.empty() && pending_answers_ == 0 &&
      stop_done_) {
    std::exchange(stop_done_, nullptr)();
  }
}

}  // namespace sluice::api
