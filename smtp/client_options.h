// ClientOptions: the settings of one outbound SMTP client session (the
// delivery side). Plain data, copied into each ClientSession.
#pragma once

#include <cstddef>
#include <string>

#include "absl/time/time.h"
#include "smtp/reply_parser.h"

namespace sluice::smtp {

// Whether to use STARTTLS (RFC 3207).
enum class TlsPolicy {
  kNever,          // never send STARTTLS
  kOpportunistic,  // STARTTLS when offered; go on in clear text if refused
  kRequire,        // STARTTLS must be offered and succeed, else the attempt fails
};

// How long the caller may wait for each reply (RFC 5321 4.5.3.2). The
// session does not keep time; ClientSession::current_timeout() says which of
// these applies to the wait in progress.
struct ClientTimeouts {
  absl::Duration greeting = absl::Minutes(5);           // 4.5.3.2.1 initial 220
  absl::Duration mail = absl::Minutes(5);               // 4.5.3.2.2
  absl::Duration rcpt = absl::Minutes(5);               // 4.5.3.2.3
  absl::Duration data_initiation = absl::Minutes(2);    // 4.5.3.2.4 DATA's 354
  absl::Duration data_block = absl::Minutes(3);         // 4.5.3.2.5 each write of the body
  absl::Duration data_termination = absl::Minutes(10);  // 4.5.3.2.6 reply to "." / BDAT LAST
  // Not in 4.5.3.2: EHLO/HELO, STARTTLS, RSET, QUIT (Postfix uses 300 s).
  absl::Duration command = absl::Minutes(5);
};

struct ClientOptions {
  // Our name in EHLO/HELO.
  std::string helo_name = "localhost";
  TlsPolicy tls = TlsPolicy::kOpportunistic;
  // The connection is TLS from the first byte (port 465): no STARTTLS.
  bool implicit_tls = false;
  // Use these extensions when the server offers them.
  bool use_pipelining = true;
  bool use_chunking = true;
  // BDAT chunk size in octets; 0 sends the whole body as one "BDAT n LAST".
  size_t bdat_chunk_size = 0;
  // A message that needs 8BITMIME to a server without it: false sends it
  // anyway without BODY= (what Postfix does by default); true fails it
  // permanently (5.6.3) without sending.
  bool strict_8bitmime = false;
  // Keep a command/reply transcript in each DeliveryResult.
  bool record_transcript = false;
  ClientTimeouts timeouts;
  ReplyParserLimits reply_limits;
};

}  // namespace sluice::smtp
