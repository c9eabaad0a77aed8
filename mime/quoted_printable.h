// quoted_printable: RFC 2045 6.7 quoted-printable for text bodies, and the
// test that decides when a text body may go out as 7bit instead.
//
// Text mode: every line break of the input (CRLF, LF or a lone CR) is a
// hard line break and comes out as CRLF. Output lines are at most 76
// characters including the "=" of a soft break; an "=XX" escape is never
// split; space and tab before a line break (hard or soft) or at the end are
// encoded; "=" and every octet outside 33..126 are encoded. The output ends
// with CRLF when the input is not empty.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::mime {

inline constexpr size_t kQuotedPrintableLineLength = 76;

std::string QuotedPrintableEncode(std::string_view text);

// True when `text` can be sent as 7bit unchanged apart from line endings:
// ASCII only, no NUL or other control characters but tab and line breaks,
// lines of at most `max_line` octets and no trailing whitespace on a line.
bool IsSevenBitText(std::string_view text, size_t max_line = 78);

// Undoes quoted-printable (RFC 2045 6.7) leniently: "=XX" becomes its
// octet, "=" at a line end joins the lines, anything malformed is kept as
// it is. `text` has CRLF line endings.
std::string QuotedPrintableDecode(std::string_view text);

// `text` with every line break (CRLF, LF, lone CR) turned into CRLF, ending
// with CRLF when not empty.
std::string NormalizeLineEndings(std::string_view text);

}  // namespace sluice::mime
