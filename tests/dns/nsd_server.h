// NsdServer: a real authoritative DNS server (NSD, Debian package "nsd")
// for tests, on a free 127.0.0.1 port, with zones the test writes. Started
// by Start(), stopped (SIGTERM, waited for) by the destructor; its files
// live in a fresh folder under TEST_TMPDIR. A missing nsd binary is an
// error that names the package, so the test fails instead of skipping.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::dns::testing {

struct ZoneFile {
  std::string origin;  // "sluice.test"
  std::string text;    // the zone file; may be invalid on purpose (SERVFAIL)
  // The zone is expected to load; a probe for its SOA must answer.
  bool must_load = true;
};

class NsdServer {
 public:
  static absl::StatusOr<std::unique_ptr<NsdServer>> Start(const std::vector<ZoneFile>& zones);
  ~NsdServer();

  uint16_t port() const { return port_; }
  // "127.0.0.1:<port>", as DnsConfig::servers takes it.
  std::string address() const;

 private:
  NsdServer() = default;
  absl::Status Launch(const std::vector<ZoneFile>& zones);

  std::string dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// A free port on 127.0.0.1 for both UDP and TCP (bound and released).
absl::StatusOr<uint16_t> FreeLoopbackPort();

// One UDP question to 127.0.0.1:`port`, without EDNS; returns the answer's
// flags field (RCODE in the low 4 bits, TC is 0x0200), or an error if no
// answer came within `timeout_ms`.
absl::StatusOr<uint16_t> ProbeFlags(uint16_t port, const std::string& name, uint16_t type,
                                    int timeout_ms);

}  // namespace sluice::dns::testing
