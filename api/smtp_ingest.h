// smtp_ingest: turning what an SMTP session received into what the spool
// stores. Pure functions; no I/O.
//
// A Received header per RFC 5321 4.4, the Message-ID and Date that a
// submission server adds when the client left them out (RFC 6409 8.2,
// 8.3), and the split of one transaction into envelopes, one per recipient
// domain, all sharing one body.
#pragma once

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/message_id.h"
#include "queue/spool.h"
#include "smtp/envelope.h"

namespace sluice::api {

struct ReceivedInfo {
  std::string helo;       // what the client said in EHLO/HELO
  std::string client_ip;  // "192.0.2.1" or "2001:db8::1"
  std::string by;         // our host name
  std::string protocol;   // "ESMTP", "ESMTPSA", ... (RFC 3848)
  std::string id;         // the queue id the client is told
  std::string tls;        // "TLSv1.3 TLS_AES_128_GCM_SHA256", "" without TLS
  // The recipient, given only for a single-recipient transaction (RFC 5321
  // 7.2: a list of recipients would disclose Bcc).
  std::string for_recipient;
  absl::Time time;
};

// "Received: from helo ([ip]) by host (sluice) with ESMTPS id X for <r>;
// date\r\n", folded so no line exceeds 78 characters.
std::string FormatReceived(const ReceivedInfo& info);

// Adds "Message-ID: <id@hostname>" and "Date:" after any leading Received
// lines of `message` when its header section has none. Header names are
// matched without regard to case.
std::string AddMissingSubmissionHeaders(std::string message, absl::string_view hostname,
                                        absl::string_view id, absl::Time now);

struct IngestContext {
  // Recipient domains (lower case) whose envelopes go to the "bounces"
  // queue instead of outbound delivery.
  const absl::flat_hash_set<std::string>* bounce_domains = nullptr;
  std::string tenant;  // the authenticated user, for submission
};

// One envelope per recipient domain (compared in lower case), each due now,
// all sharing `body` under `body_id`; envelope ids come from `ids`.
queue::NewMessage BuildSpoolMessage(const smtp::Envelope& envelope, std::string body,
                                    const common::MessageId& body_id,
                                    common::MessageIdGenerator& ids, absl::Time now,
                                    const IngestContext& context);

}  // namespace sluice::api
