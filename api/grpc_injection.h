// grpc_injection: sluice.v1.Injection/Inject (api/proto/sluice/v1/
// injection.proto) on the HTTP/2 listeners, without the transport: the
// call's request message taken off the wire, turned into the JSON API's
// request (so both APIs validate and compose alike, and errors name the
// same fields: "recipients[3].email: ..."), and the injector's outcome
// turned into an InjectResponse or a gRPC status. Pure functions; any
// thread.
//
// gRPC answers are HTTP 200 with content-type application/grpc and the
// status in the trailers (grpc-status, grpc-message percent-encoded);
// absl's status codes are gRPC's.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/http1_session.h"
#include "api/http_injector.h"
#include "api/http_response.h"
#include "api/proto/sluice/v1/injection.pb.h"
#include "grpc/message_reader.h"

namespace sluice::api {

inline constexpr std::string_view kGrpcInjectPath = "/sluice.v1.Injection/Inject";
inline constexpr std::string_view kGrpcInjectStreamPath = "/sluice.v1.Injection/InjectStream";
inline constexpr std::string_view kGrpcHealthCheckPath = "/grpc.health.v1.Health/Check";

// True for a request that asks for gRPC (content-type application/grpc...).
bool IsGrpcRequest(const HttpRequest& request);

// The one message of a unary call's body: decompressed (grpc-encoding
// gzip or identity), at most `max_bytes`. INVALID_ARGUMENT for no message
// or more than one, UNIMPLEMENTED for another encoding, RESOURCE_EXHAUSTED
// past the limit.
absl::StatusOr<std::string> UnaryRequestMessage(const HttpRequest& request, size_t max_bytes);
// One message's payload, decompressed as `encoding` (the grpc-encoding
// header) says when it is flagged compressed; errors as above.
absl::StatusOr<std::string> DecodedMessage(grpc::Message message, std::string_view encoding,
                                           size_t max_bytes);

// The call's deadline from its grpc-timeout header: nullopt without one
// (and for one of more than a day, which is as good as none), INTERNAL for
// a malformed one.
absl::StatusOr<std::optional<absl::Duration>> GrpcTimeoutOf(const HttpRequest& request);

// The JSON request of POST /api/v1/messages that says what `request` says.
// INVALID_ARGUMENT for raw content that is not UTF-8 (which JSON cannot
// carry either).
absl::StatusOr<std::string> InjectionJsonOf(const sluice::v1::InjectRequest& request);

// Answers.
// With a `retry_delay`, the trailers also carry grpc-status-details-bin: a
// google.rpc.Status whose RetryInfo says how long to wait before trying
// again (api/proto/google/rpc/status.proto).
HttpResponse GrpcStatusResponse(const absl::Status& status,
                                absl::Duration retry_delay = absl::ZeroDuration());
HttpResponse GrpcMessageResponse(const std::string& message);
// The injector's answers as Inject's: an InjectResponse naming `request_id`,
// or the error's status.
InjectionFormat GrpcInjectFormat(std::string request_id);
// As InjectStream's: always an InjectResponse (status OK), an error in its
// error_code and error_message.
InjectionFormat GrpcStreamFormat(std::string request_id);
// An InjectResponse of InjectStream that says `error`.
HttpResponse GrpcStreamErrorResponse(const absl::Status& error, std::string request_id);
// An HTTP refusal (401, 403, 429) as gRPC's UNAUTHENTICATED,
// PERMISSION_DENIED or RESOURCE_EXHAUSTED, the last with its Retry-After
// as retry info.
HttpResponse GrpcRefusal(const HttpResponse& refusal);

}  // namespace sluice::api
