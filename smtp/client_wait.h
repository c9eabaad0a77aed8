// ClientWait: which reply a client session waits for (RFC 5321 4.5.3.2
// names the waits), with its name for logs and the timeout that applies.
//
// Pure functions, for ClientSession and the delivery engine.
#pragma once

#include <string_view>

#include "absl/time/time.h"
#include "smtp/client_options.h"

namespace sluice::smtp {

// The reply being waited for, for timeouts and logs.
enum class ClientWait {
  kNone,  // not waiting for a reply (idle, closed, TLS handshake)
  kGreeting,
  kHelo,  // EHLO or HELO
  kStartTls,
  kRset,
  kMail,
  kRcpt,
  kDataInitiation,   // DATA's 354
  kBdat,             // a BDAT chunk other than the last
  kDataTermination,  // the reply to "." or BDAT LAST
  kQuit,
};

std::string_view ClientWaitName(ClientWait wait);

// The limit `timeouts` set for `wait`; InfiniteDuration() for kNone.
absl::Duration ClientWaitTimeout(ClientWait wait, const ClientTimeouts& timeouts);

}  // namespace sluice::smtp
