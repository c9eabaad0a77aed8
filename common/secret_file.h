// ReadSecretFile: the bytes of a file holding a secret (a private key, an
// HMAC secret), refused when other users may read it. Errors name the path.
// Blocking; for startup and reloads, never a shard thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace sluice::common {

absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

}  // namespace sluice::common
