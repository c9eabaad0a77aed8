// http_json: the few helpers the HTTP API needs to write JSON responses.
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

namespace sluice::api {

// common::AppendJsonString with invalid bytes as the escape \ufffd, so
// answers stay ASCII.
void AppendJsonString(std::string* out, std::string_view text);

// `text` as a JSON string literal.
std::string JsonString(std::string_view text);

// {"error":{"field":F,"message":M}} from an error message in the
// "path: problem" form of injection_request.h (no path: field "").
std::string JsonError(std::string_view message);

}  // namespace sluice::api
