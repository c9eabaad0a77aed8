// mx_rollup: ordering MX records and deriving site keys from them.
// Pure functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "absl/types/span.h"
#include "dns/answer.h"
#include "dns/host_port.h"

namespace sluice::dns {

// Sorts by preference, lowest first, and shuffles hosts of equal preference
// (RFC 5321 5.1) with `gen`. Duplicate hosts keep their best preference.
void OrderMxRecords(std::vector<MxRecord>& records, absl::BitGenRef gen);

// True for a null MX (RFC 7505): the set holds only the root as exchange.
bool IsNullMx(absl::Span<const MxRecord> records);

// "mx:" and the distinct MX hosts, sorted, joined by ','. Preferences do not
// matter: a domain that lists the same hosts in another order or with other
// preferences is the same destination.
std::string SiteKeyForMx(absl::Span<const MxRecord> records);

// "static:" (or "smarthost:") and the hosts, sorted, as host:port.
std::string SiteKeyForHosts(std::string_view prefix, absl::Span<const HostPort> hosts);

}  // namespace sluice::dns
