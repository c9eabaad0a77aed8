// dns_error: how dns/ reports a failed lookup through absl::Status.
//
// Every error a lookup returns carries a DnsFailure, readable with
// FailureOf(), and a canonical code that already tells permanent from
// temporary:
//
//   kNxDomain, kNoData  -> NotFound             permanent
//   kNullMx             -> FailedPrecondition   permanent (RFC 7505)
//   kBadName            -> InvalidArgument      permanent
//   kServFail, kError   -> Unavailable          temporary
//   kTimeout            -> DeadlineExceeded     temporary
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "dns/answer.h"

namespace sluice::dns {

enum class DnsFailure {
  kNone,
  kNxDomain,
  kNoData,
  kNullMx,
  kBadName,
  kServFail,
  kTimeout,
  kError,
};

// An error for `name` with the code and payload of `failure`.
absl::Status DnsError(DnsFailure failure, std::string_view name, std::string_view detail = {});
// The error a non-kOk answer stands for.
absl::Status AnswerError(const Answer& answer, std::string_view name);

// kNone for OK statuses and for statuses that did not come from dns/.
DnsFailure FailureOf(const absl::Status& status);
// True when retrying later may succeed (SERVFAIL, timeouts, shutdown).
bool IsTemporaryDnsError(const absl::Status& status);

std::string_view FailureName(DnsFailure failure);

}  // namespace sluice::dns
