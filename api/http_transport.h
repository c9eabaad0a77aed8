// HttpTransport: the connections of one HTTP listener on one shard, up to
// complete requests and back: TLS, protocol detection, HTTP/1.1 pipelining,
// HTTP/2 streams, timeouts and a graceful stop. What a request means is the
// `serve` callback's business (HttpServer: routes, authentication,
// handlers); it answers each request through its HttpReply, now or later.
//
// Protocols: on a plaintext listener a connection that opens with the
// HTTP/2 client preface is HTTP/2 (h2c with prior knowledge; no Upgrade),
// any other is HTTP/1.1. With `tls` set every connection is TLS, and ALPN
// decides: "h2" is HTTP/2, anything else (or none) HTTP/1.1.
//
// HTTP/2 (api/http2_session.h): streams are independent; each request is
// served as soon as it is complete and answered when its answer is ready,
// in any order, up to `max_concurrent_streams` at a time. A stream that
// broke a limit is answered 413/431 alone; a protocol error ends the
// connection with GOAWAY. A stream whose request is not complete within
// one to two `request_timeout`s is answered 408. Stopping sends GOAWAY
// once the answers owed have been given.
//
// HTTP/1.1: keep-alive, with pipelined requests answered strictly in
// order. Requests are served one at a time per connection: while one waits
// for its answer, the requests behind it are parsed and held (reading
// pauses once `max_queued_requests` wait), and served after it, so their
// effects happen in the order sent. Limits come from Http1Session: a
// header section over limits.max_header_bytes gets 431, a body over
// limits.max_body_bytes 413, a malformed request 400; each is the last
// answer on its connection (after the answers owed to earlier requests). A
// request that has started arriving must be complete within
// `request_timeout` (408 and close: slow clients); a connection with
// nothing to do is closed after `idle_timeout`.
//
// Streaming requests (HTTP/2 only; gRPC's streaming calls): the requests
// `streaming.wants` picks by their headers are served at once by
// `streaming.serve`, which returns the stream's handler
// (api/http_stream.h); the body then reaches the handler as it arrives,
// at the pace the handler consumes it. The handler hears of a reset
// stream or a closed connection (OnCancel) and of a stop (OnStop); its
// exchange lasts until it calls Finish().
//
// Every answer of 400 or above is logged (rate-limited) with the client,
// method, path (no query) and reason. Used only on its shard; Stop's
// `done` runs once every answer owed has been written and every
// connection has closed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/http1_session.h"
#include "api/http2_session.h"
#include "api/http_response.h"
#include "api/http_stream.h"
#include "common/clock.h"
#include "common/log_limiter.h"
#include "common/metrics.h"
#include "reactor/reactor.h"
#include "reactor/tcp_connection.h"
#include "reactor/tcp_listener.h"
#include "tls/server_context.h"

namespace sluice::api {

struct HttpTransportOptions {
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
  common::Counter* requests = nullptr;  // may be null
  const common::Clock* clock = common::Clock::Real();
};

struct HttpStreaming {
  // Which HTTP/2 requests stream, by their headers; none when empty.
  Http2Session::StreamsBody wants;
  // Serves one when its headers arrive: its handler, or null when it was
  // answered at once (writer.Finish() called).
  std::function<std::shared_ptr<HttpStreamHandler>(HttpRequest& request, bool loopback,
                                                   HttpStreamWriter writer)>
      serve;
};

class HttpTransport final : public reactor::TcpConnection::Handler, private HttpStreamSink {
 public:
  // Serves one complete request (its body may be moved from); `loopback`:
  // the client connected from a loopback address.
  using Serve = std::function<void(HttpRequest& request, bool loopback, HttpReply reply)>;

  HttpTransport(reactor::Reactor& reactor, int listen_fd, HttpTransportOptions options, Serve serve,
                HttpStreaming streaming = {});
  ~HttpTransport() override;
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  void Stop(absl::AnyInvocable<void()> done);
  bool stopping() const { return stopping_; }
  // New connections on a TLS listener use `context` (certificate rotation);
  // null, or a plaintext listener, ignores it.
  void SetTlsContext(std::shared_ptr<const tls::ServerContext> context);
  // "https" or "http", for logs.
  absl::string_view name() const { return options_.tls != nullptr ? "https" : "http"; }

  void OnData(reactor::TcpConnection& conn, absl::string_view data) override;
  void OnPeerClosed(reactor::TcpConnection& conn) override;
  void OnClosed(reactor::TcpConnection& conn, const absl::Status& reason) override;

 private:
  struct Client;
  struct Exchange;

  // Logs (rate-limited) an answer of 400 or above: listener, client,
  // request and reason.
  void LogRefusal(const Client& c, const HttpResponse& response, absl::string_view method = "",
                  absl::string_view path = "");
  void Accept(reactor::TcpConnection* conn);
  Client* Find(uint64_t id);
  // Waiting for an answer (nothing to time out).
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
  // HTTP/1.1: serves queued requests until one waits, then writes.
  void Drive(Client& c);
  // HTTP/2: writes what the session has, closes when it is done.
  void FlushHttp2(Client& c);
  // A new exchange of `c` for `request`: its id.
  uint64_t AddExchange(Client& c, const HttpRequest& request, int32_t stream);
  // Serves one request as an exchange of `c` (`stream` 0 for HTTP/1.1).
  void Dispatch(Client& c, HttpRequest& request, int32_t stream);
  // Serves a streaming request (its headers) as an exchange of `c`.
  void DispatchStream(Client& c, HttpRequest& request, int32_t stream);
  // A streaming exchange's event from the session.
  void OnStreamEvent(Client& c, Http2Request& event);
  // The handler of streaming exchange `id`, or null.
  std::shared_ptr<HttpStreamHandler> HandlerOf(uint64_t id) const;
  // The client's streaming exchanges, told their client has gone.
  void CancelStreams(Client& c);

  // HttpStreamSink.
  void StartStream(uint64_t id, int status, std::string_view content_type,
                   const HttpHeaders& headers) override;
  void WriteStream(uint64_t id, std::string_view bytes) override;
  void FinishStream(uint64_t id, const HttpHeaders& trailers) override;
  void ConsumeStream(uint64_t id, size_t bytes) override;
  size_t UnsentStreamBytes(uint64_t id) const override;
  // The exchange and its client, while both are there and it is streaming.
  struct Live;
  Live FindStream(uint64_t id) const;
  void Write(Exchange& x, HttpResponse response);
  void WriteHttp1(Client& c, const HttpResponse& response, bool keep_alive, bool head);
  // The answer for exchange `id` has arrived.
  void Complete(uint64_t id, HttpResponse response);
  void MaybeFinishStop();

  reactor::Reactor& reactor_;
  HttpTransportOptions options_;
  Serve serve_;
  HttpStreaming streaming_;
  reactor::TcpListener* listener_ = nullptr;
  common::LogLimiter refusal_log_{/*per_second=*/20, /*burst=*/100};
  absl::flat_hash_map<uint64_t, std::unique_ptr<Client>> clients_;
  absl::flat_hash_map<reactor::TcpConnection*, uint64_t> client_ids_;
  uint64_t next_client_id_ = 1;
  // Requests being answered, by id; one stays until its answer arrives,
  // even if its client has gone.
  absl::flat_hash_map<uint64_t, std::unique_ptr<Exchange>> exchanges_;
  uint64_t next_exchange_id_ = 1;
  bool stopping_ = false;
  absl::AnyInvocable<void()> stop_done_;
};

}  // namespace sluice::api
