// SiteLimits: how hard delivery may push one site (the MX hosts a set of
// domains shares), from [delivery.limits] and [[delivery.rules]]. Plain
// data.
#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace sluice::engine {

enum class TlsMode {
  kOpportunistic,  // STARTTLS when offered; plaintext otherwise
  kRequired,       // STARTTLS must be offered and succeed (certificate not checked)
  kVerify,         // required, and the certificate must match the MX host name
  kDisabled,       // never STARTTLS
};

struct SiteLimits {
  int max_connections = 32;
  // The concurrency window starts here and grows with successes.
  int initial_connections = 4;
  int max_messages_per_connection = 1000;
  int max_recipients_per_transaction = 100;
  // Message rates; 0 = no limit.
  int64_t messages_per_second = 0;
  int64_t messages_per_minute = 0;
  int64_t messages_per_hour = 0;
  // An idle connection waits this long for the next message, then QUITs.
  absl::Duration idle_timeout = absl::Seconds(5);
  absl::Duration connect_timeout = absl::Seconds(30);
  // Every reply but the one to the end of the data (RFC 5321 4.5.3.2
  // allows 5 minutes for most).
  absl::Duration reply_timeout = absl::Minutes(5);
  absl::Duration data_timeout = absl::Minutes(10);
  TlsMode tls = TlsMode::kOpportunistic;
};

}  // namespace sluice::engine
