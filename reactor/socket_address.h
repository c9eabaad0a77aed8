// SocketAddress: an IPv4 or IPv6 address and port, as the socket calls want
// it. Parsing accepts "1.2.3.4:25", "[::1]:25" and a separate host and port;
// host names are not resolved here (that is dns/'s job, off the hot path).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice::reactor {

class SocketAddress {
 public:
  SocketAddress() = default;

  // "127.0.0.1:2525" or "[::1]:2525".
  static absl::StatusOr<SocketAddress> Parse(absl::string_view host_port);
  // A numeric IPv4 or IPv6 host (no brackets) and a port.
  static absl::StatusOr<SocketAddress> FromHostPort(absl::string_view host, uint16_t port);
  static SocketAddress FromSockaddr(const sockaddr* addr, socklen_t len);
  // The local or peer address of a connected or bound socket.
  static absl::StatusOr<SocketAddress> LocalOf(int fd);
  static absl::StatusOr<SocketAddress> PeerOf(int fd);

  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  void set_port(uint16_t port);
  // The address without the port: "127.0.0.1" or "::1".
  std::string HostString() const;
  // "127.0.0.1:25" or "[::1]:25".
  std::string ToString() const;

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

}  // namespace sluice::reactor
