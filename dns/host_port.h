// HostPort: a host name or numeric address plus a port, as configuration
// writes next hops: "mx.example.net:25", "192.0.2.1:2525", "[2001:db8::1]:25",
// or a bare host that takes the default port.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice::dns {

struct HostPort {
  std::string host;  // lower case, no brackets, no trailing dot
  uint16_t port = 25;

  static absl::StatusOr<HostPort> Parse(std::string_view text, uint16_t default_port = 25);
  // True when `host` is a numeric IPv4 or IPv6 address (no lookup needed).
  bool IsNumeric() const;
  // "host:port", with brackets around IPv6 addresses.
  std::string ToString() const;

  friend bool operator==(const HostPort& a, const HostPort& b) {
    return a.host == b.host && a.port == b.port;
  }
};

}  // namespace sluice::dns
