#include "mail/header_fields.h"

#include "absl/strings/match.h"

namespace sluice::mail {

std::vector<HeaderField> SplitHeaderFields(absl::string_view message) {
  std::vector<HeaderField> fields;
  size_t pos = 0;
  while (pos < message.size() && !absl::StartsWith(message.substr(pos), "\r\n")) {
    size_t end = message.find("\r\n", pos);
    while (end != absl::string_view::npos && end + 2 < message.size() &&
           (message[end + 2] == ' ' || message[end + 2] == '\t')) {
      end = message.find("\r\n", end + 2);
    }
    if (end == absl::string_view::npos) end = message.size();
    const absl::string_view text = message.substr(pos, end - pos);
    absl::string_view name = text.substr(0, text.find(':'));
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    fields.push_back({name, text});
    pos = end + 2;
  }
  return fields;
}

}  // namespace sluice::mail
