#include "common/ip_network.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sluice::common {
namespace {

// Whether the first `prefix` bits of a and b are equal.
bool PrefixEqual(const uint8_t* a, const uint8_t* b, int prefix) {
  const int whole = prefix / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

absl::StatusOr<IpNetwork> IpNetwork::Parse(absl::string_view text) {
  const size_t slash = text.find('/');
  const std::string host(text.substr(0, slash));
  IpNetwork network;
  if (inet_pton(AF_INET, host.c_str(), network.bytes_.data()) == 1) {
    network.v4_ = true;
  } else if (inet_pton(AF_INET6, host.c_str(), network.bytes_.data()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a network (like 10.0.0.0/8 or 2001:db8::/32)"));
  }
  const int max = network.v4_ ? 32 : 128;
  network.prefix_ = max;
  if (slash != absl::string_view::npos) {
    if (!absl::SimpleAtoi(text.substr(slash + 1), &network.prefix_) || network.prefix_ < 0 ||
        network.prefix_ > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "': prefix length must be 0 to ", max));
    }
  }
  std::array<uint8_t, 16> masked{};
  const int whole = network.prefix_ / 8;
  std::memcpy(masked.data(), network.bytes_.data(), whole);
  if (network.prefix_ % 8 != 0) {
    masked[whole] = network.bytes_[whole] & static_cast<uint8_t>(0xff << (8 - network.prefix_ % 8));
  }
  if (masked != network.bytes_) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' has host bits set; write the network address"));
  }
  return network;
}

absl::StatusOr<std::vector<IpNetwork>> IpNetwork::ParseList(const std::vector<std::string>& texts) {
  std::vector<IpNetwork> networks;
  for (const std::string& text : texts) {
    absl::StatusOr<IpNetwork> network = Parse(text);
    if (!network.ok()) return network.status();
    networks.push_back(*network);
  }
  return networks;
}

bool IpNetwork::Contains(const sockaddr* address) const {
  if (address->sa_family == AF_INET) {
    if (!v4_) return false;
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return PrefixEqual(reinterpret_cast<const uint8_t*>(&in->sin_addr), bytes_.data(), prefix_);
  }
  if (address->sa_family != AF_INET6) return false;
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
  const uint8_t* bytes = in6->sin6_addr.s6_addr;
  if (v4_) {
    if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return false;
    return PrefixEqual(bytes + 12, bytes_.data(), prefix_);
  }
  return PrefixEqual(bytes, bytes_.data(), prefix_);
}

std::string IpNetwork::ToString() const {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(v4_ ? AF_INET : AF_INET6, bytes_.data(), text, sizeof(text));
  return absl::StrCat(text, "/", prefix_);
}

bool AnyContains(const std::vector<IpNetwork>& networks, const sockaddr* address) {
  for (const IpNetwork& network : networks) {
    if (network.Contains(address)) return true;
  }
  return false;
}

}  // namespace sluice::common
