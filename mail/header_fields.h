// header_fields: the header section of an RFC 5322 message split into its
// fields, continuation lines joined to theirs. Views into the message; pure;
// any thread.
#pragma once

#include <vector>

#include "absl/strings/string_view.h"

namespace sluice::mail {

struct HeaderField {
  absl::string_view name;  // as written, without trailing white space
  absl::string_view text;  // the whole field without its final CRLF
};

// The fields of `message` up to the empty line that ends its header section
// (or its end), in order.
std::vector<HeaderField> SplitHeaderFields(absl::string_view message);

// Whether the header section has a field called `name` (any case), without
// allocating: for checks on every message.
bool HasHeaderField(absl::string_view message, absl::string_view name);

}  // namespace sluice::mail
