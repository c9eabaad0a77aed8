#include "api/http2_session.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sluice::api {
namespace {

// Windows for request bodies: per stream, and for the whole connection.
// nghttp2 sends WINDOW_UPDATE once half of one has been consumed.
constexpr int32_t kStreamWindow = 1 << 20;
constexpr int32_t kConnectionWindow = 16 << 20;

Http2Session* Self(void* user_data) { return static_cast<Http2Session*>(user_data); }

std::string_view View(const uint8_t* data, size_t length) {
  return std::string_view(reinterpret_cast<const char*>(data), length);
}

nghttp2_nv Nv(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

// HTTP/1.1 connection headers that HTTP/2 forbids.
bool ConnectionSpecific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade";
}

}  // namespace

struct Http2Session::Stream {
  int32_t id = 0;
  HttpRequest request;
  size_t header_bytes = 0;
  bool headers_too_large = false;
  bool request_ended = false;  // END_STREAM received
  bool handed_out = false;     // the request (or its rejection) went to the caller
  bool rejected = false;       // no request will be handed out
  bool streaming = false;      // the body goes to the caller as events
  bool responded = false;
  bool response_ended = false;  // all of the answer's body is in response_body
  // The answer's body not yet taken by nghttp2, from response_offset.
  std::string response_body;
  size_t response_offset = 0;
  // Sent after the body, ending the stream; lower-case names.
  std::vector<std::pair<std::string, std::string>> trailers;
};

absl::StatusOr<std::unique_ptr<Http2Session>> Http2Session::Create(const HttpLimits& limits,
                                                                   uint32_t max_concurrent_streams,
                                                                   StreamsBody streams) {
  std::unique_ptr<Http2Session> session(new Http2Session(limits, std::move(streams)));
  if (absl::Status status = session->Init(max_concurrent_streams); !status.ok()) return status;
  return session;
}

Http2Session::Http2Session(const HttpLimits& limits, StreamsBody streams)
    : limits_(limits), streams_body_(std::move(streams)) {}

Http2Session::~Http2Session() {
  if (session_ != nullptr) nghttp2_session_del(session_);
}

absl::Status Http2Session::Init(uint32_t max_concurrent_streams) {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) {
    return absl::ResourceExhaustedError("nghttp2: out of memory");
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &OnFrameSend);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnStreamClose);
  // Window updates follow what is consumed: at once for ordinary bodies,
  // as the caller says for streaming ones (Consume()).
  nghttp2_option* option = nullptr;
  if (nghttp2_option_new(&option) != 0) {
    nghttp2_session_callbacks_del(callbacks);
    return absl::ResourceExhaustedError("nghttp2: out of memory");
  }
  nghttp2_option_set_no_auto_window_update(option, 1);
  const int rv = nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) return absl::InternalError(absl::StrCat("nghttp2: ", nghttp2_strerror(rv)));
  const uint32_t max_header_list =
      static_cast<uint32_t>(std::min<size_t>(limits_.max_header_bytes, UINT32_MAX));
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, max_header_list},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow},
  };
  if (const int s = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings,
                                            sizeof(settings) / sizeof(settings[0]));
      s != 0) {
    return absl::InternalError(absl::StrCat("nghttp2: ", nghttp2_strerror(s)));
  }
  if (const int s =
          nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
      s != 0) {
    return absl::InternalError(absl::StrCat("nghttp2: ", nghttp2_strerror(s)));
  }
  return absl::OkStatus();
}

absl::Status Http2Session::Feed(std::string_view bytes, std::vector<Http2Request>* requests) {
  if (failed_) return absl::FailedPreconditionError("http2: session has failed");
  out_ = requests;
  const ssize_t rv = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  out_ = nullptr;
  if (rv < 0) {
    failed_ = true;
    // A GOAWAY tells the client why (when the error left room for one).
    nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    return absl::InvalidArgumentError(
        absl::StrCat("http2: ", nghttp2_strerror(static_cast<int>(rv))));
  }
  return absl::OkStatus();
}

Http2Session::Stream* Http2Session::Find(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

const Http2Session::Stream* Http2Session::Find(int32_t stream_id) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Http2Session::Emit(Http2Request event) {
  // Events arise while Feed() runs; nghttp2 resets streams at other times
  // only for the caller's own answers.
  if (out_ != nullptr) out_->push_back(std::move(event));
}

void Http2Session::Reject(Stream& stream, int status, std::string message) {
  stream.rejected = true;
  stream.request = HttpRequest();
  if (stream.handed_out || out_ == nullptr) return;
  stream.handed_out = true;
  Http2Request rejection;
  rejection.stream_id = stream.id;
  rejection.error_status = status;
  rejection.error = std::move(message);
  out_->push_back(std::move(rejection));
}

bool Http2Session::Respond(int32_t stream_id, int status, std::string_view content_type,
                           std::string body, const HttpHeaders& headers, bool head,
                           const HttpHeaders& trailers) {
  Stream* stream = Find(stream_id);
  if (stream == nullptr || stream->responded || failed_) return false;
  stream->response_ended = true;
  for (const auto& [name, value] : trailers) {
    stream->trailers.emplace_back(absl::AsciiStrToLower(name), value);
  }
  // Trailers need a DATA phase to follow, even for an empty body.
  const bool with_body = !head && (!body.empty() || !stream->trailers.empty());
  const std::optional<size_t> length =
      trailers.empty() ? std::optional<size_t>(body.size()) : std::nullopt;
  if (with_body) stream->response_body = std::move(body);
  return SubmitResponse(*stream, status, content_type, headers, length, with_body);
}

bool Http2Session::StartResponse(int32_t stream_id, int status, std::string_view content_type,
                                 const HttpHeaders& headers) {
  Stream* stream = Find(stream_id);
  if (stream == nullptr || stream->responded || failed_) return false;
  return SubmitResponse(*stream, status, content_type, headers, std::nullopt, /*with_body=*/true);
}

bool Http2Session::SubmitResponse(Stream& stream, int status, std::string_view content_type,
                                  const HttpHeaders& headers, std::optional<size_t> content_length,
                                  bool with_body) {
  stream.responded = true;
  std::vector<std::pair<std::string, std::string>> fields;
  fields.reserve(headers.size() + 3);
  fields.emplace_back(":status", absl::StrCat(status));
  fields.emplace_back("content-type", std::string(content_type));
  if (content_length.has_value())
    fields.emplace_back("content-length", absl::StrCat(*content_length));
  for (const auto& [name, value] : headers) {
    std::string lower = absl::AsciiStrToLower(name);
    if (ConnectionSpecific(lower) || lower == "content-length") continue;
    fields.emplace_back(std::move(lower), value);
  }
  std::vector<nghttp2_nv> nva;
  nva.reserve(fields.size());
  for (const auto& [name, value] : fields) nva.push_back(Nv(name, value));
  nghttp2_data_provider provider{};
  provider.source.ptr = &stream;
  provider.read_callback = &ReadBody;
  return nghttp2_submit_response(session_, stream.id, nva.data(), nva.size(),
                                 with_body ? &provider : nullptr) == 0;
}

bool Http2Session::SendData(int32_t stream_id, std::string_view bytes) {
  Stream* stream = Find(stream_id);
  if (stream == nullptr || !stream->responded || stream->response_ended || failed_) return false;
  stream->response_body.append(bytes);
  // Fails harmlessly when the body was not waiting (deferred) for data.
  (void)nghttp2_session_resume_data(session_, stream_id);
  return true;
}

bool Http2Session::EndResponse(int32_t stream_id, const HttpHeaders& trailers) {
  Stream* stream = Find(stream_id);
  if (stream == nullptr || !stream->responded || stream->response_ended || failed_) return false;
  stream->response_ended = true;
  for (const auto& [name, value] : trailers) {
    stream->trailers.emplace_back(absl::AsciiStrToLower(name), value);
  }
  (void)nghttp2_session_resume_data(session_, stream_id);
  return true;
}

size_t Http2Session::UnsentBytes(int32_t stream_id) const {
  const Stream* stream = Find(stream_id);
  return stream == nullptr ? 0 : stream->response_body.size() - stream->response_offset;
}

void Http2Session::Consume(int32_t stream_id, size_t bytes) {
  if (bytes == 0 || failed_) return;
  // A stream already closed counts for the connection window only.
  (void)nghttp2_session_consume(session_, stream_id, bytes);
}

std::vector<int32_t> Http2Session::IncompleteStreams() const {
  std::vector<int32_t> ids;
  for (const auto& [id, stream] : streams_) {
    if (!stream->handed_out && !stream->rejected && !stream->request_ended) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

bool Http2Session::Abandon(int32_t stream_id) {
  Stream* stream = Find(stream_id);
  if (stream == nullptr || stream->handed_out || stream->rejected || stream->request_ended) {
    return false;
  }
  stream->rejected = true;
  stream->handed_out = true;
  stream->request = HttpRequest();
  return true;
}

std::string Http2Session::TakeOutput() {
  while (true) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      failed_ = true;
      break;
    }
    if (n == 0) break;
    output_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  return std::exchange(output_, {});
}

void Http2Session::Shutdown() {
  if (failed_) return;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

bool Http2Session::wants_close() const {
  return failed_ ||
         (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0);
}

// nghttp2 callbacks -------------------------------------------------------------

int Http2Session::OnBeginHeaders(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                                 void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  Http2Session* self = Self(user_data);
  auto stream = std::make_unique<Stream>();
  stream->id = frame->hd.stream_id;
  stream->request.http2 = true;
  self->streams_[stream->id] = std::move(stream);
  return 0;
}

int Http2Session::OnHeader(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                           const uint8_t* name, size_t namelen, const uint8_t* value,
                           size_t valuelen, uint8_t /*flags*/, void* user_data) {
  Http2Session* self = Self(user_data);
  Stream* stream = self->Find(frame->hd.stream_id);
  if (stream == nullptr || stream->rejected) return 0;
  // RFC 9113 section 6.5.2: each field counts its name, value and 32.
  stream->header_bytes += namelen + valuelen + 32;
  if (stream->header_bytes > self->limits_.max_header_bytes) {
    stream->headers_too_large = true;
    stream->request.headers.clear();
    return 0;
  }
  if (stream->headers_too_large || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;  // trailers are read and dropped
  }
  const std::string_view n = View(name, namelen);
  const std::string_view v = View(value, valuelen);
  if (n == ":method") {
    stream->request.method = std::string(v);
  } else if (n == ":path") {
    stream->request.target = std::string(v);
  } else if (n == ":authority") {
    stream->request.headers.emplace_back("host", std::string(v));
  } else if (!n.empty() && n[0] != ':') {
    stream->request.headers.emplace_back(std::string(n), std::string(v));
  }
  return 0;
}

int Http2Session::OnFrameRecv(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                              void* user_data) {
  Http2Session* self = Self(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  Stream* stream = self->Find(frame->hd.stream_id);
  if (stream == nullptr) return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
      !stream->rejected) {
    if (stream->headers_too_large) {
      self->Reject(
          *stream, 431,
          absl::StrCat("request headers exceed ", self->limits_.max_header_bytes, " bytes"));
    } else if (self->streams_body_ && self->streams_body_(stream->request)) {
      // Streaming: the caller takes the headers now and the body as it
      // comes.
      stream->streaming = true;
      stream->handed_out = true;
      Http2Request opened;
      opened.stream_id = stream->id;
      opened.streaming = true;
      opened.request = std::move(stream->request);
      stream->request = HttpRequest();
      self->Emit(std::move(opened));
    } else {
      // Refuse an oversize body before reading it, when its length is
      // declared (nghttp2 checks the DATA against it).
      const absl::string_view declared = stream->request.Header("content-length");
      uint64_t length = 0;
      if (!declared.empty() && absl::SimpleAtoi(declared, &length) &&
          length > self->limits_.max_body_bytes) {
        self->Reject(*stream, 413,
                     absl::StrCat("request body exceeds ", self->limits_.max_body_bytes, " bytes"));
      }
    }
  }
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
  stream->request_ended = true;
  if (stream->streaming) {
    Http2Request end;
    end.stream_id = stream->id;
    end.event = Http2Event::kEnd;
    self->Emit(std::move(end));
    return 0;
  }
  if (stream->rejected || stream->handed_out || self->out_ == nullptr) return 0;
  stream->handed_out = true;
  Http2Request complete;
  complete.stream_id = stream->id;
  complete.request = std::move(stream->request);
  stream->request = HttpRequest();
  self->out_->push_back(std::move(complete));
  return 0;
}

int Http2Session::OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame,
                              void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
  Stream* stream = Self(user_data)->Find(frame->hd.stream_id);
  // The answer to a rejected (or streaming) request is out while the
  // client still sends its body: ask it to stop (RFC 9113 section 8.1).
  if (stream != nullptr && (stream->rejected || stream->streaming) && !stream->request_ended) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

int Http2Session::OnDataChunk(nghttp2_session* session, uint8_t /*flags*/, int32_t stream_id,
                              const uint8_t* data, size_t len, void* user_data) {
  Http2Session* self = Self(user_data);
  Stream* stream = self->Find(stream_id);
  if (stream != nullptr && stream->streaming) {
    Http2Request chunk;
    chunk.stream_id = stream_id;
    chunk.event = Http2Event::kData;
    chunk.data.assign(reinterpret_cast<const char*>(data), len);
    self->Emit(std::move(chunk));
    return 0;  // consumed when the caller says so
  }
  // Buffered (or dropped) data is consumed now.
  (void)nghttp2_session_consume(session, stream_id, len);
  if (stream == nullptr || stream->rejected) return 0;
  if (stream->request.body.size() + len > self->limits_.max_body_bytes) {
    self->Reject(*stream, 413,
                 absl::StrCat("request body exceeds ", self->limits_.max_body_bytes, " bytes"));
    return 0;
  }
  stream->request.body.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int Http2Session::OnStreamClose(nghttp2_session* /*session*/, int32_t stream_id,
                                uint32_t /*error_code*/, void* user_data) {
  Http2Session* self = Self(user_data);
  Stream* stream = self->Find(stream_id);
  if (stream != nullptr && stream->streaming && !stream->response_ended) {
    Http2Request reset;
    reset.stream_id = stream_id;
    reset.event = Http2Event::kReset;
    self->Emit(std::move(reset));
  }
  self->streams_.erase(stream_id);
  return 0;
}

ssize_t Http2Session::ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf,
                               size_t length, uint32_t* data_flags, nghttp2_data_source* source,
                               void* /*user_data*/) {
  Stream* stream = static_cast<Stream*>(source->ptr);
  const size_t available = stream->response_body.size() - stream->response_offset;
  // A streaming answer waits for SendData() or EndResponse().
  if (available == 0 && !stream->response_ended) return NGHTTP2_ERR_DEFERRED;
  const size_t n = std::min(length, available);
  std::memcpy(buf, stream->response_body.data() + stream->response_offset, n);
  stream->response_offset += n;
  if (stream->response_offset == stream->response_body.size()) {
    stream->response_body.clear();
    stream->response_offset = 0;
  }
  if (stream->response_ended && stream->response_body.empty()) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    stream->response_body = std::string();
    if (!stream->trailers.empty()) {
      // The trailers end the stream instead of this DATA frame.
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      std::vector<nghttp2_nv> nva;
      nva.reserve(stream->trailers.size());
      for (const auto& [name, value] : stream->trailers) nva.push_back(Nv(name, value));
      if (nghttp2_submit_trailer(session, stream_id, nva.data(), nva.size()) != 0) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
    }
  }
  return static_cast<ssize_t>(n);
}

}  // namespace sluice::api
