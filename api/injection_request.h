// injection_request: the JSON body of POST /api/v1/messages, parsed and
// validated into an InjectionRequest. Sans-IO: bytes in, a value or an
// error out; the HTTP layer maps an error to 400.
//
// Schema (every field optional unless marked; unknown fields are refused at
// every level, duplicate keys too):
//
//   {
//     "from": "Name <sender@example.org>"         structured content: required
//           | {"email": "sender@example.org", "name": "Name"},
//     "envelope_sender": "bounces@example.org",   default: from's address;
//                                                 required with "content"
//     "reply_to": same forms as "from",
//     "subject": "Hello {{first_name}}",          default ""
//     "text": "...", "html": "...",               at least one of text, html,
//                                                 attachments
//     "headers": {"X-Campaign": "..."},           extra header fields, values
//                                                 templated like the subject
//     "attachments": [{"filename": "a.pdf",       required, no '/' or '\'
//                      "content_type": "application/pdf",
//                                                 default application/octet-stream
//                      "content": "<base64>"}],   required
//     "content": "<raw RFC 5322 message>",        instead of from, reply_to,
//                                                 subject, text, html, headers,
//                                                 attachments; sent as is
//                                                 (line endings made CRLF), not
//                                                 templated
//     "recipients": [{"email": "rcpt@example.com",   required, 1..max_recipients
//                     "name": "Display Name",
//                     "substitutions": {"first_name": "Ada"},
//                     "metadata": {"customer_id": "42"}}],
//     "substitutions": {"company": "Example"},    global, per-recipient ones win
//     "to_header": "each" | "undisclosed",        default "each": every message
//                                                 shows its own recipient in To;
//                                                 "undisclosed": To shows
//                                                 "undisclosed-recipients:;" so
//                                                 one body can serve everyone
//     "tenant": "...", "campaign": "...", "pool": "...",
//     "tags": ["..."],
//     "unsubscribe": "one-click"                  RFC 8058: each message gets
//                                                 List-Unsubscribe with a URL
//                                                 of sluice's own (a signed
//                                                 token naming tenant,
//                                                 recipient and campaign) and
//                                                 List-Unsubscribe-Post; one
//                                                 body per recipient; not with
//                                                 "content" or those headers
//   }
//
// Substitution and metadata values are strings, numbers or booleans
// (numbers and booleans are kept as their JSON text).
//
// Errors: InvalidArgument whose message starts with the JSON path of the
// offending field, then ": " and the problem, e.g.
//   recipients[3].substitutions: must be an object
//   attachments[0].content: invalid base64: invalid character at offset 17
//   subject: must be a string
//   headers.Subject: reserved header, use the subject field
//   colour: unknown field
// A request that is not JSON at all reports the path "body".
//
// Recipients are judged one by one: a recipient whose "email" is a string
// but not a usable address (syntax, domain, or a duplicate of an earlier
// recipient) is not an error; it lands in `rejected` with a reason in the
// same "path: problem" form, and the others are accepted. A recipient of the
// wrong shape (not an object, "email" missing or not a string, bad
// substitutions, unknown field) is a request error. A request whose every
// recipient is rejected parses fine with `recipients` empty; the caller
// decides what to answer.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "mime/mailbox.h"
#include "mime/message_builder.h"

namespace sluice::api {

struct InjectionLimits {
  size_t max_request_bytes = 64 << 20;
  size_t max_recipients = 100'000;
  size_t max_subject_bytes = 998;
  size_t max_body_bytes = 8 << 20;      // text and html, each
  size_t max_content_bytes = 32 << 20;  // raw content
  size_t max_attachments = 100;
  size_t max_attachment_bytes = 32 << 20;  // all attachments, decoded
  size_t max_headers = 100;
  size_t max_header_value_bytes = 2048;
  size_t max_substitutions = 200;  // keys per object
  size_t max_substitution_value_bytes = 64 << 10;
  size_t max_metadata = 50;  // keys per recipient
  size_t max_metadata_value_bytes = 1024;
  size_t max_tags = 20;
  size_t max_label_bytes = 128;  // tenant, campaign, pool, a tag
};

// Sorted by key, keys unique.
using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct InjectionRecipient {
  size_t index = 0;       // position in the request's "recipients" array
  mime::Mailbox mailbox;  // address (A-label domain) and display name
  bool needs_smtputf8 = false;
  KeyValues substitutions;
  KeyValues metadata;
};

struct RejectedRecipient {
  size_t index = 0;
  std::string email;   // as sent
  std::string reason;  // "recipients[3].email: not a valid address: ..."
};

enum class ToHeader { kEach, kUndisclosed };

struct InjectionRequest {
  // Structured content (absent when `content` is set).
  mime::Mailbox from;
  std::vector<mime::Mailbox> reply_to;  // zero or one
  std::string subject;
  std::optional<std::string> text;
  std::optional<std::string> html;
  std::vector<std::pair<std::string, std::string>> headers;  // in request order
  std::vector<mime::Attachment> attachments;
  // Raw content, CRLF line endings.
  std::optional<std::string> content;

  std::string envelope_sender;  // addr-spec, A-label domain
  // A UTF-8 local part in the envelope sender or in From / Reply-To.
  bool sender_needs_smtputf8 = false;
  std::vector<InjectionRecipient> recipients;  // accepted, in request order
  std::vector<RejectedRecipient> rejected;
  KeyValues substitutions;  // global
  ToHeader to_header = ToHeader::kEach;

  std::string tenant;
  std::string campaign;
  std::string pool;
  std::vector<std::string> tags;
  bool one_click_unsubscribe = false;
};

// Holds simdjson's parser between requests, so its buffers are reused; one
// per shard (not thread-safe).
class InjectionRequestParser {
 public:
  explicit InjectionRequestParser(InjectionLimits limits = {});
  ~InjectionRequestParser();
  InjectionRequestParser(const InjectionRequestParser&) = delete;
  InjectionRequestParser& operator=(const InjectionRequestParser&) = delete;

  absl::StatusOr<InjectionRequest> Parse(std::string_view json);

  const InjectionLimits& limits() const { return limits_; }

 private:
  struct Impl;
  InjectionLimits limits_;
  std::unique_ptr<Impl> impl_;
};

// One-shot convenience over InjectionRequestParser.
absl::StatusOr<InjectionRequest> ParseInjectionRequest(std::string_view json,
                                                       const InjectionLimits& limits = {});

}  // namespace sluice::api
