// MimeEntity: a message or body part as received, parsed for reading what
// others sent (bounces, feedback reports), so leniently: any line ending
// (CRLF, LF, lone CR) is taken, header fields are unfolded, a multipart
// body is split at its boundary even when the closing delimiter is
// missing (a truncated attachment), and a header line that is not a field
// is skipped. ParseMime() never fails; what it cannot make sense of stays
// an opaque text/plain body. Limits bound the nesting depth and the number
// of parts, so hostile input costs time linear in its size. Pure; any
// thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace sluice::mime {

struct MimeHeader {
  std::string name;   // as written
  std::string value;  // unfolded, surrounding white space trimmed
};

struct MimeLimits {
  int max_depth = 8;
  size_t max_parts = 256;  // in the whole tree
};

struct MimeEntity {
  std::vector<MimeHeader> headers;
  // From Content-Type, lowercase; text/plain when absent or unreadable.
  std::string type = "text";
  std::string subtype = "plain";
  std::vector<std::pair<std::string, std::string>> params;  // names lowercase
  std::string body;  // as sent (transfer-encoded), CRLF line endings
  // multipart/*: its parts. message/rfc822, message/global and
  // text/rfc822-headers: one, the enclosed message (or its headers).
  std::vector<MimeEntity> parts;
  bool truncated = false;  // a multipart that ended without its closing delimiter

  // The first field called `name` (any case), or null.
  const std::string* Header(std::string_view name) const;
  // A Content-Type parameter (any case), or "".
  std::string Param(std::string_view name) const;
  bool Is(std::string_view type_name, std::string_view subtype_name) const {
    return type == type_name && subtype == subtype_name;
  }
  // The body with its Content-Transfer-Encoding (base64, quoted-printable)
  // undone; the body as it is for other encodings or undecodable ones.
  std::string DecodedBody() const;
};

MimeEntity ParseMime(absl::string_view message, const MimeLimits& limits = {});

// The header fields of a header section ("Name: value" lines, folded
// lines joined), up to the first empty line.
std::vector<MimeHeader> ParseHeaderSection(std::string_view section);

}  // namespace sluice::mime
