// dns_message: the sans-IO parser of DNS responses (RFC 1035) into Answers.
//
// c-ares fetches the bytes; this reads them, because its 1.18 parsers drop
// TTLs (MX, TXT), know no TLSA and hide the SOA that negative caching needs.
// Any caller may use it; it keeps no state. A malformed packet is an error
// value, never a crash: every read is bounds-checked and compression
// pointers may only point backwards.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "dns/answer.h"

namespace sluice::dns {

struct ParsedResponse {
  Answer answer;
  // The answer section ends in a CNAME whose target has no records here and
  // no SOA says the target has none: the server did not chase the chain, so
  // the resolver must ask for `answer.canonical_name` itself.
  bool chase_cname = false;
};

// Parses `packet`, the response to the question (`qname`, `qtype`). `qname`
// is compared without regard to case or a trailing dot.
absl::StatusOr<ParsedResponse> ParseResponse(absl::Span<const uint8_t> packet,
                                             std::string_view qname, RecordType qtype);

// Lower-cases `name` and drops one trailing dot.
std::string CanonicalName(std::string_view name);

}  // namespace sluice::dns
