// injection_address: the e-mail addresses of an injection request, checked
// and put into the form the spool and the MIME builder use.
//
// An address is an RFC 5321 mailbox (smtp/address.h does the syntax), with
// RFC 6531 UTF-8 allowed in the local part and the domain. The domain is
// converted to lower-case A-labels (dns::NormalizeDomain, IDNA2008), so an
// internationalised domain needs nothing special downstream; only a UTF-8
// local part makes the message need SMTPUTF8. Address literals
// ("user@[192.0.2.1]") are kept as written.
//
// Errors are InvalidArgument with a message meant to follow a field name:
// "not a valid address: ...". Callers prefix the field
// ("recipients[3].email: not a valid address: ...").
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "mime/mailbox.h"

namespace sluice::api {

struct InjectionAddress {
  mime::Mailbox mailbox;        // display_name empty for a bare address
  bool needs_smtputf8 = false;  // the local part is not ASCII
};

// A bare addr-spec: "local@domain".
absl::StatusOr<InjectionAddress> ParseInjectionAddrSpec(std::string_view text);

// "Display Name <local@domain>", "\"Quoted, Name\" <local@domain>",
// "<local@domain>" or "local@domain". The display name is trimmed and
// unquoted; it must be free of control characters.
absl::StatusOr<InjectionAddress> ParseInjectionMailbox(std::string_view text);

// True when `text` holds no C0 control character (tab included) and no DEL:
// what may go into a header as a display name or subject.
bool IsHeaderSafeText(std::string_view text);

}  // namespace sluice::api
