#include "dns/dns_error.h"

#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace sluice::dns {
namespace {

constexpr char kPayloadUrl[] = "type.sluice/dns.failure";

}  // namespace

std::string_view FailureName(DnsFailure failure) {
  switch (failure) {
    case DnsFailure::kNone:
      return "none";
    case DnsFailure::kNxDomain:
      return "nxdomain";
    case DnsFailure::kNoData:
      return "nodata";
    case DnsFailure::kNullMx:
      return "null_mx";
    case DnsFailure::kBadName:
      return "bad_name";
    case DnsFailure::kServFail:
      return "servfail";
    case DnsFailure::kTimeout:
      return "timeout";
    case DnsFailure::kError:
      return "error";
  }
  return "error";
}

absl::Status DnsError(DnsFailure failure, std::string_view name, std::string_view detail) {
  std::string message;
  switch (failure) {
    case DnsFailure::kNxDomain:
      message =
          absl::StrCat(absl::string_view(name.data(), name.size()), ": no such domain (NXDOMAIN)");
      break;
    case DnsFailure::kNoData:
      message = absl::StrCat(absl::string_view(name.data(), name.size()),
                             ": no records of the requested type (NODATA)");
      break;
    case DnsFailure::kNullMx:
      message = absl::StrCat(absl::string_view(name.data(), name.size()),
                             ": domain accepts no mail (null MX, RFC 7505)");
      break;
    case DnsFailure::kBadName:
      message = absl::StrCat(absl::string_view(name.data(), name.size()), ": invalid domain name");
      break;
    case DnsFailure::kServFail:
      message = absl::StrCat(absl::string_view(name.data(), name.size()),
                             ": DNS server failure (SERVFAIL)");
      break;
    case DnsFailure::kTimeout:
      message = absl::StrCat(absl::string_view(name.data(), name.size()), ": DNS lookup timed out");
      break;
    case DnsFailure::kNone:
    case DnsFailure::kError:
      message = absl::StrCat(absl::string_view(name.data(), name.size()), ": DNS lookup failed");
      break;
  }
  if (!detail.empty())
    absl::StrAppend(&message, ": ", absl::string_view(detail.data(), detail.size()));
  absl::Status status;
  switch (failure) {
    case DnsFailure::kNxDomain:
    case DnsFailure::kNoData:
      status = absl::NotFoundError(message);
      break;
    case DnsFailure::kNullMx:
      status = absl::FailedPreconditionError(message);
      break;
    case DnsFailure::kBadName:
      status = absl::InvalidArgumentError(message);
      break;
    case DnsFailure::kTimeout:
      status = absl::DeadlineExceededError(message);
      break;
    case DnsFailure::kNone:
    case DnsFailure::kServFail:
    case DnsFailure::kError:
      status = absl::UnavailableError(message);
      break;
  }
  status.SetPayload(kPayloadUrl, absl::Cord(absl::StrCat(static_cast<int>(failure))));
  return status;
}

absl::Status AnswerError(const Answer& answer, std::string_view name) {
  switch (answer.status) {
    case AnswerStatus::kOk:
      return absl::OkStatus();
    case AnswerStatus::kNxDomain:
      return DnsError(DnsFailure::kNxDomain, name, answer.detail);
    case AnswerStatus::kNoData:
      return DnsError(DnsFailure::kNoData, name, answer.detail);
    case AnswerStatus::kServFail:
      return DnsError(DnsFailure::kServFail, name, answer.detail);
    case AnswerStatus::kTimeout:
      return DnsError(DnsFailure::kTimeout, name, answer.detail);
    case AnswerStatus::kError:
      return DnsError(DnsFailure::kError, name, answer.detail);
    case AnswerStatus::kBadName:
      return DnsError(DnsFailure::kBadName, name, answer.detail);
  }
  return DnsError(DnsFailure::kError, name, answer.detail);
}

DnsFailure FailureOf(const absl::Status& status) {
  if (status.ok()) return DnsFailure::kNone;
  absl::optional<absl::Cord> payload = status.GetPayload(kPayloadUrl);
  if (!payload) return DnsFailure::kNone;
  const std::string text(*payload);
  if (text.size() != 1 || text[0] < '0' || text[0] > '7') return DnsFailure::kNone;
  return static_cast<DnsFailure>(text[0] - '0');
}

bool IsTemporaryDnsError(const absl::Status& status) {
  switch (FailureOf(status)) {
    case DnsFailure::kServFail:
    case DnsFailure::kTimeout:
    case DnsFailure::kError:
      return true;
    default:
      return false;
  }
}

}  // namespace sluice::dns
