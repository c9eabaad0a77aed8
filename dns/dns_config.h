// DnsConfig: what dns/ needs from the configuration. Plain data; the
// configuration loader (common/config) fills it, Validate() checks it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "dns/dns_cache.h"

namespace sluice::dns {

// Which address families a host name resolves to, in which order.
enum class AddressOrder { kIpv4Only, kIpv6Only, kIpv4First, kIpv6First };

// Mail for `domain` goes to `hosts` instead of the domain's MX.
struct StaticRoute {
  // "example.com" (that domain only) or "*.example.com" (every subdomain,
  // not example.com itself).
  std::string domain;
  // "host:port" (port defaults to 25); hosts are names or numeric addresses.
  std::vector<std::string> hosts;
};

struct DnsConfig {
  // Name servers as "host:port" ("127.0.0.1:5353", "[::1]:53"); empty means
  // those of /etc/resolv.conf.
  std::vector<std::string> servers;
  // Per try; c-ares doubles it for later rounds.
  absl::Duration query_timeout = absl::Seconds(3);
  int tries = 2;
  // DNS queries on the wire at once per resolver (per shard); more wait.
  size_t max_queries_in_flight = 512;
  AddressOrder address_order = AddressOrder::kIpv4First;
  // The port of MX hosts (25; tests point it elsewhere).
  uint16_t mx_port = 25;
  // Receive buffer of the UDP sockets, so bursts of answers are not dropped.
  int udp_receive_buffer = 1 << 20;
  CacheOptions cache;
  std::vector<StaticRoute> static_routes;
  // If set, every domain without a static route goes to these hosts.
  std::vector<std::string> smart_hosts;

  absl::Status Validate() const;
};

}  // namespace sluice::dns
