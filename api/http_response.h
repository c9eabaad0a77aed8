// HttpResponse: one answer of the HTTP API, whichever protocol carries it
// (HTTP/1.1 or HTTP/2), and HttpReply, how a handler gives it. A handler
// calls its reply exactly once, now or later (after the spool answered);
// the server writes the response on the request's connection, or drops it
// when the client has gone.
#pragma once

#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "api/http2_session.h"

namespace sluice::api {

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  HttpHeaders headers;  // beyond Content-Type and Content-Length
  // HTTP/2 only (gRPC's grpc-status): sent after the body, which then has
  // no Content-Length.
  HttpHeaders trailers;
  std::string reason;  // an error's message, for the log

  static HttpResponse Json(int status, std::string body);
  static HttpResponse Text(int status, std::string body);
  // {"error":...} from a "field: problem" message.
  static HttpResponse Error(int status, absl::string_view message, HttpHeaders headers = {});
};

using HttpReply = absl::AnyInvocable<void(HttpResponse)>;

}  // namespace sluice::api
