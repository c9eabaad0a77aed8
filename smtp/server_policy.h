// ServerPolicy: the decisions an SMTP server session asks its owner for,
// synchronously, while it runs: whether to accept a HELO/EHLO name, a sender
// and each recipient (relay control lives here), and the Received header to
// put in front of each message; and it tells the owner of every refusal.
//
// Called from ServerSession::Feed() on the session's thread; must not call
// back into the session except its const accessors. The defaults accept
// everything and add no header.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "smtp/envelope.h"

namespace sluice::smtp {

class ServerSession;

struct PolicyDecision {
  bool accept = true;
  int code = 0;          // reply code of a refusal: 4xx or 5xx
  std::string enhanced;  // RFC 3463 code of a refusal, e.g. "5.7.1"
  std::string text;
  // From CheckRcptTo only: acceptable here, but the owner must look
  // further (a lookup elsewhere) before the session answers; the session
  // then waits (ServerAction::kCheckRecipient).
  bool verify = false;

  static PolicyDecision Accept() { return {}; }
  static PolicyDecision Reject(int code, std::string enhanced, std::string text) {
    return {false, code, std::move(enhanced), std::move(text)};
  }
  static PolicyDecision Verify() {
    PolicyDecision decision;
    decision.verify = true;
    return decision;
  }
};

class ServerPolicy {
 public:
  virtual ~ServerPolicy() = default;

  virtual PolicyDecision CheckHelo(const ServerSession& /*session*/, std::string_view /*name*/) {
    return PolicyDecision::Accept();
  }
  // `envelope.mail_from` and MAIL's parameters are filled in; no recipients.
  virtual PolicyDecision CheckMailFrom(const ServerSession& /*session*/,
                                       const Envelope& /*envelope*/) {
    return PolicyDecision::Accept();
  }
  // `envelope` holds the recipients accepted so far, not `recipient`.
  virtual PolicyDecision CheckRcptTo(const ServerSession& /*session*/, const Envelope& /*envelope*/,
                                     const Recipient& /*recipient*/) {
    return PolicyDecision::Accept();
  }
  // Called when the body starts (DATA's 354, the first BDAT); the returned
  // text (complete header lines with CRLF, or "") starts the message body
  // handed out. ServerSession's helo_name(), protocol(), auth_user() and
  // tls_active() hold what a Received header reports.
  virtual std::string ReceivedHeader(const ServerSession& /*session*/,
                                     const Envelope& /*envelope*/) {
    return {};
  }
  // Called for every reply of 400 or above that the session writes (a
  // refused command, recipient or message, a failed AUTH, a 421 before
  // closing), so the caller can log and count what it refused and why.
  virtual void OnRefused(const ServerSession& /*session*/, int /*code*/,
                         std::string_view /*enhanced*/, std::string_view /*text*/) {}
};

}  // namespace sluice::smtp
