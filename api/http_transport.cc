#include "api/http_transport.h"

#include <netinet/in.h>

#include <algorithm>
#include <deque>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "tls/tls_stream.h"

namespace sluice::api {
namespace {

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

}  // namespace

struct HttpTransport::Client {
  enum class Protocol { kUnknown, kHttp1, kHttp2 };

  explicit Client(reactor::TcpConnection* connection) : conn(connection), stream(connection) {}

  uint64_t id = 0;
  reactor::TcpConnection* conn;
  tls::TlsStream stream;  // encrypted on a TLS listener
  bool loopback = false;
  Protocol protocol = Protocol::kUnknown;
  std::string sniffed;  // plaintext held until the protocol is known

  // HTTP/1.1.
  std::unique_ptr<Http1Session> h1;
  std::deque<HttpRequest> queued;
  // Waiting for the answer of the request being served.
  bool busy = false;
  // An error to answer, and close with, once the queued requests are done.
  int error_status = 0;
  std::string error_message;
  bool paused = false;

  // HTTP/2.
  std::unique_ptr<Http2Session> h2;
  int in_flight = 0;  // exchanges awaiting their answer
  bool goaway = false;
  // The streams incomplete when the request timer was armed.
  std::vector<int32_t> timed_streams;
  // Streaming exchanges by stream, until they finish or are cancelled.
  absl::flat_hash_map<int32_t, uint64_t> stream_exchanges;

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
struct HttpTransport::Exchange {
  uint64_t id = 0;
  uint64_t client = 0;
  std::string method;  // for the log
  std::string path;
  int32_t stream = 0;  // HTTP/2 stream; 0 for HTTP/1.1
  bool keep_alive = true;
  bool head = false;  // answer without the body
  // Streaming: the handler, whether its answer has started, and whether
  // its client has gone (reset or closed).
  std::shared_ptr<HttpStreamHandler> handler;
  bool started = false;
  bool cancelled = false;
};

struct HttpTransport::Live {
  Exchange* exchange = nullptr;
  Client* client = nullptr;  // null when the exchange was cancelled
};

HttpTransport::HttpTransport(reactor::Reactor& reactor, int listen_fd, HttpTransportOptions options,
                             Serve serve, HttpStreaming streaming)
    : reactor_(reactor),
      options_(std::move(options)),
      serve_(std::move(serve)),
      streaming_(std::move(streaming)) {
  listener_ = reactor::TcpListener::Start(reactor, listen_fd,
                                          [this](reactor::TcpConnection* conn) { Accept(conn); });
}

HttpTransport::~HttpTransport() {
  for (auto& [id, client] : clients_) {
    reactor_.CancelTimer(client->idle_timer);
    reactor_.CancelTimer(client->request_timer);
  }
}

void HttpTransport::Accept(reactor::TcpConnection* conn) {
  if (stopping_) {
    conn->Close();
    return;
  }
  auto client = std::make_unique<Client>(conn);
  client->id = next_client_id_++;
  client->loopback = IsLoopback(conn->peer());
  if (options_.tls != nullptr) {
    absl::StatusOr<std::unique_ptr<tls::TlsSession>> session = options_.tls->NewSession();
    if (!session.ok()) {
      SLUICE_LOG(kError, "cannot start a TLS session").Field("error", session.status());
      conn->Close();
      return;
    }
    client->stream.StartServer(*std::move(session));
  }
  Client& c = *client;
  client_ids_.emplace(conn, c.id);
  clients_.emplace(c.id, std::move(client));
  ArmIdleTimer(c);
  conn->Start(this);
}

HttpTransport::Client* HttpTransport::Find(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

bool HttpTransport::Busy(const Client& c) { return c.busy || c.in_flight > 0; }

void HttpTransport::ArmIdleTimer(Client& c) {
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

void HttpTransport::ArmRequestTimer(Client& c) {
  const uint64_t id = c.id;
  c.request_timer =
      reactor_.RunAfter(options_.request_timeout, [this, id] { OnRequestTimeout(id); });
}

void HttpTransport::OnRequestTimeout(uint64_t id) {
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
        const HttpResponse response = HttpResponse::Error(408, "request not received in time");
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

void HttpTransport::OnData(reactor::TcpConnection& conn, absl::string_view data) {
  auto it = client_ids_.find(&conn);
  if (it == client_ids_.end()) return;
  Client& c = *clients_.at(it->second);
  if (c.closing) return;
  if (!c.stream.encrypted()) {
    OnPlaintext(c, data);
    return;
  }
  absl::StatusOr<absl::string_view> plain = c.stream.Receive(data);  // sends any alert
  if (!plain.ok()) {
    SLUICE_LOG(kDebug, "http tls handshake or read failed").Field("error", plain.status());
    c.closing = true;
    c.close_sent = true;
    c.stream.Close();
    return;
  }
  if (c.protocol == Client::Protocol::kUnknown) {
    if (!c.stream.handshake_done()) {
      if (!c.request_started) {
        c.request_started = true;
        ArmRequestTimer(c);
      }
      return;
    }
    StartProtocol(c, c.stream.session()->alpn() == "h2");
    if (c.closing) return;
  }
  if (!plain->empty()) OnPlaintext(c, *plain);
  // close_notify: like a TCP half-close.
  if (c.stream.peer_closed() && !c.peer_closed && !c.closing) PeerClosed(c);
}

void HttpTransport::StartProtocol(Client& c, bool http2) {
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
      Http2Session::Create(options_.limits, options_.max_concurrent_streams, streaming_.wants);
  if (!session.ok()) {
    SLUICE_LOG(kError, "cannot start an HTTP/2 session").Field("error", session.status());
    CloseClient(c);
    return;
  }
  c.h2 = *std::move(session);
  c.protocol = Client::Protocol::kHttp2;
}

void HttpTransport::OnPlaintext(Client& c, absl::string_view data) {
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

void HttpTransport::OnHttp1Data(Client& c, absl::string_view data) {
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

void HttpTransport::OnHttp2Data(Client& c, absl::string_view data) {
  std::vector<Http2Request> requests;
  const absl::Status status = c.h2->Feed(std::string_view(data.data(), data.size()), &requests);
  if (!status.ok()) SLUICE_LOG(kDebug, "http2 protocol error").Field("error", status);
  c.driving = true;
  for (Http2Request& request : requests) {
    if (request.event != Http2Event::kRequest) {
      OnStreamEvent(c, request);
      continue;
    }
    Add(options_.requests);
    if (request.streaming) {
      DispatchStream(c, request.request, request.stream_id);
      continue;
    }
    if (request.error_status != 0) {
      const HttpResponse response = HttpResponse::Error(request.error_status, request.error);
      LogRefusal(c, response, request.request.method, request.request.target);
      c.h2->Respond(request.stream_id, response.status, response.content_type, response.body);
      continue;
    }
    Dispatch(c, request.request, request.stream_id);
  }
  // Window updates may have released held answer bytes.
  std::vector<uint64_t> streams;
  streams.reserve(c.stream_exchanges.size());
  for (const auto& [stream, id] : c.stream_exchanges) streams.push_back(id);
  for (uint64_t id : streams) {
    if (std::shared_ptr<HttpStreamHandler> handler = HandlerOf(id)) handler->OnProgress();
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

void HttpTransport::FlushHttp2(Client& c) {
  if (c.closing) return;
  if ((stopping_ || c.peer_closed) && c.in_flight == 0 && !c.goaway) {
    c.goaway = true;
    c.h2->Shutdown();
  }
  Send(c, c.h2->TakeOutput());
  if (c.h2->wants_close() || (c.peer_closed && c.in_flight == 0)) CloseClient(c);
}

void HttpTransport::Send(Client& c, std::string bytes) {
  if (bytes.empty() || c.close_sent) return;
  if (const absl::Status status = c.stream.Send(std::move(bytes)); !status.ok()) {
    SLUICE_LOG(kDebug, "http tls write failed").Field("error", status);
    c.closing = true;
  }
}

void HttpTransport::CloseClient(Client& c) {
  c.closing = true;
  if (c.close_sent) return;
  c.close_sent = true;
  c.stream.Close();  // with close_notify when TLS is up
}

void HttpTransport::OnPeerClosed(reactor::TcpConnection& conn) {
  auto it = client_ids_.find(&conn);
  if (it == client_ids_.end()) {
    conn.CloseAfterFlush();
    return;
  }
  PeerClosed(*clients_.at(it->second));
}

void HttpTransport::PeerClosed(Client& c) {
  c.peer_closed = true;
  // Requests already received still get their answers.
  if (c.protocol == Client::Protocol::kHttp2) {
    FlushHttp2(c);
  } else if (!c.busy && c.queued.empty()) {
    CloseClient(c);
  }
}

void HttpTransport::OnClosed(reactor::TcpConnection& conn, const absl::Status& /*reason*/) {
  auto it = client_ids_.find(&conn);
  if (it == client_ids_.end()) return;
  auto client = clients_.find(it->second);
  client->second->closing = true;  // nothing more is written
  CancelStreams(*client->second);
  reactor_.CancelTimer(client->second->idle_timer);
  reactor_.CancelTimer(client->second->request_timer);
  clients_.erase(client);
  client_ids_.erase(it);
  MaybeFinishStop();
}

void HttpTransport::Drive(Client& c) {
  c.driving = true;
  while (!c.busy && !c.closing && !c.queued.empty()) {
    HttpRequest request = std::move(c.queued.front());
    c.queued.pop_front();
    Add(options_.requests);
    Dispatch(c, request, 0);
  }
  c.driving = false;
  if (!c.busy && !c.closing && c.queued.empty() && c.error_status != 0) {
    const HttpResponse response = HttpResponse::Error(c.error_status, c.error_message);
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

uint64_t HttpTransport::AddExchange(Client& c, const HttpRequest& request, int32_t stream) {
  auto exchange = std::make_unique<Exchange>();
  const uint64_t id = next_exchange_id_++;
  exchange->id = id;
  exchange->client = c.id;
  exchange->stream = stream;
  exchange->keep_alive = request.keep_alive;
  exchange->head = request.method == "HEAD";
  exchange->method = request.method;
  exchange->path = request.target.substr(0, request.target.find('?'));  // no query in logs
  exchanges_.emplace(id, std::move(exchange));
  if (c.protocol == Client::Protocol::kHttp2) {
    ++c.in_flight;
  } else {
    c.busy = true;
  }
  reactor_.CancelTimer(c.idle_timer);
  c.idle_timer = reactor::TimerId{};
  return id;
}

void HttpTransport::Dispatch(Client& c, HttpRequest& request, int32_t stream) {
  const uint64_t id = AddExchange(c, request, stream);
  // The answer may come now (Complete() sees `driving`) or later.
  serve_(request, c.loopback,
         [this, id](HttpResponse response) { Complete(id, std::move(response)); });
}

void HttpTransport::DispatchStream(Client& c, HttpRequest& request, int32_t stream) {
  if (!streaming_.serve) {
    (void)c.h2->Respond(stream, 500, "application/json", "{}");
    return;
  }
  const uint64_t id = AddExchange(c, request, stream);
  c.stream_exchanges[stream] = id;
  std::shared_ptr<HttpStreamHandler> handler =
      streaming_.serve(request, c.loopback, HttpStreamWriter(this, id));
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;  // answered at once
  if (handler == nullptr) {
    FinishStream(id, {});
    return;
  }
  it->second->handler = std::move(handler);
}

void HttpTransport::OnStreamEvent(Client& c, Http2Request& event) {
  auto it = c.stream_exchanges.find(event.stream_id);
  if (it == c.stream_exchanges.end()) {
    // Its handler has finished: the bytes are dropped, and consumed.
    if (event.event == Http2Event::kData) c.h2->Consume(event.stream_id, event.data.size());
    return;
  }
  const uint64_t id = it->second;
  std::shared_ptr<HttpStreamHandler> handler = HandlerOf(id);
  if (handler == nullptr) return;
  switch (event.event) {
    case Http2Event::kData:
      handler->OnData(event.data);
      return;
    case Http2Event::kEnd:
      handler->OnEnd();
      return;
    case Http2Event::kReset:
      exchanges_.at(id)->cancelled = true;
      c.stream_exchanges.erase(it);
      handler->OnCancel();
      return;
    case Http2Event::kRequest:
      return;
  }
}

std::shared_ptr<HttpStreamHandler> HttpTransport::HandlerOf(uint64_t id) const {
  auto it = exchanges_.find(id);
  return it == exchanges_.end() ? nullptr : it->second->handler;
}

void HttpTransport::CancelStreams(Client& c) {
  std::vector<uint64_t> ids;
  for (const auto& [stream, id] : c.stream_exchanges) ids.push_back(id);
  c.stream_exchanges.clear();
  for (uint64_t id : ids) {
    auto it = exchanges_.find(id);
    if (it == exchanges_.end()) continue;
    it->second->cancelled = true;
    if (std::shared_ptr<HttpStreamHandler> handler = it->second->handler) handler->OnCancel();
  }
}

HttpTransport::Live HttpTransport::FindStream(uint64_t id) const {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return {};
  Live live{.exchange = it->second.get()};
  if (!live.exchange->cancelled) {
    auto client = clients_.find(live.exchange->client);
    if (client != clients_.end() && !client->second->closing) live.client = client->second.get();
  }
  return live;
}

void HttpTransport::StartStream(uint64_t id, int status, std::string_view content_type,
                                const HttpHeaders& headers) {
  const Live live = FindStream(id);
  if (live.exchange == nullptr || live.exchange->started) return;
  live.exchange->started = true;
  if (live.client == nullptr) return;
  (void)live.client->h2->StartResponse(live.exchange->stream, status, content_type, headers);
  if (!live.client->driving) FlushHttp2(*live.client);
}

void HttpTransport::WriteStream(uint64_t id, std::string_view bytes) {
  const Live live = FindStream(id);
  if (live.client == nullptr || !live.exchange->started) return;
  (void)live.client->h2->SendData(live.exchange->stream, bytes);
  if (!live.client->driving) FlushHttp2(*live.client);
}

void HttpTransport::FinishStream(uint64_t id, const HttpHeaders& trailers) {
  const Live live = FindStream(id);
  if (live.exchange == nullptr) return;
  if (!live.exchange->started) StartStream(id, 200, "application/octet-stream", {});
  std::unique_ptr<Exchange> x = std::move(exchanges_.at(id));
  exchanges_.erase(id);
  Client* c = Find(x->client);
  if (c == nullptr) {
    MaybeFinishStop();
    return;
  }
  --c->in_flight;
  if (live.client != nullptr) {
    c->stream_exchanges.erase(x->stream);
    (void)c->h2->EndResponse(x->stream, trailers);
  }
  if (c->closing) return;
  if (!c->driving) {
    if (!Busy(*c)) ArmIdleTimer(*c);
    FlushHttp2(*c);
  }
}

void HttpTransport::ConsumeStream(uint64_t id, size_t bytes) {
  const Live live = FindStream(id);
  if (live.client == nullptr) return;
  live.client->h2->Consume(live.exchange->stream, bytes);
  if (!live.client->driving) FlushHttp2(*live.client);
}

size_t HttpTransport::UnsentStreamBytes(uint64_t id) const {
  const Live live = FindStream(id);
  return live.client == nullptr ? 0 : live.client->h2->UnsentBytes(live.exchange->stream);
}

void HttpTransport::Write(Exchange& x, HttpResponse response) {
  Client* c = Find(x.client);
  if (c == nullptr) return;
  if (response.status >= 400) LogRefusal(*c, response, x.method, x.path);
  if (c->protocol == Client::Protocol::kHttp2) {
    // False when the client reset the stream meanwhile: nothing to do.
    (void)c->h2->Respond(x.stream, response.status, response.content_type, std::move(response.body),
                         response.headers, x.head, response.trailers);
    return;
  }
  WriteHttp1(*c, response, x.keep_alive, x.head);
}

void HttpTransport::WriteHttp1(Client& c, const HttpResponse& response, bool keep_alive,
                               bool head) {
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

void HttpTransport::LogRefusal(const Client& c, const HttpResponse& response,
                               absl::string_view method, absl::string_view path) {
  if (!refusal_log_.Allow(options_.clock->Now(), "http refusals")) return;
  SLUICE_LOG(kWarning, "http refused")
      .Field("listener", name())
      .Field("client", c.conn->peer().HostString())
      .Field("method", method)
      .Field("path", path.substr(0, path.find('?')))
      .Field("status", response.status)
      .Field("reason", response.reason);
}

void HttpTransport::Complete(uint64_t id, HttpResponse response) {
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

// Stop -----------------------------------------------------------------------

void HttpTransport::Stop(absl::AnyInvocable<void()> done) {
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
  // Streams answer what is under way, then finish.
  std::vector<std::shared_ptr<HttpStreamHandler>> streams;
  for (auto& [id, exchange] : exchanges_) {
    if (exchange->handler != nullptr && !exchange->cancelled) streams.push_back(exchange->handler);
  }
  for (const std::shared_ptr<HttpStreamHandler>& handler : streams) handler->OnStop();
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

void HttpTransport::SetTlsContext(std::shared_ptr<const tls::ServerContext> context) {
  if (context != nullptr && options_.tls != nullptr) options_.tls = std::move(context);
}

void HttpTransport::MaybeFinishStop() {
  if (stopping_ && listener_ == nullptr && clients_.empty() && exchanges_.empty() && stop_done_) {
    std::exchange(stop_done_, nullptr)();
  }
}

}  // namespace sluice::api
