// client_envelope: how the client session puts a message's envelope on the
// wire: which messages it refuses to send to a server, and the MAIL FROM
// and RCPT TO lines with the parameters the server understands.
//
// Pure functions over an OutboundMessage and the server's EHLO capabilities.
// Parameters go out only where the server announced them: SIZE (RFC 1870),
// BODY=8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), and RET, ENVID, NOTIFY and
// ORCPT (RFC 3461) with DSN; xtext values are encoded.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "smtp/client_capabilities.h"
#include "smtp/client_message.h"
#include "smtp/envelope.h"
#include "smtp/reply_parser.h"

namespace sluice::smtp {

// The message needs SMTPUTF8: it says so, or an address is UTF-8.
bool NeedsSmtpUtf8(const OutboundMessage& message);

// The local reply refusing `message` before anything is sent, or nullopt:
// 501 5.1.3 for a control character in an address, 553 5.6.7 when SMTPUTF8
// is needed but not offered (RFC 6531 3.4), 554 5.6.3 when 8BITMIME is
// needed but not offered and `strict_8bitmime`. The body size is not
// checked here.
std::optional<ServerReply> EnvelopeRefusal(const OutboundMessage& message,
                                           const ServerCapabilities& caps, bool strict_8bitmime);

// "MAIL FROM:<sender> ...", without CRLF, for a canonical body of
// `body_size` octets; for a message EnvelopeRefusal() let through.
std::string MailFromLine(const OutboundMessage& message, const ServerCapabilities& caps,
                         size_t body_size);

// "RCPT TO:<address> ...", without CRLF.
std::string RcptToLine(const Recipient& recipient, const ServerCapabilities& caps);

}  // namespace sluice::smtp
