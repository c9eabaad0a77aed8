// mailbox: one RFC 5322 mailbox (display name and addr-spec) as the MIME
// builder writes it into From, Reply-To and To.
//
// A plain value; the caller (api/injection_address) validates it. The builder
// trusts local_part and domain to be a valid addr-spec and encodes the
// display name itself.
#pragma once

#include <string>

namespace sluice::mime {

struct Mailbox {
  // UTF-8, may be empty. Written as an atom phrase, a quoted string or
  // RFC 2047 encoded-words, whichever is needed.
  std::string display_name;
  // As on the wire: a quoted local part keeps its quotes. May be UTF-8
  // (RFC 6532), which makes the message need SMTPUTF8.
  std::string local_part;
  // Lower-case A-labels, or an address literal with its brackets.
  std::string domain;

  // "local@domain".
  std::string AddrSpec() const { return local_part + "@" + domain; }
};

}  // namespace sluice::mime
