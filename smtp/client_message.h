// client_message: what the delivery engine hands a ClientSession (one
// message with its envelope) and what it gets back (a result per recipient,
// or a connection-level failure). Plain data.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/address.h"
#include "smtp/envelope.h"
#include "smtp/reply_parser.h"

namespace sluice::smtp {

struct OutboundMessage {
  Address sender;  // IsNull() for "<>" (bounces)
  // Address, NOTIFY bits and ORCPT (sent only when the server offers DSN).
  std::vector<Recipient> recipients;
  std::string envid;                  // ENVID=, sent xtext-encoded when DSN is offered
  DsnRet ret = DsnRet::kUnspecified;  // RET=, likewise
  // The message (headers and body) with CRLF line ends. Bare CR or LF are
  // sent as CRLF; a missing final CRLF is added.
  std::string_view body;
  // Keeps `body` alive until the result is taken; may be null when the
  // caller guarantees that itself.
  std::shared_ptr<const void> body_owner;
  bool needs_8bit = false;      // BODY=8BITMIME
  bool needs_smtputf8 = false;  // SMTPUTF8 (also implied by any UTF-8 address)
};

enum class RecipientStatus {
  kDelivered,         // the server took responsibility (2xx after the data)
  kTemporaryFailure,  // 4xx, a lost connection or a timeout: retry later
  kPermanentFailure,  // 5xx or a local refusal: bounce
};

struct RecipientResult {
  RecipientStatus status = RecipientStatus::kTemporaryFailure;
  // The reply that decided: RCPT's refusal, the reply to the data, MAIL's
  // refusal, a 421, or a local one (reply.local) for refusals without
  // sending, lost connections and timeouts.
  ServerReply reply;
};

struct DeliveryResult {
  // One per OutboundMessage::recipients entry, same order.
  std::vector<RecipientResult> recipients;
  // The reply that ended the transaction: the reply to the data when it
  // was sent, otherwise the refusal (MAIL's, the last RCPT's, DATA's, a
  // 421, a local one).
  ServerReply final_reply;
  // Whether message data went out (DATA's 354 came or BDAT was sent).
  bool data_sent = false;
  // "C: MAIL FROM:<a@b> SIZE=12" / "S: 250 2.1.0 Ok" lines, '\n'-separated,
  // when ClientOptions::record_transcript.
  std::string transcript;

  size_t CountStatus(RecipientStatus status) const {
    size_t count = 0;
    for (const RecipientResult& r : recipients) count += r.status == status;
    return count;
  }
};

// Why a connection ended badly (ClientSession::failure()).
struct ClientFailure {
  // True for a 5xx greeting/EHLO/HELO; the engine decides whether that is
  // a permanent failure for the site or a reason to try the next MX.
  bool permanent = false;
  // The server's reply, or a local one (reply.local) for lost connections,
  // timeouts, malformed or unexpected replies and TLS policy failures.
  ServerReply reply;
  // A sentence for logs: "lost connection while waiting for reply to RCPT".
  std::string text;
};

}  // namespace sluice::smtp
