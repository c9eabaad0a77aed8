// IsThrottleReply: whether an SMTP reply asks the sender to slow down (fewer
// connections, a pause) rather than saying something about one message or
// recipient. The delivery engine halves a site's concurrency window on such
// a reply; anything else is the message's or the recipient's problem.
//
// Throttles: 421 (RFC 5321 3.8, the server closing on us), 4.7.0 and 4.7.28
// (RFC 7372 rate limiting), and the deferral texts of large providers
// (Yahoo's "[TS01]".."[TS04]", "too many connections", "rate limit",
// "throttled"). Never a throttle: a reply sluice made up itself, a
// permanent or positive reply, and "452 4.5.3 too many recipients", which
// asks for the rest of the recipients in another transaction (RFC 5321
// 4.5.3.1.10), not for fewer connections.
#pragma once

#include "smtp/reply_parser.h"

namespace sluice::mail {

bool IsThrottleReply(const smtp::ServerReply& reply);

}  // namespace sluice::mail
