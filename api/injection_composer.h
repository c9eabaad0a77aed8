// injection_composer: turns a parsed InjectionRequest into the RFC 5322
// bytes the spool stores, one message per recipient or one shared by all.
//
// Create() compiles the templates once (subject, text, html and the extra
// header values); each Build*() call then renders and assembles one message.
// Attachments are base64-encoded once, in Create(), and reused by every
// message.
//
// The sharing decision (shares_body()):
//   raw "content"                          shared: the content, as sent
//   no placeholder in any template, and
//     to_header "undisclosed" or a single
//     accepted recipient                   shared: one body, many envelopes
//   otherwise                              per recipient: each message has
//                                          its recipient in To and its own
//                                          substitutions
// BuildForRecipient() works in every case (for shared content it returns the
// shared body), so a caller may ignore the decision; honouring it lets the
// spool store one body for a whole campaign.
//
// Substitution lookup for "{{name}}": the recipient's substitutions, then the
// global ones. A name neither defines renders as the empty string and is
// listed in ComposedMessage::missing_substitutions (a warning for the
// response, not an error): one recipient lacking a value should not stop a
// 100,000-recipient send.
//
// Values: HTML-escaped in the html part (except "{{{name}}}"), as is in the
// text part, the subject and header values; a value with a line break or
// control character is flattened to spaces when it lands in a header.
//
// Errors (Create only): InvalidArgument "field: problem" as in
// injection_request.h, for template syntax ("html: unterminated placeholder
// at offset 120"). Not thread-safe; one composer per request.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/injection_request.h"
#include "mime/message_builder.h"
#include "mime/template.h"

namespace sluice::api {

struct ComposedMessage {
  std::string bytes;  // the whole message, CRLF line endings
  // The message carries a UTF-8 address (envelope or header): deliver with
  // SMTPUTF8 only.
  bool needs_smtputf8 = false;
  // Placeholder names that had no value (rendered empty), sorted.
  std::vector<std::string> missing_substitutions;
};

class InjectionComposer {
 public:
  // `request` must outlive the composer.
  static absl::StatusOr<std::unique_ptr<InjectionComposer>> Create(const InjectionRequest& request);

  bool shares_body() const { return shares_body_; }

  // The one message for every accepted recipient. Requires shares_body().
  // `message_id` without angle brackets ("01J...@host"); `date` for the Date
  // header. For raw content both are ignored (ingest adds what is missing).
  ComposedMessage BuildShared(std::string_view message_id, absl::Time date);

  // The message for request.recipients[recipient] (an index into the
  // accepted recipients). A non-empty `unsubscribe_url` (https) adds
  // List-Unsubscribe and List-Unsubscribe-Post (RFC 8058).
  ComposedMessage BuildForRecipient(size_t recipient, std::string_view message_id, absl::Time date,
                                    std::string_view unsubscribe_url = "");

 private:
  explicit InjectionComposer(const InjectionRequest& request);

  // Fills values_ for one recipient (nullptr: global values only) and
  // returns the names left without a value.
  std::vector<std::string> ResolveValues(const InjectionRecipient* recipient);
  ComposedMessage Compose(const InjectionRecipient* recipient, std::string_view message_id,
                          absl::Time date, std::string_view unsubscribe_url);

  const InjectionRequest& request_;
  mime::TemplateSlots slots_;
  std::optional<mime::Template> subject_;
  std::optional<mime::Template> text_;
  std::optional<mime::Template> html_;
  std::vector<mime::Template> header_values_;
  // Per slot: the global value, if any.
  std::vector<std::optional<std::string_view>> global_values_;
  // Scratch, per slot, reused between recipients.
  std::vector<std::optional<std::string_view>> values_;
  std::unique_ptr<mime::MessageBuilder> builder_;
  bool shares_body_ = false;
  bool templated_ = false;
};

}  // namespace sluice::api
