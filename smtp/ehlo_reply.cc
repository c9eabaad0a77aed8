#include "smtp/ehlo_reply.h"

#include "absl/strings/str_cat.h"

namespace sluice::smtp {

std::string EhloReplyText(const ServerOptions& options, bool tls_active) {
  std::string lines = options.hostname;
  absl::StrAppend(&lines, "\nPIPELINING");
  if (options.max_message_size != 0) {
    absl::StrAppend(&lines, "\nSIZE ", options.max_message_size);
  } else {
    absl::StrAppend(&lines, "\nSIZE");
  }
  if (options.offer_starttls && !tls_active) absl::StrAppend(&lines, "\nSTARTTLS");
  if (options.allow_auth && (tls_active || !options.require_tls_for_auth)) {
    absl::StrAppend(&lines, "\nAUTH PLAIN LOGIN");
  }
  absl::StrAppend(&lines, "\nENHANCEDSTATUSCODES\n8BITMIME\nDSN\nSMTPUTF8\nCHUNKING");
  return lines;
}

}  // namespace sluice::smtp
