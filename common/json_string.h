// JSON string literals, for everything sluice writes as JSON (the HTTP
// API's answers, the delivery event log). Pure; any thread.
#pragma once

#include <string>
#include <string_view>

namespace sluice::common {

// How a byte that is not part of well-formed UTF-8 is written: as the
// escape \ufffd (the output stays ASCII) or as U+FFFD itself.
enum class Replacement { kLiteral, kEscaped };

// Appends `text` as a JSON string literal, with its quotes: '"' and '\\'
// escaped, \n \r \t \b \f as such, other control characters and DEL as
// \u00XX, well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates)
// as is, and every other byte as U+FFFD, so the output is always valid JSON.
void AppendJsonString(std::string* out, std::string_view text,
                      Replacement replacement = Replacement::kLiteral);

}  // namespace sluice::common
