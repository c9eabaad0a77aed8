// address: RFC 5321 paths and mailboxes (section 4.1.2), with the RFC 6531
// extensions for UTF-8 local parts and domains.
//
// Pure functions over a command's argument; no state. The parser accepts
// UTF-8 wherever RFC 6531 allows it and reports it in Address::utf8, so the
// caller (the server session) decides whether it is permitted, which depends
// on the SMTPUTF8 parameter of MAIL. Errors are InvalidArgument with a
// message fit for a 501 reply.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice::smtp {

struct Address {
  // Local part as it appears on the wire (a quoted local part keeps its
  // quotes, so `ToString()` round-trips).
  std::string local_part;
  // A domain name, or an address literal with its brackets ("[192.0.2.1]",
  // "[IPv6:2001:db8::1]"). Empty for the null path and for bare <Postmaster>.
  std::string domain;
  // True when the local part or domain contains non-ASCII (UTF-8) octets.
  bool utf8 = false;

  // The null reverse path "<>".
  bool IsNull() const { return local_part.empty() && domain.empty(); }
  // "local@domain", "Postmaster" or "" for the null path.
  std::string ToString() const;
};

struct PathOptions {
  bool allow_null = false;        // "<>" (MAIL FROM)
  bool allow_postmaster = false;  // "<Postmaster>" without a domain (RCPT TO)
};

inline constexpr size_t kMaxLocalPartOctets = 64;  // RFC 5321 4.5.3.1.1
inline constexpr size_t kMaxDomainOctets = 255;    // RFC 5321 4.5.3.1.2

// Parses a Path ("<" [A-d-l ":"] Mailbox ">") at the start of `input`; the
// source route, if any, is accepted and dropped (RFC 5321 4.1.2 and C.).
// `*consumed` receives the number of octets up to and including ">".
absl::StatusOr<Address> ParsePath(std::string_view input, const PathOptions& options,
                                  size_t* consumed);

// Validates a domain (dot-separated LDH labels, or U-labels when UTF-8) or an
// address literal. Exposed for EHLO checks and tests.
bool IsValidDomain(std::string_view domain, bool* utf8);

// RFC 5322 atext, ASCII only (what an atom or a dot-atom is made of).
bool IsAtext(unsigned char c);
bool IsValidAddressLiteral(std::string_view literal);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view text);

}  // namespace sluice::smtp
