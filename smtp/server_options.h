// ServerOptions: the per-listener settings of an SMTP server session
// (relay on 25, submission on 587 with STARTTLS, submissions on 465 with
// implicit TLS). Plain data, copied into each session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sluice::smtp {

struct ServerOptions {
  // Our name in the greeting, EHLO reply and 421s.
  std::string hostname = "localhost";
  // Message size limit in octets (unstuffed body), announced as SIZE; 0 is
  // no limit (SIZE is then announced without a value).
  uint64_t max_message_size = 50 * 1024 * 1024;
  // RCPTs accepted per transaction; the next gets 452 4.5.3.
  size_t max_recipients = 1000;
  // Command line limit, octets including CRLF (RFC 5321 4.5.3.1.4 asks for
  // at least 512).
  size_t max_command_line = 1000;
  // AUTH command and response lines (RFC 4954 4: 12288).
  size_t max_auth_line = 12288;
  // DATA/BDAT text line limit, octets including CRLF (RFC 5321 4.5.3.1.6).
  size_t max_text_line = 1000;
  // Syntax and sequence errors (500-504, 555) and failed AUTHs tolerated per
  // session; reaching the limit gets 421 and the session closes. 0: no limit.
  int max_bad_commands = 20;

  bool offer_starttls = false;       // announce and accept STARTTLS
  bool implicit_tls = false;         // TLS from the first byte (port 465)
  bool allow_auth = false;           // announce and accept AUTH PLAIN / LOGIN
  bool require_tls_for_auth = true;  // no AUTH (nor its announcement) before TLS
  bool require_auth = false;         // MAIL needs a successful AUTH first (530 5.7.0)
  bool require_tls = false;          // MAIL needs TLS first (530 5.7.0)
  // Trusted networks only: accept bare LF as a line end (stored as CRLF)
  // instead of refusing the message or command. Bare CR and NUL are always
  // refused, and only <CRLF>.<CRLF> ends DATA either way.
  bool normalize_bare_lf = false;
};

}  // namespace sluice::smtp
