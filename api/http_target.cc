#include "api/http_target.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sluice::api {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> Decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return absl::InvalidArgumentError("target: truncated percent escape");
      }
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return absl::InvalidArgumentError("target: bad percent escape");
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<HttpTarget> HttpTarget::Parse(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return absl::InvalidArgumentError("target: must start with '/'");
  }
  HttpTarget out;
  const size_t question = target.find('?');
  absl::StatusOr<std::string> path = Decode(target.substr(0, question), false);
  if (!path.ok()) return path.status();
  out.path = *std::move(path);
  if (question == std::string_view::npos) return out;
  const std::string_view query = target.substr(question + 1);
  for (absl::string_view piece :
       absl::StrSplit(absl::string_view(query.data(), query.size()), '&', absl::SkipEmpty())) {
    const std::string_view pair(piece.data(), piece.size());
    const size_t equals = pair.find('=');
    absl::StatusOr<std::string> name = Decode(pair.substr(0, equals), true);
    if (!name.ok()) return name.status();
    std::string value;
    if (equals != std::string_view::npos) {
      absl::StatusOr<std::string> decoded = Decode(pair.substr(equals + 1), true);
      if (!decoded.ok()) return decoded.status();
      value = *std::move(decoded);
    }
    out.params.emplace_back(*std::move(name), std::move(value));
  }
  return out;
}

const std::string* HttpTarget::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

}  // namespace sluice::api
