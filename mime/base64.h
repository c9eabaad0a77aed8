// base64: RFC 4648 base64 for MIME bodies and for attachment content that
// arrives in JSON.
//
// Base64Encode wraps its output at `line_length` characters with CRLF (RFC
// 2045 6.8: at most 76), ending with CRLF when the output is not empty;
// line_length 0 means one unbroken line without CRLF.
// Base64Decode accepts the standard alphabet, ignores ASCII whitespace
// (CR, LF, space, tab) anywhere, and accepts the final quantum with or
// without "=" padding. Anything else is InvalidArgument naming the offset.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice::mime {

inline constexpr size_t kBase64LineLength = 76;

std::string Base64Encode(std::string_view data, size_t line_length = kBase64LineLength);

absl::StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace sluice::mime
