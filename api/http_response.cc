#include "api/http_response.h"

#include <string_view>
#include <utility>

#include "api/http_json.h"

namespace sluice::api {

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse response = Json(status, std::move(body));
  response.content_type = "text/plain";
  return response;
}

HttpResponse HttpResponse::Error(int status, absl::string_view message, HttpHeaders headers) {
  HttpResponse response = Json(status, JsonError(std::string_view(message.data(), message.size())));
  response.headers = std::move(headers);
  response.reason = std::string(message);
  return response;
}

}  // namespace sluice::api
