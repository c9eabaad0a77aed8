// Http2TestClient: an HTTP/2 client for tests, nghttp2's client session
// driven in memory (TakeOutput / Feed), with every response recorded per
// stream. Connect() + Exchange() drive it over a blocking loopback socket.
#pragma once

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace sluice::api::testing {

struct ClientStream {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::map<std::string, std::string> trailers;  // a HEADERS frame after the body
  std::string body;
  bool closed = false;
  uint32_t close_code = 0;
  // What is still to be sent of the request body, and how much per DATA
  // frame.
  std::string upload;
  size_t upload_offset = 0;
  size_t chunk = 16384;
  bool defer_upload = false;
};

class Http2TestClient {
 public:
  explicit Http2TestClient(int32_t initial_window = NGHTTP2_INITIAL_WINDOW_SIZE) {
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnClose);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrame);
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(initial_window)}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 1);
  }
  ~Http2TestClient();

  int32_t Submit(const std::string& method, const std::string& path,
                 std::vector<std::pair<std::string, std::string>> headers = {},
                 std::string body = "", size_t chunk = 16384, bool defer_upload = false) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {":method", method}, {":path", path}, {":scheme", "http"}, {":authority", "test"}};
    for (auto& h : headers) fields.push_back(std::move(h));
    std::vector<nghttp2_nv> nva;
    for (const auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    }
    auto stream = std::make_unique<ClientStream>();
    stream->upload = std::move(body);
    stream->chunk = chunk;
    stream->defer_upload = defer_upload;
    nghttp2_data_provider provider{};
    provider.source.ptr = stream.get();
    provider.read_callback = &ReadUpload;
    const bool with_body = !stream->upload.empty() || defer_upload;
    const int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                              with_body ? &provider : nullptr, nullptr);
    EXPECT_GT(id, 0) << nghttp2_strerror(id);
    streams_[id] = std::move(stream);
    return id;
  }

  std::string TakeOutput() {
    std::string out;
    const uint8_t* data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
      out.append(reinterpret_cast<const char*>(data), n);
    }
    return out;
  }

  void Feed(const std::string& bytes) {
    const ssize_t rv = nghttp2_session_mem_recv(
        session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    EXPECT_EQ(rv, static_cast<ssize_t>(bytes.size())) << nghttp2_strerror(rv);
  }

  ClientStream& stream(int32_t id) { return *streams_.at(id); }

  // Over a socket: connects to 127.0.0.1:`port`, then writes and reads
  // until every stream in `ids` is closed or `timeout_ms` passes without a
  // byte. False on a socket error or timeout.
  bool Connect(uint16_t port);
  bool Exchange(const std::vector<int32_t>& ids, int timeout_ms = 60000);
  // Reads until the server closes the connection; false on a timeout.
  bool ReadUntilClosed(int timeout_ms = 10000);
  int fd() const { return fd_; }
  nghttp2_session* session() { return session_; }

  bool goaway = false;
  uint32_t goaway_code = 0;
  int window_updates = 0;
  std::vector<int32_t> close_order;
  size_t data_bytes = 0;  // DATA payload received, all streams

 private:
  static Http2TestClient* Self(void* p) { return static_cast<Http2TestClient*>(p); }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                      void* user_data) {
    auto it = Self(user_data)->streams_.find(frame->hd.stream_id);
    if (it == Self(user_data)->streams_.end()) return 0;
    std::string n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") it->second->status = std::stoi(v);
    if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
      it->second->trailers[n] = v;
    } else {
      it->second->headers[n] = v;
    }
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                    void* user_data) {
    Self(user_data)->data_bytes += len;
    Self(user_data)->streams_.at(stream_id)->body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t stream_id, uint32_t code, void* user_data) {
    ClientStream& s = *Self(user_data)->streams_.at(stream_id);
    s.closed = true;
    s.close_code = code;
    Self(user_data)->close_order.push_back(stream_id);
    return 0;
  }
  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      Self(user_data)->goaway = true;
      Self(user_data)->goaway_code = frame->goaway.error_code;
    }
    if (frame->hd.type == NGHTTP2_WINDOW_UPDATE) ++Self(user_data)->window_updates;
    return 0;
  }
  static ssize_t ReadUpload(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                            nghttp2_data_source* source, void*) {
    ClientStream& s = *static_cast<ClientStream*>(source->ptr);
    if (s.defer_upload) return NGHTTP2_ERR_DEFERRED;
    const size_t n = std::min({length, s.chunk, s.upload.size() - s.upload_offset});
    std::memcpy(buf, s.upload.data() + s.upload_offset, n);
    s.upload_offset += n;
    if (s.upload_offset == s.upload.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<ClientStream>> streams_;
  int fd_ = -1;
};

}  // namespace sluice::api::testing
