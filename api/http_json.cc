#include "api/http_json.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_string.h"

namespace sluice::api {
void AppendJsonString(std::string* out, std::string_view text) {
  common::AppendJsonString(out, text, common::Replacement::kEscaped);
}

std::string JsonString(std::string_view text) {
  std::string out;
  AppendJsonString(&out, text);
  return out;
}

std::string JsonError(std::string_view message) {
  std::string_view field;
  std::string_view problem = message;
  // A path has no spaces; "body: not JSON" has one, "not JSON" does not.
  if (const size_t colon = message.find(": ");
      colon != std::string_view::npos &&
      message.substr(0, colon).find(' ') == std::string_view::npos) {
    field = message.substr(0, colon);
    problem = message.substr(colon + 2);
  }
  return absl::StrCat("{\"error\":{\"field\":", JsonString(field),
                      ",\"message\":", JsonString(problem), "}}\n");
}

}  // namespace sluice::api
