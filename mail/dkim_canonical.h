// dkim_canonical: the two DKIM canonicalization algorithms of RFC 6376 3.4,
// for header fields and for the body, and the body hash (bh=) built on
// them. Pure functions, no I/O; any thread.
//
// Lines end in CRLF; a lone CR or LF is an ordinary character, as it is to
// the verifiers (the message leaves exactly as stored).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace sluice::mail {

enum class DkimCanonicalization { kSimple, kRelaxed };

// "simple" or "relaxed".
absl::string_view DkimCanonicalizationName(DkimCanonicalization c);

// One header field as it appears in the message (name, colon, value with
// its folding, without the final CRLF), canonicalized and ended with CRLF.
// Relaxed: the name in lower case, the value unfolded, runs of white space
// as one space, none before or after the colon or at the end.
std::string CanonicalHeaderField(absl::string_view field, DkimCanonicalization c);

using Sha256Digest = std::array<uint8_t, 32>;

// SHA-256 of the canonical body (RFC 6376 3.4.3 and 3.4.4): trailing empty
// lines removed, a missing final CRLF added; an empty body is CRLF under
// simple and nothing under relaxed, which also drops white space at the end
// of lines and folds runs of it to one space.
Sha256Digest DkimBodyHash(absl::string_view body, DkimCanonicalization c);

}  // namespace sluice::mail
