// domain_name: the one form dns/ keys everything by.
//
// NormalizeDomain() turns what a user typed (an envelope domain, a host in
// the configuration) into lower-case ASCII without a trailing dot;
// internationalised names become A-labels through libidn2 (IDNA2008 with
// the UTS #46 mapping, non-transitional: "Bücher.example" becomes
// "xn--bcher-kva.example"). Names that cannot be a DNS name are an
// InvalidArgument error (DnsFailure::kBadName).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice::dns {

absl::StatusOr<std::string> NormalizeDomain(std::string_view name);

}  // namespace sluice::dns
