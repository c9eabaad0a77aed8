// ApplyUnsubscribeRequest: one-click unsubscribe (RFC 8058) for mail
// submitted over SMTP. A trusted submitter (one whose mail sluice signs)
// asks for it with the header field
//
//   X-Sluice-Unsubscribe: one-click
//
// which is removed, and List-Unsubscribe <base_url/unsubscribe/TOKEN> and
// List-Unsubscribe-Post are added in front, the token naming `who`. The
// URL names one recipient, so a message asking for it must have exactly
// one. Pure; any thread.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "api/unsubscribe_token.h"

namespace sluice::api {

inline constexpr absl::string_view kUnsubscribeRequestField = "X-Sluice-Unsubscribe";

// Without the field, leaves `*message` alone and returns OK. With it:
// InvalidArgument (the message is refused, nothing changed) when its value
// is not "one-click", `recipients` is not 1, `tokens` is null (not
// configured) or the message has its own List-Unsubscribe; else rewrites
// `*message`.
absl::Status ApplyUnsubscribeRequest(std::string* message, const Unsubscribe& who,
                                     size_t recipients, const UnsubscribeToken* tokens,
                                     absl::string_view base_url);

}  // namespace sluice::api
