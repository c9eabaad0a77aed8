// config_checks: what the string values of sluice.toml may hold, for the
// schema in config.cc.
//
// Each check answers OK or InvalidArgument with a message written to follow
// the key's name ("key 'smtp.bounce_domains[0]': 'a b' is not a domain
// name"); each Parse* function also returns the value as config stores it.
// Pure functions; any thread.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice::common {

// True if `host` is a numeric address of `family` (AF_INET or AF_INET6).
bool IsAddress(int family, absl::string_view host);

// A network in CIDR form (common/ip_network.h).
absl::Status CheckNetwork(absl::string_view text);

// An HTTP API scope: inject, admin or read.
absl::Status CheckScope(absl::string_view text);

// 64 hex digits, returned in lower case.
absl::StatusOr<std::string> ParseSha256Hex(absl::string_view text);

absl::Status CheckDomain(absl::string_view text);

// A domain, or "*." and a domain.
absl::Status CheckDomainPattern(absl::string_view text);
absl::StatusOr<std::string> ParseDomainPattern(absl::string_view text);

// DKIM header/body canonicalization, e.g. "relaxed/simple".
absl::Status CheckCanonicalization(absl::string_view text);

// "rsa-sha256", "ed25519-sha256" or "" (whatever the key holds).
absl::Status CheckDkimAlgorithm(absl::string_view text);

// "host" or "host:port"; the host is not resolved here.
absl::Status CheckHostPort(absl::string_view text);

// A numeric IPv4 or IPv6 address, or "".
absl::Status CheckAddress(absl::string_view text);
absl::StatusOr<std::string> ParseAddress(absl::string_view text);

// "https://host[:port][/path]" without a trailing slash, or empty.
absl::Status CheckHttpsBaseUrl(absl::string_view url);

}  // namespace sluice::common
