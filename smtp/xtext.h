// xtext: the RFC 3461 section 4 encoding of ENVID and ORCPT values (and of
// the RFC 4954 AUTH= parameter): printable ASCII except "+" and "=", with
// everything else written as "+" and two upper-case hex digits.
//
// Pure functions. DecodeXtext refuses malformed input (InvalidArgument):
// a "+" not followed by two upper-case hex digits, or an octet outside
// "!" .. "~", or "=".
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice::smtp {

absl::StatusOr<std::string> DecodeXtext(std::string_view xtext);
std::string EncodeXtext(std::string_view text);

}  // namespace sluice::smtp
