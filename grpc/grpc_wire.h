// grpc_wire: the small pieces of the gRPC protocol over HTTP/2 that are not
// protobuf (the "gRPC over HTTP2" document of the grpc project): message
// framing, the grpc-timeout header, grpc-message's percent-encoding and the
// status codes. Pure functions; any thread.
//
// A gRPC message on the wire is one byte of flags (1: compressed with the
// stream's grpc-encoding), a four-byte big-endian length and that many
// bytes. GrpcMessageReader (grpc/grpc_message_reader.h) takes a stream of
// them apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sluice::grpc {

inline constexpr size_t kMessageHeaderBytes = 5;

// `payload` framed as one message.
std::string EncodeMessage(std::string_view payload, bool compressed = false);
void AppendMessage(std::string_view payload, bool compressed, std::string* out);

// grpc-timeout: 1 to 8 digits and a unit (H, M, S, m, u, n). nullopt for
// anything else, which a server treats as a protocol error.
std::optional<absl::Duration> ParseTimeout(std::string_view text);
// The header value for `timeout` (rounded up, at most 8 digits).
std::string FormatTimeout(absl::Duration timeout);

// grpc-message: UTF-8 percent-encoded, every byte outside 0x20-0x7E and '%'
// as %XX. Decoding leaves malformed escapes as they are.
std::string PercentEncode(std::string_view text);
std::string PercentDecode(std::string_view text);

// gRPC's status codes are abseil's: the same names and numbers (OK 0 ...
// UNAUTHENTICATED 16), so an absl::Status maps onto grpc-status by its code.
inline int StatusCodeOf(const absl::Status& status) { return static_cast<int>(status.code()); }

}  // namespace sluice::grpc
