#include "api/unsubscribe_header.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mail/header_fields.h"

namespace sluice::api {

absl::Status ApplyUnsubscribeRequest(std::string* message, const Unsubscribe& who,
                                     size_t recipients, const UnsubscribeToken* tokens,
                                     absl::string_view base_url) {
  // Nearly all mail has no request: no field list is built for it.
  if (!mail::HasHeaderField(*message, kUnsubscribeRequestField)) return absl::OkStatus();
  const std::vector<mail::HeaderField> fields = mail::SplitHeaderFields(*message);
  std::vector<const mail::HeaderField*> requests;
  bool has_own = false;
  for (const mail::HeaderField& field : fields) {
    if (absl::EqualsIgnoreCase(field.name, kUnsubscribeRequestField)) requests.push_back(&field);
    if (absl::EqualsIgnoreCase(field.name, "List-Unsubscribe")) has_own = true;
  }
  for (const mail::HeaderField* field : requests) {
    absl::string_view value = field->text.substr(field->text.find(':') + 1);
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(value), "one-click")) {
      return absl::InvalidArgumentError(
          absl::StrCat(kUnsubscribeRequestField, " must be \"one-click\""));
    }
  }
  if (tokens == nullptr) {
    return absl::InvalidArgumentError("one-click unsubscribe is not configured");
  }
  if (recipients != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(kUnsubscribeRequestField, " needs one recipient per message"));
  }
  if (has_own) {
    return absl::InvalidArgumentError(
        absl::StrCat("List-Unsubscribe is set by ", kUnsubscribeRequestField));
  }
  std::string out =
      absl::StrCat("List-Unsubscribe: <", base_url, "/unsubscribe/", tokens->Mint(who),
                   ">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
  out.reserve(out.size() + message->size());
  // Copy the message without the request fields (each with its CRLF).
  const absl::string_view all(*message);
  size_t next = 0;
  for (const mail::HeaderField* field : requests) {
    const size_t start = static_cast<size_t>(field->text.data() - all.data());
    absl::StrAppend(&out, all.substr(next, start - next));
    next = start + field->text.size();
    if (absl::StartsWith(all.substr(next), "\r\n")) next += 2;
  }
  absl::StrAppend(&out, all.substr(next));
  *message = std::move(out);
  return absl::OkStatus();
}

}  // namespace sluice::api
