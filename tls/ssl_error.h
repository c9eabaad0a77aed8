// ssl_error: BoringSSL's thread-local error queue turned into absl::Status.
//
// Call ERR_clear_error() before an SSL_* operation (so stale entries from an
// earlier failure on this thread do not leak into the message) and
// SslError() right after it fails.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace sluice::tls {

// Drains the error queue into "what: lib:reason; lib:reason". Clears it.
std::string DrainSslErrors();

// `code` status with "what: <errors>" (or just `what` when the queue is empty).
absl::Status SslError(std::string_view what, absl::StatusCode code = absl::StatusCode::kInternal);

}  // namespace sluice::tls
