#include "api/grpc_injection.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/http_injection.h"
#include "api/http_json.h"
#include "api/proto/google/rpc/status.pb.h"
#include "grpc/grpc_wire.h"
#include "grpc/gzip.h"
#include "grpc/message_reader.h"
#include "smtp/address.h"

namespace sluice::api {
namespace {

void AppendKey(std::string* out, bool* first, std::string_view key) {
  if (!*first) out->push_back(',');
  *first = false;
  AppendJsonString(out, key);
  out->push_back(':');
}

void AppendStringField(std::string* out, bool* first, std::string_view key,
                       std::string_view value) {
  AppendKey(out, first, key);
  AppendJsonString(out, value);
}

void AppendMailbox(std::string* out, const sluice::v1::Mailbox& mailbox) {
  bool first = true;
  out->push_back('{');
  AppendStringField(out, &first, "email", mailbox.email());
  if (!mailbox.name().empty()) AppendStringField(out, &first, "name", mailbox.name());
  out->push_back('}');
}

// A map as a JSON object, in key order (protobuf maps have none).
void AppendMap(std::string* out, const google::protobuf::Map<std::string, std::string>& map) {
  std::vector<std::pair<std::string_view, std::string_view>> sorted(map.begin(), map.end());
  std::sort(sorted.begin(), sorted.end());
  bool first = true;
  out->push_back('{');
  for (const auto& [key, value] : sorted) AppendStringField(out, &first, key, value);
  out->push_back('}');
}

}  // namespace

bool IsGrpcRequest(const HttpRequest& request) {
  const absl::string_view type = request.Header("content-type");
  return absl::StartsWithIgnoreCase(type, "application/grpc") &&
         (type.size() == 16 || type[16] == '+' || type[16] == ';');
}

absl::StatusOr<std::string> UnaryRequestMessage(const HttpRequest& request, size_t max_bytes) {
  grpc::MessageReader reader(max_bytes);
  std::vector<grpc::Message> messages;
  if (absl::Status status = reader.Feed(request.body, &messages); !status.ok()) return status;
  if (absl::Status status = reader.Finish(); !status.ok()) return status;
  if (messages.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("body: a unary call takes one message, not ", messages.size()));
  }
  const absl::string_view encoding = request.Header("grpc-encoding");
  return DecodedMessage(std::move(messages[0]), std::string_view(encoding.data(), encoding.size()),
                        max_bytes);
}

absl::StatusOr<std::string> DecodedMessage(grpc::Message message, std::string_view encoding_header,
                                           size_t max_bytes) {
  if (!message.compressed) return std::move(message.payload);
  const std::string encoding =
      absl::AsciiStrToLower(absl::string_view(encoding_header.data(), encoding_header.size()));
  if (encoding == "gzip") return grpc::GzipDecompress(message.payload, max_bytes);
  if (encoding.empty() || encoding == "identity") {
    return absl::InternalError("body: a compressed message without a grpc-encoding");
  }
  return absl::UnimplementedError(
      absl::StrCat("grpc-encoding ", encoding, " is not supported (identity, gzip)"));
}

absl::StatusOr<std::optional<absl::Duration>> GrpcTimeoutOf(const HttpRequest& request) {
  const absl::string_view header = request.Header("grpc-timeout");
  if (header.empty()) return std::nullopt;
  const std::optional<absl::Duration> timeout =
      grpc::ParseTimeout(std::string_view(header.data(), header.size()));
  if (!timeout.has_value()) {
    return absl::InternalError(absl::StrCat("grpc-timeout: malformed: ", header));
  }
  if (*timeout > absl::Hours(24)) return std::nullopt;
  return timeout;
}

absl::StatusOr<std::string> InjectionJsonOf(const sluice::v1::InjectRequest& request) {
  std::string out = "{";
  bool first = true;
  if (request.has_from()) {
    AppendKey(&out, &first, "from");
    AppendMailbox(&out, request.from());
  }
  if (request.has_reply_to()) {
    AppendKey(&out, &first, "reply_to");
    AppendMailbox(&out, request.reply_to());
  }
  if (!request.subject().empty()) AppendStringField(&out, &first, "subject", request.subject());
  if (request.has_text()) AppendStringField(&out, &first, "text", request.text());
  if (request.has_html()) AppendStringField(&out, &first, "html", request.html());
  if (request.headers_size() > 0) {
    AppendKey(&out, &first, "headers");
    bool inner = true;
    out.push_back('{');
    for (const sluice::v1::Header& header : request.headers()) {
      AppendStringField(&out, &inner, header.name(), header.value());
    }
    out.push_back('}');
  }
  if (request.attachments_size() > 0) {
    AppendKey(&out, &first, "attachments");
    out.push_back('[');
    for (int i = 0; i < request.attachments_size(); ++i) {
      const sluice::v1::Attachment& attachment = request.attachments(i);
      if (i > 0) out.push_back(',');
      bool inner = true;
      out.push_back('{');
      AppendStringField(&out, &inner, "filename", attachment.filename());
      if (!attachment.content_type().empty()) {
        AppendStringField(&out, &inner, "content_type", attachment.content_type());
      }
      AppendStringField(&out, &inner, "content", absl::Base64Escape(attachment.content()));
      out.push_back('}');
    }
    out.push_back(']');
  }
  if (request.has_content()) {
    if (!smtp::IsValidUtf8(request.content())) {
      return absl::InvalidArgumentError("content: must be UTF-8 text (as over the JSON API)");
    }
    AppendStringField(&out, &first, "content", request.content());
  }
  if (!request.envelope_sender().empty()) {
    AppendStringField(&out, &first, "envelope_sender", request.envelope_sender());
  }
  AppendKey(&out, &first, "recipients");
  out.push_back('[');
  for (int i = 0; i < request.recipients_size(); ++i) {
    const sluice::v1::Recipient& recipient = request.recipients(i);
    if (i > 0) out.push_back(',');
    bool inner = true;
    out.push_back('{');
    AppendStringField(&out, &inner, "email", recipient.email());
    if (!recipient.name().empty()) AppendStringField(&out, &inner, "name", recipient.name());
    if (!recipient.substitutions().empty()) {
      AppendKey(&out, &inner, "substitutions");
      AppendMap(&out, recipient.substitutions());
    }
    if (!recipient.metadata().empty()) {
      AppendKey(&out, &inner, "metadata");
      AppendMap(&out, recipient.metadata());
    }
    out.push_back('}');
  }
  out.push_back(']');
  if (!request.substitutions().empty()) {
    AppendKey(&out, &first, "substitutions");
    AppendMap(&out, request.substitutions());
  }
  if (request.to_header() == sluice::v1::TO_HEADER_UNDISCLOSED) {
    AppendStringField(&out, &first, "to_header", "undisclosed");
  }
  if (!request.tenant().empty()) AppendStringField(&out, &first, "tenant", request.tenant());
  if (!request.campaign().empty()) AppendStringField(&out, &first, "campaign", request.campaign());
  if (!request.pool().empty()) AppendStringField(&out, &first, "pool", request.pool());
  if (request.tags_size() > 0) {
    AppendKey(&out, &first, "tags");
    out.push_back('[');
    for (int i = 0; i < request.tags_size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendJsonString(&out, request.tags(i));
    }
    out.push_back(']');
  }
  if (request.unsubscribe() == sluice::v1::UNSUBSCRIBE_ONE_CLICK) {
    AppendStringField(&out, &first, "unsubscribe", "one-click");
  }
  out.push_back('}');
  return out;
}

HttpResponse GrpcStatusResponse(const absl::Status& status, absl::Duration retry_delay) {
  HttpResponse response;
  response.status = 200;
  response.content_type = "application/grpc";
  response.trailers = {{"grpc-status", absl::StrCat(grpc::StatusCodeOf(status))}};
  if (!status.ok()) {
    const absl::string_view message = status.message();
    response.trailers.emplace_back(
        "grpc-message", grpc::PercentEncode(std::string_view(message.data(), message.size())));
    response.reason = std::string(status.message());
  }
  if (!status.ok() && retry_delay > absl::ZeroDuration()) {
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_seconds(absl::ToInt64Seconds(retry_delay));
    retry.mutable_retry_delay()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(retry_delay % absl::Seconds(1))));
    google::rpc::Status details;
    details.set_code(grpc::StatusCodeOf(status));
    details.set_message(std::string(status.message()));
    details.add_details()->PackFrom(retry);
    // A -bin header is base64 on the wire (padding may go).
    response.trailers.emplace_back("grpc-status-details-bin",
                                   absl::Base64Escape(details.SerializeAsString()));
  }
  return response;
}

HttpResponse GrpcMessageResponse(const std::string& message) {
  HttpResponse response = GrpcStatusResponse(absl::OkStatus());
  response.body = grpc::EncodeMessage(message);
  return response;
}

HttpResponse GrpcRefusal(const HttpResponse& refusal) {
  const std::string& why = refusal.reason;
  if (refusal.status == 401) return GrpcStatusResponse(absl::UnauthenticatedError(why));
  if (refusal.status == 403) return GrpcStatusResponse(absl::PermissionDeniedError(why));
  int64_t seconds = 1;
  for (const auto& [name, value] : refusal.headers) {
    if (absl::EqualsIgnoreCase(name, "Retry-After")) (void)absl::SimpleAtoi(value, &seconds);
  }
  return GrpcStatusResponse(absl::ResourceExhaustedError(why), absl::Seconds(seconds));
}

HttpResponse GrpcStreamErrorResponse(const absl::Status& error, std::string request_id) {
  sluice::v1::InjectResponse response;
  response.set_request_id(std::move(request_id));
  response.set_error_code(grpc::StatusCodeOf(error));
  response.set_error_message(std::string(error.message()));
  HttpResponse answer = GrpcMessageResponse(response.SerializeAsString());
  answer.reason = std::string(error.message());
  return answer;
}

InjectionFormat GrpcStreamFormat(std::string request_id) {
  InjectionFormat format = GrpcInjectFormat(request_id);
  format.error = [request_id = std::move(request_id)](const absl::Status& error,
                                                      bool /*retry_after*/) {
    return GrpcStreamErrorResponse(error, request_id);
  };
  return format;
}

InjectionFormat GrpcInjectFormat(std::string request_id) {
  InjectionFormat format;
  format.error = [](const absl::Status& error, bool retry_after) {
    return GrpcStatusResponse(error, retry_after ? absl::Seconds(1) : absl::ZeroDuration());
  };
  format.accepted = [request_id = std::move(request_id)](const PreparedInjection& prepared,
                                                         const std::vector<absl::Status>& results) {
    const InjectionOutcome outcome = OutcomeOf(prepared, results);
    sluice::v1::InjectResponse response;
    response.mutable_accepted()->Reserve(static_cast<int>(outcome.accepted.size()));
    for (const PreparedRecipient* recipient : outcome.accepted) {
      sluice::v1::AcceptedRecipient* accepted = response.add_accepted();
      accepted->set_index(static_cast<uint32_t>(recipient->index));
      accepted->set_email(recipient->email);
      accepted->set_message_id(recipient->message_id);
    }
    for (const RejectedRecipient& recipient : outcome.rejected) {
      sluice::v1::RejectedRecipient* rejected = response.add_rejected();
      rejected->set_index(static_cast<uint32_t>(recipient.index));
      rejected->set_email(recipient.email);
      rejected->set_reason(recipient.reason);
    }
    for (const std::string& name : prepared.missing_substitutions) {
      response.add_missing_substitutions(name);
    }
    response.set_request_id(request_id);
    return GrpcMessageResponse(response.SerializeAsString());
  };
  return format;
}

}  // namespace sluice::api
