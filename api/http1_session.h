// Http1Session: the HTTP/1.1 server side of one connection, sans-IO.
//
// Bytes in (Feed), parsed requests out, in order, however the bytes were
// split or pipelined; http-parser does the parsing (request line, headers,
// Content-Length and chunked bodies). No sockets, no clock: the caller
// answers each request with FormatResponse() in the order received.
//
// Errors: a malformed request, or one past the header or body limits, makes
// Feed() return an error whose code maps to the status to send before
// closing (400 malformed, 413 body too large, 431 headers too large); the
// session accepts no more input after that.
#pragma once

#include <http_parser.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sluice::api {

struct HttpRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = true;
  bool http2 = false;  // came on an HTTP/2 stream (gRPC needs one)

  // The first header named `name` (case-insensitive), or "".
  absl::string_view Header(absl::string_view name) const;
};

struct HttpLimits {
  size_t max_header_bytes = 64 * 1024;  // request line + headers
  size_t max_body_bytes = 1 << 20;
};

class Http1Session {
 public:
  explicit Http1Session(const HttpLimits& limits = {});
  Http1Session(const Http1Session&) = delete;
  Http1Session& operator=(const Http1Session&) = delete;

  // Parses `bytes`, appending each complete request to `requests`.
  absl::Status Feed(absl::string_view bytes, std::vector<HttpRequest>* requests);

  // The HTTP status to answer a Feed() error with.
  static int StatusForError(const absl::Status& error);

  // A complete response. `keep_alive` false adds "Connection: close".
  static std::string FormatResponse(int status, absl::string_view content_type,
                                    absl::string_view body, bool keep_alive,
                                    absl::string_view extra_headers = "");

 private:
  static int OnMessageBegin(http_parser* parser);
  static int OnUrl(http_parser* parser, const char* at, size_t length);
  static int OnHeaderField(http_parser* parser, const char* at, size_t length);
  static int OnHeaderValue(http_parser* parser, const char* at, size_t length);
  static int OnHeadersComplete(http_parser* parser);
  static int OnBody(http_parser* parser, const char* at, size_t length);
  static int OnMessageComplete(http_parser* parser);

  bool CountHeaderBytes(size_t length);

  const HttpLimits limits_;
  http_parser parser_{};
  http_parser_settings settings_{};
  HttpRequest current_;
  bool in_header_value_ = false;
  size_t header_bytes_ = 0;
  absl::Status limit_error_;
  absl::Status failed_;
  std::vector<HttpRequest>* out_ = nullptr;
};

}  // namespace sluice::api
