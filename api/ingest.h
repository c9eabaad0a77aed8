// ingest: the one step where accepted mail becomes what the spool stores,
// the same for every listener (SMTP relay and submission, HTTP, and later
// gRPC). Pure functions; no I/O; any thread.
//
// A Received header per RFC 5321 4.4, the Message-ID and Date that a
// submission server adds when the client left them out (RFC 6409 8.2,
// 8.3), and the split of one message into envelopes, one per recipient
// domain (chunked when asked), all sharing one body: every envelope field
// is set here and nowhere else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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

// One recipient as the spool keeps it.
struct IngestRecipient {
  std::string address;  // local@domain, as given
  uint32_t notify = 0;  // queue::proto::Notify bits; 0: unspecified
  std::string orcpt;    // "rfc822;a@b" (RFC 3461 ORCPT), or ""
};

// What every envelope of one message shares, and its recipients.
struct IngestEnvelope {
  std::string sender;  // reverse path; "" for the null sender
  std::string tenant;  // the authenticated user or the API request's tenant
  std::string campaign;
  std::string pool;
  queue::proto::Ret ret = queue::proto::RET_UNSPECIFIED;
  std::string envid;
  std::vector<IngestRecipient> recipients;
};

struct IngestOptions {
  // Recipient domains (lower case) whose envelopes go to the "bounces"
  // queue instead of outbound delivery; null: none.
  const absl::flat_hash_set<std::string>* bounce_domains = nullptr;
  // Recipients per envelope at most; 0: one envelope per domain whatever
  // its size.
  size_t max_recipients_per_envelope = 0;
};

// SMTP's transaction as an IngestEnvelope.
IngestEnvelope FromSmtp(const smtp::Envelope& envelope, std::string tenant);

// One envelope per recipient domain (compared in lower case, in order of
// the domain names), each due now, all sharing `body` under `body_id`;
// envelope ids come from `ids`. When `envelope_ids` is given,
// (*envelope_ids)[i] is the id (ToString) of recipients[i]'s envelope.
queue::NewMessage BuildSpoolMessage(const IngestEnvelope& envelope, std::string body,
                                    const common::MessageId& body_id,
                                    common::MessageIdGenerator& ids, absl::Time now,
                                    const IngestOptions& options,
                                    std::vector<std::string>* envelope_ids = nullptr);

}  // namespace sluice::api
