#include "mail/header_fields.h"

#include "absl/strings/match.h"

namespace sluice::mail {
namespace {

// The field starting at `*pos` (continuation lines joined), advancing
// `*pos` past it; false at the end of the header section.
bool NextField(absl::string_view message, size_t* pos, HeaderField* field) {
  if (*pos >= message.size() || absl::StartsWith(message.substr(*pos), "\r\n")) return false;
  size_t end = message.find("\r\n", *pos);
  while (end != absl::string_view::npos && end + 2 < message.size() &&
         (message[end + 2] == ' ' || message[end + 2] == '\t')) {
    end = message.find("\r\n", end + 2);
  }
  if (end == absl::string_view::npos) end = message.size();
  field->text = message.substr(*pos, end - *pos);
  field->name = field->text.substr(0, field->text.find(':'));
  while (!field->name.empty() && (field->name.back() == ' ' || field->name.back() == '\t')) {
    field->name.remove_suffix(1);
  }
  *pos = end + 2;
  return true;
}

}  // namespace

std::vector<HeaderField> SplitHeaderFields(absl::string_view message) {
  std::vector<HeaderField> fields;
  size_t pos = 0;
  HeaderField field;
  while (NextField(message, &pos, &field)) fields.push_back(field);
  return fields;
}

bool HasHeaderField(absl::string_view message, absl::string_view name) {
  size_t pos = 0;
  HeaderField field;
  while (NextField(message, &pos, &field)) {
    if (absl::EqualsIgnoreCase(field.name, name)) return true;
  }
  return false;
}

}  // namespace sluice::mail
