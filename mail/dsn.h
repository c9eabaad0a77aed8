// Dsn: delivery status notifications sluice generates (RFC 3464 inside an
// RFC 6522 multipart/report), for recipients that bounced, expired or, when
// asked for with NOTIFY=DELAY, are still delayed.
//
// The report has three parts: a human-readable explanation, the
// message/delivery-status fields (per message: Reporting-MTA, Original-
// Envelope-Id, Arrival-Date; per recipient: Original-Recipient,
// Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code,
// Last-Attempt-Date, Will-Retry-Until), and the returned message: its
// headers only (text/rfc822-headers) for RET=HDRS, or the whole message
// (message/rfc822) for RET=FULL or no RET. The DSN goes to the original
// envelope sender from the null sender, so it can never bounce in turn;
// the caller must not generate one for a message whose sender was null.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sluice::mail {

enum class DsnAction { kFailed, kDelayed, kDelivered, kExpanded, kRelayed };

struct DsnRecipient {
  std::string final_recipient;     // the address we tried, "user@example.com"
  std::string original_recipient;  // ORCPT as received ("rfc822;user@example.com"), or ""
  DsnAction action = DsnAction::kFailed;
  std::string status;      // RFC 3463, e.g. "5.1.1"
  std::string remote_mta;  // the host that answered, "" if none did
  std::string diagnostic;  // the SMTP reply, "550 5.1.1 no such user", or our reason
  // The diagnostic is sluice's own (a DNS failure, an expiry, a connection
  // that never opened), so it is not typed "smtp", which would claim a
  // server said it (RFC 3464 2.3.6), but kLocalDiagnosticType.
  bool diagnostic_local = false;
  absl::Time last_attempt = absl::InfinitePast();      // InfinitePast: not given
  absl::Time will_retry_until = absl::InfinitePast();  // for kDelayed
};

struct DsnRequest {
  std::string reporting_mta;  // our host name
  std::string from;           // "MAILER-DAEMON@<reporting_mta>" if empty
  std::string to;             // the original envelope sender
  std::string envid;          // RFC 3461 ENVID, "" if none
  absl::Time arrival = absl::InfinitePast();
  absl::Time now;
  bool return_headers_only = false;  // RET=HDRS
  std::vector<DsnRecipient> recipients;
  absl::string_view original;  // the original message as spooled
  std::string message_id;      // for the DSN's own Message-ID: "<id@host>"
  std::string boundary;        // MIME boundary; must not occur in `original`
};

// The diagnostic-type of our own diagnostics, as Postfix writes "X-Postfix".
inline constexpr char kLocalDiagnosticType[] = "X-Sluice";

// The complete DSN message, CRLF line endings.
std::string BuildDsn(const DsnRequest& request);

// A boundary that does not occur in `content`, derived from `seed`.
std::string ChooseBoundary(absl::string_view content, absl::string_view seed);

}  // namespace sluice::mail
