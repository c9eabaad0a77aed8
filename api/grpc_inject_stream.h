// GrpcInjectStream: one sluice.v1.Injection/InjectStream call, the
// handler of its HTTP/2 stream (api/http_stream.h). It takes the stream's
// messages apart (grpc/message_reader.h), injects each as
// POST /api/v1/messages would (through `inject`, a few at a time), and
// answers each with an InjectResponse, in the order the requests came,
// once its messages are durable; a request that stored nothing gets its
// error in the response and the stream goes on. After the client's last
// request has been answered the stream ends with OK.
//
// Bounded memory: at most `max_in_flight` requests are being injected,
// and the bytes behind them are not consumed (no WINDOW_UPDATE) until one
// finishes, nor while more than `max_unsent_bytes` of answers wait for a
// client that does not read them. So a stream holds at most
// max_in_flight messages, one stream window (1 MiB) of request bytes and
// max_unsent_bytes of answers (plus one).
//
// A broken frame (a compressed message without an encoding, a message cut
// short at the end) ends the stream with INTERNAL, a message over
// `max_message_bytes` with RESOURCE_EXHAUSTED, an unknown grpc-encoding
// with UNIMPLEMENTED, a stop with UNAVAILABLE: each after the requests
// before it have been answered; requests received but not started are not
// taken. A cancelled stream takes nothing more; what is being injected
// finishes (and stays injected), unanswered.
//
// Used only on its shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "api/http_injector.h"
#include "api/http_response.h"
#include "api/http_stream.h"
#include "grpc/message_reader.h"

namespace sluice::api {

struct GrpcInjectStreamOptions {
  size_t max_message_bytes = 16 << 20;
  size_t max_in_flight = 8;
  size_t max_unsent_bytes = 256 << 10;
};

class GrpcInjectStream final : public HttpStreamHandler,
                               public std::enable_shared_from_this<GrpcInjectStream> {
 public:
  // Injects one request's JSON, answering in `format` through `reply`.
  using Inject = std::function<void(std::string json, InjectionFormat format, HttpReply reply)>;

  // Starts the answer (200, application/grpc). `encoding`: the call's
  // grpc-encoding header.
  static std::shared_ptr<GrpcInjectStream> Start(HttpStreamWriter writer, std::string encoding,
                                                 Inject inject, GrpcInjectStreamOptions options);

  void OnData(std::string_view bytes) override;
  void OnEnd() override;
  void OnCancel() override;
  void OnProgress() override;
  void OnStop() override;
  // The call's deadline has passed: ends the stream with DEADLINE_EXCEEDED
  // now; what is being injected goes on, unanswered.
  void Expire();

  size_t in_flight() const { return in_flight_; }

 private:
  struct Answer {
    bool ready = false;
    std::string framed;  // the InjectResponse as a gRPC message
  };

  GrpcInjectStream(HttpStreamWriter writer, std::string encoding, Inject inject,
                   GrpcInjectStreamOptions options);
  // Starts nothing more.
  bool closed_to_requests() const { return cancelled_ || stopping_ || !error_.ok(); }
  // Reads nothing more: what arrives is consumed and dropped.
  bool input_closed() const { return closed_to_requests() || !input_error_.ok(); }
  // Starts waiting requests while there is room.
  void Pump();
  void StartOne(grpc::Message message);
  void Answered(uint64_t sequence, HttpResponse response);
  // Writes the answers that are next in order.
  void Flush();
  // Consumes the bytes held back, once there is room for more.
  void Release();
  void Fail(absl::Status error);
  // Ends the stream once nothing is under way.
  void MaybeFinish();

  HttpStreamWriter writer_;
  const std::string encoding_;
  const Inject inject_;
  const GrpcInjectStreamOptions options_;
  grpc::MessageReader reader_;
  std::deque<grpc::Message> waiting_;  // received, not started
  std::deque<Answer> answers_;         // started, from sequence first_
  uint64_t first_ = 0;
  size_t in_flight_ = 0;
  size_t held_ = 0;  // request bytes received and not consumed
  bool ended_ = false;
  bool cancelled_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  bool pumping_ = false;
  absl::Status error_;  // ends the stream once what is under way is answered
  // A broken frame: ends the stream once the requests before it are
  // answered.
  absl::Status input_error_;
};

}  // namespace sluice::api
