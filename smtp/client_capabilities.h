// ServerCapabilities: the ESMTP extensions a server announced in its EHLO
// reply (RFC 5321 4.1.1.1), as the client session uses them.
//
// ParseEhloReply is a pure function over a 250 reply: the first line is the
// server's name, each further line a keyword with optional parameters.
// Keywords are case-insensitive; unknown ones are ignored; a malformed
// SIZE value is treated as SIZE without a limit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "smtp/reply_parser.h"

namespace sluice::smtp {

struct ServerCapabilities {
  bool esmtp = false;  // EHLO succeeded (false after a HELO fallback)
  std::string server_name;
  bool pipelining = false;  // RFC 2920
  bool size = false;        // RFC 1870
  uint64_t max_size = 0;    // SIZE's value; 0 when none was given
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool chunking = false;  // RFC 3030 BDAT
  bool starttls = false;
  bool enhanced_status_codes = false;
  bool dsn = false;
  std::vector<std::string> auth_mechanisms;  // upper-cased
};

ServerCapabilities ParseEhloReply(const ServerReply& reply);

}  // namespace sluice::smtp
