// ehlo_reply: the text of the server's 250 reply to EHLO (RFC 5321
// 4.1.1.1): our name, then one ESMTP keyword a line.
//
// Pure function of the listener's options and whether TLS is active:
// STARTTLS is announced only before TLS, AUTH only where the options let a
// client use it (RFC 3207 4.2, RFC 4954 4), SIZE with its limit when there
// is one (RFC 1870 4).
#pragma once

#include <string>

#include "smtp/server_options.h"

namespace sluice::smtp {

// Lines separated by "\n", for AppendReply.
std::string EhloReplyText(const ServerOptions& options, bool tls_active);

}  // namespace sluice::smtp
