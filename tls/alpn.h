// alpn: ALPN protocol lists in TLS wire format.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::tls {

// Encodes protocol names as ALPN wire format (each prefixed with its
// length). Fails on an empty name or one longer than 255 bytes.
absl::StatusOr<std::string> EncodeAlpn(const std::vector<std::string>& protocols);

}  // namespace sluice::tls
