#include "api/http1_session.h"

#include <climits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sluice::api {
namespace {

Http1Session* Self(http_parser* parser) { return static_cast<Http1Session*>(parser->data); }

absl::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

absl::string_view HttpRequest::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

Http1Session::Http1Session(const HttpLimits& limits) : limits_(limits) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  settings_.on_message_begin = &Http1Session::OnMessageBegin;
  settings_.on_url = &Http1Session::OnUrl;
  settings_.on_header_field = &Http1Session::OnHeaderField;
  settings_.on_header_value = &Http1Session::OnHeaderValue;
  settings_.on_headers_complete = &Http1Session::OnHeadersComplete;
  settings_.on_body = &Http1Session::OnBody;
  settings_.on_message_complete = &Http1Session::OnMessageComplete;
}

absl::Status Http1Session::Feed(absl::string_view bytes, std::vector<HttpRequest>* requests) {
  if (!failed_.ok()) return failed_;
  out_ = requests;
  const size_t parsed = http_parser_execute(&parser_, &settings_, bytes.data(), bytes.size());
  out_ = nullptr;
  if (!limit_error_.ok()) {
    failed_ = limit_error_;
  } else if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK) {
    const auto error = static_cast<http_errno>(HTTP_PARSER_ERRNO(&parser_));
    failed_ = error == HPE_HEADER_OVERFLOW
                  ? absl::ResourceExhaustedError("request headers too large")
                  : absl::InvalidArgumentError(
                        absl::StrCat("malformed request: ", http_errno_description(error)));
  } else if (parsed != bytes.size()) {
    failed_ = absl::InvalidArgumentError("malformed request: trailing bytes after upgrade");
  }
  return failed_;
}

int Http1Session::StatusForError(const absl::Status& error) {
  if (error.code() == absl::StatusCode::kOutOfRange) return 413;
  if (error.code() == absl::StatusCode::kResourceExhausted) return 431;
  return 400;
}

std::string Http1Session::FormatResponse(int status, absl::string_view content_type,
                                         absl::string_view body, bool keep_alive,
                                         absl::string_view extra_headers) {
  return absl::StrCat("HTTP/1.1 ", status, " ", Reason(status), "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(), "\r\n",
                      keep_alive ? "" : "Connection: close\r\n", extra_headers, "\r\n", body);
}

bool Http1Session::CountHeaderBytes(size_t length) {
  header_bytes_ += length;
  if (header_bytes_ <= limits_.max_header_bytes) return true;
  limit_error_ = absl::ResourceExhaustedError(
      absl::StrCat("request headers exceed ", limits_.max_header_bytes, " bytes"));
  return false;
}

int Http1Session::OnMessageBegin(http_parser* parser) {
  Http1Session* self = Self(parser);
  self->current_ = HttpRequest();
  self->in_header_value_ = false;
  self->header_bytes_ = 0;
  return 0;
}

int Http1Session::OnUrl(http_parser* parser, const char* at, size_t length) {
  Http1Session* self = Self(parser);
  if (!self->CountHeaderBytes(length)) return 1;
  self->current_.target.append(at, length);
  return 0;
}

int Http1Session::OnHeaderField(http_parser* parser, const char* at, size_t length) {
  Http1Session* self = Self(parser);
  if (!self->CountHeaderBytes(length)) return 1;
  // A field may arrive in pieces; a new field starts after a value.
  if (self->in_header_value_ || self->current_.headers.empty()) {
    self->current_.headers.emplace_back();
    self->in_header_value_ = false;
  }
  self->current_.headers.back().first.append(at, length);
  return 0;
}

int Http1Session::OnHeaderValue(http_parser* parser, const char* at, size_t length) {
  Http1Session* self = Self(parser);
  if (!self->CountHeaderBytes(length)) return 1;
  self->in_header_value_ = true;
  self->current_.headers.back().second.append(at, length);
  return 0;
}

int Http1Session::OnHeadersComplete(http_parser* parser) {
  Http1Session* self = Self(parser);
  self->current_.method = http_method_str(static_cast<http_method>(parser->method));
  self->current_.keep_alive = http_should_keep_alive(parser) != 0;
  // Refuse an oversize body before reading it, when its length is declared.
  if ((parser->flags & F_CHUNKED) == 0 && parser->content_length != ULLONG_MAX &&
      parser->content_length > self->limits_.max_body_bytes) {
    self->limit_error_ = absl::OutOfRangeError(
        absl::StrCat("request body exceeds ", self->limits_.max_body_bytes, " bytes"));
    return -1;  // any value but 0, 1 and 2 is an error to http-parser
  }
  return 0;
}

int Http1Session::OnBody(http_parser* parser, const char* at, size_t length) {
  Http1Session* self = Self(parser);
  if (self->current_.body.size() + length > self->limits_.max_body_bytes) {
    self->limit_error_ = absl::OutOfRangeError(
        absl::StrCat("request body exceeds ", self->limits_.max_body_bytes, " bytes"));
    return 1;
  }
  self->current_.body.append(at, length);
  return 0;
}

int Http1Session::OnMessageComplete(http_parser* parser) {
  Http1Session* self = Self(parser);
  self->out_->push_back(std::move(self->current_));
  self->current_ = HttpRequest();
  return 0;
}

}  // namespace sluice::api
