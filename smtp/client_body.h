// client_body: how the client session puts a message body on the wire.
//
// The body goes out with CRLF line ends only: a bare CR or LF becomes CRLF
// (RFC 5321 2.3.8 forbids them, and servers that read them as line ends are
// the root of SMTP smuggling), and a body that does not end in CRLF gets one.
// DATA additionally dot-stuffs (RFC 5321 4.5.2) and appends ".\r\n"; BDAT
// sends the canonical octets as they are. Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace sluice::smtp {

// True when `body` is already canonical: every CR and LF is part of a CRLF
// and it is empty or ends with CRLF.
bool IsCanonicalBody(std::string_view body);

// The canonical form of `body`.
std::string CanonicalizeBody(std::string_view body);

// Appends canonical `body`, dot-stuffed, and the terminating ".\r\n".
void AppendDotStuffed(std::string_view body, std::string* out);

}  // namespace sluice::smtp
