// IpNetwork: an IPv4 or IPv6 network in CIDR form ("10.0.0.0/8",
// "2001:db8::/32", or a single address), for relay and trust rules.
//
// An IPv4 network also matches the IPv4-mapped IPv6 form of its addresses
// (::ffff:10.1.2.3), which is how a dual-stack socket reports IPv4 peers.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice::common {

class IpNetwork {
 public:
  // "a.b.c.d/len", "v6addr/len", or an address alone (a /32 or /128). Host
  // bits must be zero ("10.1.0.0/8" is refused as ambiguous).
  static absl::StatusOr<IpNetwork> Parse(absl::string_view text);
  // Parses each entry; the error names the first bad one.
  static absl::StatusOr<std::vector<IpNetwork>> ParseList(const std::vector<std::string>& texts);

  bool Contains(const sockaddr* address) const;
  std::string ToString() const;

 private:
  bool v4_ = false;
  int prefix_ = 0;
  std::array<uint8_t, 16> bytes_{};  // the first 4 for IPv4
};

// True if any network in `networks` contains `address`.
bool AnyContains(const std::vector<IpNetwork>& networks, const sockaddr* address);

}  // namespace sluice::common
