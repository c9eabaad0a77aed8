// reply: formats SMTP replies (RFC 5321 4.2) with RFC 3463 enhanced status
// codes (RFC 2034).
//
// AppendReply writes one reply, single- or multi-line: every line but the
// last is "CODE-", the last "CODE ", each followed by the enhanced code (if
// any) and the line's text. `text` lines are separated by '\n'; CR, LF and
// NUL never reach the wire from `text`, so a caller cannot inject a reply.
#pragma once

#include <string>
#include <string_view>

namespace sluice::smtp {

void AppendReply(std::string* out, int code, std::string_view enhanced, std::string_view text);

}  // namespace sluice::smtp
