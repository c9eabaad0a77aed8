// gzip for gRPC's message compression (grpc-encoding: gzip), with zlib.
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice::grpc {

std::string GzipCompress(std::string_view data);

// INVALID_ARGUMENT for data that is not gzip (or is cut short);
// RESOURCE_EXHAUSTED when it inflates past `max_bytes` (a zip bomb stops
// there, having used at most that much memory).
absl::StatusOr<std::string> GzipDecompress(std::string_view data, size_t max_bytes);

}  // namespace sluice::grpc
