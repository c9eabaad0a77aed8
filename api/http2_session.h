// Http2Session: the HTTP/2 server side of one connection, sans-IO, over
// nghttp2's server session.
//
// Bytes in (Feed: the client preface first, then frames), complete requests
// out, each with its stream id, in the order their last frame arrived.
// Streams are independent: the caller may answer them in any order with
// Respond(), and collects the frames to write with TakeOutput() after every
// Feed() and Respond() (window updates from the client release response
// DATA that was waiting, so output may appear after a Feed that yields no
// request). No sockets, no clock.
//
// Limits (advertised in the first SETTINGS): SETTINGS_MAX_CONCURRENT_STREAMS
// (nghttp2 refuses streams beyond it), SETTINGS_MAX_HEADER_LIST_SIZE =
// limits.max_header_bytes (a larger header list yields a 431 rejection for
// that stream), a request body over limits.max_body_bytes (a 413 rejection
// for that stream, judged by content-length when given, else as the DATA
// arrives). A rejection is handed out like a request, with `error_status`
// set; its answer ends the stream, and when the client is still sending
// the stream is then reset with NO_ERROR (RFC 9113 section 8.1) so it
// stops. Request bodies are consumed as they arrive, so nghttp2 sends the
// WINDOW_UPDATEs that keep them flowing.
//
// Streaming requests (gRPC's streaming calls): when `streams` says so of a
// request's headers, the request is handed out at once (`streaming` set,
// no body), and its body follows as kData events, then kEnd when the
// client has sent everything, or kReset when it reset the stream before
// the answer ended. No body limit applies; instead flow control does:
// the client may send only a stream window (1 MiB) beyond what the
// caller has Consume()d. The answer may go out in pieces: StartResponse(),
// SendData() as often as needed, EndResponse() with the trailers. An
// answer that ends while the client still sends resets the stream with
// NO_ERROR.
//
// Errors: a connection-level protocol error (a bad preface, a malformed
// frame, a compression error) queues a GOAWAY; Feed() returns the error
// and wants_close() turns true: write the output, then close.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/http1_session.h"
#include "nghttp2/nghttp2.h"

namespace sluice::api {

enum class Http2Event {
  kRequest,  // a complete request, a rejection, or a streaming request's headers
  kData,     // streaming: the next bytes of the body, in `data`
  kEnd,      // streaming: the client has sent all of the body
  kReset,    // streaming: the client reset the stream; nothing more reaches it
};

struct Http2Request {
  int32_t stream_id = 0;
  Http2Event event = Http2Event::kRequest;
  HttpRequest request;     // target from :path; :authority also as "host"
  bool streaming = false;  // kRequest: the body comes as events
  std::string data;        // kData
  // Non-zero: the stream broke a limit (413, 431); answer it with this
  // status and `error`, without handling the request.
  int error_status = 0;
  std::string error;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class Http2Session {
 public:
  static constexpr uint32_t kDefaultMaxConcurrentStreams = 100;

  // True for a request (headers only, no body yet) whose body streams.
  using StreamsBody = std::function<bool(const HttpRequest& request)>;

  static absl::StatusOr<std::unique_ptr<Http2Session>> Create(
      const HttpLimits& limits, uint32_t max_concurrent_streams = kDefaultMaxConcurrentStreams,
      StreamsBody streams = nullptr);
  ~Http2Session();
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // Processes `bytes`, appending each complete request (or rejection) to
  // `requests`.
  absl::Status Feed(std::string_view bytes, std::vector<Http2Request>* requests);

  // Answers stream `stream_id`. Names in `headers` are lowercased (HTTP/2
  // wants them so); content-length is added. `head`: the same headers, no
  // body. With `trailers` (gRPC's grpc-status), the body is followed by a
  // HEADERS frame of them that ends the stream, and there is no
  // content-length. False when the stream is gone (reset by the client) or
  // already answered; the answer is dropped.
  bool Respond(int32_t stream_id, int status, std::string_view content_type, std::string body,
               const HttpHeaders& headers = {}, bool head = false,
               const HttpHeaders& trailers = {});

  // A streaming answer: the status and headers now (no content-length),
  // then SendData() any number of times, then EndResponse(). False when
  // the stream is gone or already answered.
  bool StartResponse(int32_t stream_id, int status, std::string_view content_type,
                     const HttpHeaders& headers = {});
  bool SendData(int32_t stream_id, std::string_view bytes);
  // Ends a started answer: the trailers (may be empty) end the stream.
  bool EndResponse(int32_t stream_id, const HttpHeaders& trailers);
  // Bytes of a streaming answer that wait for the client's flow-control
  // window (0 for a stream that is gone).
  size_t UnsentBytes(int32_t stream_id) const;
  // A streaming request's body bytes the caller is done with: the client
  // may send as many more.
  void Consume(int32_t stream_id, size_t bytes);

  // The streams whose request has begun arriving and is not complete yet
  // (the caller times them out).
  std::vector<int32_t> IncompleteStreams() const;
  // Gives up on an incomplete stream: its request will never be handed
  // out; the caller answers it (408). False when it is not incomplete.
  bool Abandon(int32_t stream_id);

  // Frames to write, in order; empties the buffer.
  std::string TakeOutput();

  // Starts a graceful close: a GOAWAY naming the last stream received;
  // streams already received still get their answers.
  void Shutdown();
  // Streams not closed yet (receiving, awaiting an answer, or sending one).
  bool has_streams() const { return !streams_.empty(); }
  // Nothing more will be read or written: write the output, then close.
  bool wants_close() const;

 private:
  struct Stream;

  Http2Session(const HttpLimits& limits, StreamsBody streams);
  absl::Status Init(uint32_t max_concurrent_streams);
  Stream* Find(int32_t stream_id);
  const Stream* Find(int32_t stream_id) const;
  void Emit(Http2Request event);
  void Reject(Stream& stream, int status, std::string message);
  // Submits the answer's HEADERS: content-length when given, a body
  // (from stream.response_body, as ReadBody gives it) when `with_body`.
  bool SubmitResponse(Stream& stream, int status, std::string_view content_type,
                      const HttpHeaders& headers, std::optional<size_t> content_length,
                      bool with_body);

  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user_data);
  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user_data);
  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data);
  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user_data);
  static int OnDataChunk(nghttp2_session* session, uint8_t flags, int32_t stream_id,
                         const uint8_t* data, size_t len, void* user_data);
  static int OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                           void* user_data);
  static ssize_t ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

  const HttpLimits limits_;
  const StreamsBody streams_body_;
  nghttp2_session* session_ = nullptr;
  absl::flat_hash_map<int32_t, std::unique_ptr<Stream>> streams_;
  std::vector<Http2Request>* out_ = nullptr;
  std::string output_;
  bool failed_ = false;
};

}  // namespace sluice::api
