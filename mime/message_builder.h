// message_builder: builds RFC 5322 / MIME (RFC 2045-2049) messages from
// structured content.
//
// Layout:
//   text only or html only   a single text/plain or text/html part
//   text and html            multipart/alternative (text first, html second)
//   with attachments         multipart/mixed: the body above (alternative
//                            nested inside), then one part per attachment
// Bodies are UTF-8; each goes out as 7bit when it is short-lined ASCII and
// as quoted-printable otherwise; attachments go out as base64 in 76-character
// lines. Every line ends with CRLF; a text body always ends with a line
// break. Header text outside ASCII becomes RFC 2047 encoded-words; non-ASCII
// or long file names become RFC 2231 parameters. Header lines are folded at
// 78 characters.
//
// Boundaries are "=_sl" + 16 random hex digits (per builder) + a counter, so
// every message a builder makes has its own; "=_" cannot occur in base64 or
// quoted-printable output, and the 7bit bodies and part headers are checked,
// with a fresh boundary taken when one collides.
//
// A builder encodes its attachments once, in the constructor; Build() reuses
// them for every message, so per-recipient messages cost only their
// headers and text. Not thread-safe (Build advances the counter).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "mime/mailbox.h"

namespace sluice::mime {

struct Attachment {
  std::string filename;      // UTF-8, without path
  std::string content_type;  // "type/subtype", already validated
  std::string data;          // the decoded bytes
};

struct MessageHeaders {
  absl::Time date;
  Mailbox from;
  std::vector<Mailbox> reply_to;
  // Empty: "To: undisclosed-recipients:;".
  std::vector<Mailbox> to;
  std::string subject;
  // Without angle brackets ("01H...@mta.example.org").
  std::string message_id;
  // Extra header fields in order, names validated and values free of CR/LF
  // (see api/injection_request.h); values are folded, and encoded when not
  // ASCII.
  std::vector<std::pair<std::string, std::string>> extra;
  // Structured fields after those (List-Unsubscribe, List-Id): printable
  // ASCII, folded only at spaces, never encoded, so a URL stays a URL.
  std::vector<std::pair<std::string, std::string>> structured;
};

class MessageBuilder {
 public:
  explicit MessageBuilder(const std::vector<Attachment>& attachments);

  // The whole message; at least one of `text`, `html` and the attachments
  // must be present (with none, an empty text/plain body is written).
  std::string Build(const MessageHeaders& headers, std::optional<std::string_view> text,
                    std::optional<std::string_view> html);

  // Exposed for tests: the next boundary this builder would try.
  std::string NextBoundary();

 private:
  struct EncodedAttachment {
    std::string headers;  // the part's header block, ending with the empty line
    std::string body;     // base64, 76-character lines
  };

  std::vector<EncodedAttachment> attachments_;
  std::string boundary_prefix_;
  uint64_t counter_ = 0;
};

// RFC 5322 date-time in UTC: "Tue, 03 Jun 2025 14:05:09 +0000".
std::string FormatDate(absl::Time time);

// The header section of a CRLF message: its header lines with their final
// CRLF, without the empty line; the whole message when it has no body.
std::string_view HeaderSection(std::string_view message);

// Content-Type / Content-Disposition parameter tokens for `attribute` =
// `value`: one quoted token when the value is short printable ASCII,
// otherwise RFC 2231 (utf-8, percent-encoded, split into numbered
// continuations so no token exceeds a line). Each token but the last ends
// with ";".
std::vector<std::string> ParameterTokens(std::string_view attribute, std::string_view value);

}  // namespace sluice::mime
