// command_arguments: what the ESMTP parameters of MAIL FROM and RCPT TO
// mean (RFC 5321 4.1.2): SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8
// (RFC 6531), RET and ENVID (RFC 3461) and AUTH= (RFC 4954 5) of MAIL;
// NOTIFY and ORCPT (RFC 3461) of RCPT.
//
// Pure functions for the server session, over parameters ParseCommand has
// checked for syntax only. Each fills the envelope or recipient it is given
// and stops at the first parameter it refuses, returning the reply for it:
// 501 for a malformed or repeated one, 555 for an unsupported keyword or
// BODY type, 552 for a SIZE over the limit. What was filled before a
// refusal is meant to be thrown away.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/types/span.h"
#include "smtp/command.h"
#include "smtp/envelope.h"

namespace sluice::smtp {

struct ParameterError {
  int code = 0;
  std::string_view enhanced;
  std::string text;
  // A syntax error, which counts towards ServerOptions::max_bad_commands;
  // false for a well-formed SIZE over the limit.
  bool bad_command = true;
};

// MAIL FROM's parameters into `envelope` (all but mail_from). A SIZE above
// `max_message_size` (0: no limit) is refused; AUTH= is kept as decoded
// only when `authenticated`, as "<>" otherwise (RFC 4954 5).
std::optional<ParameterError> ParseMailParameters(absl::Span<const EsmtpParam> params,
                                                  uint64_t max_message_size, bool authenticated,
                                                  Envelope* envelope);

// RCPT TO's parameters into `recipient` (all but address).
std::optional<ParameterError> ParseRcptParameters(absl::Span<const EsmtpParam> params,
                                                  Recipient* recipient);

}  // namespace sluice::smtp
