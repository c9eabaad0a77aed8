// HttpStreamHandler and HttpStreamWriter: one HTTP/2 request whose body
// streams (gRPC's streaming calls), between the transport
// (api/http_transport.h) and whoever serves it.
//
// The transport calls the handler as the request's frames arrive; the
// handler answers through its writer: Start() the answer, Write() its body
// in pieces, Finish() it with trailers, and Consume() the request bytes it
// is done with, which is what lets the client send more (HTTP/2 flow
// control: a client may run one stream window ahead, no further).
//
// Every handler calls Finish() exactly once, also after a cancellation,
// once it has no work left that would use the writer; the transport keeps
// the exchange (and a graceful stop waits) until then. A writer whose
// stream or connection has gone does nothing. Handlers and writers are
// used only on the shard of their connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/http2_session.h"

namespace sluice::api {

class HttpStreamHandler {
 public:
  virtual ~HttpStreamHandler() = default;

  // The next bytes of the request body, in order.
  virtual void OnData(std::string_view bytes) = 0;
  // The client has sent all of the body.
  virtual void OnEnd() = 0;
  // The client reset the stream or its connection closed: nothing written
  // reaches it any more. Finish() is still owed.
  virtual void OnCancel() = 0;
  // The client's frames were processed, and with them any window updates:
  // answer bytes held back (unsent_bytes()) may have gone out.
  virtual void OnProgress() = 0;
  // sluiced is stopping: take nothing new, answer what is under way, then
  // Finish().
  virtual void OnStop() = 0;
};

// What a writer drives; the transport implements it. `id` names the
// exchange.
class HttpStreamSink {
 public:
  virtual void StartStream(uint64_t id, int status, std::string_view content_type,
                           const HttpHeaders& headers) = 0;
  virtual void WriteStream(uint64_t id, std::string_view bytes) = 0;
  virtual void FinishStream(uint64_t id, const HttpHeaders& trailers) = 0;
  virtual void ConsumeStream(uint64_t id, size_t bytes) = 0;
  virtual size_t UnsentStreamBytes(uint64_t id) const = 0;

 protected:
  ~HttpStreamSink() = default;
};

class HttpStreamWriter {
 public:
  HttpStreamWriter(HttpStreamSink* sink, uint64_t id) : sink_(sink), id_(id) {}

  // The status and headers (no content-length: the body streams).
  void Start(int status, std::string_view content_type, const HttpHeaders& headers = {}) {
    sink_->StartStream(id_, status, content_type, headers);
  }
  void Write(std::string_view bytes) { sink_->WriteStream(id_, bytes); }
  // Ends the answer (starting it with 200 if it was not) and the exchange.
  void Finish(const HttpHeaders& trailers) { sink_->FinishStream(id_, trailers); }
  void Consume(size_t bytes) { sink_->ConsumeStream(id_, bytes); }
  // Written bytes the client's flow control still holds back.
  size_t unsent_bytes() const { return sink_->UnsentStreamBytes(id_); }

 private:
  HttpStreamSink* sink_;
  uint64_t id_;
};

}  // namespace sluice::api
