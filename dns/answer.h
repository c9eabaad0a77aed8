// Answer: what one DNS question (a name and a record type) resolved to, as
// the parser produces it and the cache keeps it. Plain data; no behaviour.
//
// Only the field of the question's type is filled (mx for MX, addresses for
// A and AAAA, ...). `ttl` is what the cache should keep the answer for
// before its own clamps: the smallest TTL along the CNAME chain and the
// records for a positive answer, the SOA-derived TTL (RFC 2308) for a
// negative one, and a negative duration when the answer carried none.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "reactor/socket_address.h"

namespace sluice::dns {

enum class RecordType : uint16_t {
  kA = 1,
  kCname = 5,
  kSoa = 6,
  kMx = 15,
  kTxt = 16,
  kAaaa = 28,
  kTlsa = 52,
};

struct MxRecord {
  uint16_t preference = 0;
  // Lower case, no trailing dot. The root ("" here) only in a null MX.
  std::string host;

  friend bool operator==(const MxRecord& a, const MxRecord& b) {
    return a.preference == b.preference && a.host == b.host;
  }
};

// A TXT record: its character-strings, unjoined (SPF and DKIM join them).
struct TxtRecord {
  std::vector<std::string> strings;

  std::string Joined() const;
  friend bool operator==(const TxtRecord& a, const TxtRecord& b) { return a.strings == b.strings; }
};

// A TLSA record (RFC 6698); `data` is the raw certificate association data.
struct TlsaRecord {
  uint8_t usage = 0;
  uint8_t selector = 0;
  uint8_t matching_type = 0;
  std::string data;

  friend bool operator==(const TlsaRecord& a, const TlsaRecord& b) {
    return a.usage == b.usage && a.selector == b.selector && a.matching_type == b.matching_type &&
           a.data == b.data;
  }
};

enum class AnswerStatus {
  kOk,        // records of the asked type are present
  kNxDomain,  // the name does not exist (RCODE 3)
  kNoData,    // the name exists, without records of this type
  kServFail,  // the server failed (RCODE 2, refused, connection errors)
  kTimeout,   // no server answered in time
  kError,     // anything else: malformed answer, shutdown
  kBadName,   // the name cannot be asked for (permanent)
};

// True for outcomes worth retrying soon (and caching only briefly).
inline bool IsTemporary(AnswerStatus status) {
  return status == AnswerStatus::kServFail || status == AnswerStatus::kTimeout ||
         status == AnswerStatus::kError;
}

struct Answer {
  AnswerStatus status = AnswerStatus::kError;
  // The name the records belong to: the question's name, or the end of its
  // CNAME chain.
  std::string canonical_name;
  std::vector<MxRecord> mx;
  std::vector<reactor::SocketAddress> addresses;  // port 0
  std::vector<TxtRecord> txt;
  std::vector<TlsaRecord> tlsa;
  absl::Duration ttl = absl::Seconds(-1);
  // The resolver set the AD bit: the answer was DNSSEC-validated upstream.
  bool authenticated = false;
  // Human-readable detail for errors.
  std::string detail;
};

}  // namespace sluice::dns
