#include "dns/dns_config.h"

#include "absl/strings/str_cat.h"
#include "dns/host_port.h"

namespace sluice::dns {

absl::Status DnsConfig::Validate() const {
  for (const std::string& server : servers) {
    absl::StatusOr<HostPort> hp = HostPort::Parse(server, 53);
    if (!hp.ok()) return hp.status();
    if (!hp->IsNumeric()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dns server '", server, "' must be a numeric address"));
    }
  }
  if (tries < 1) return absl::InvalidArgumentError("dns tries must be at least 1");
  if (query_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("dns query timeout must be positive");
  }
  if (max_queries_in_flight == 0) {
    return absl::InvalidArgumentError("dns max_queries_in_flight must be at least 1");
  }
  if (cache.min_ttl > cache.max_ttl) {
    return absl::InvalidArgumentError("dns cache min_ttl exceeds max_ttl");
  }
  for (const StaticRoute& route : static_routes) {
    if (route.domain.empty() || route.domain == "*." || route.domain == "*") {
      return absl::InvalidArgumentError("static route with an empty domain");
    }
    if (route.hosts.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("static route ", route.domain, " has no hosts"));
    }
    for (const std::string& host : route.hosts) {
      if (absl::StatusOr<HostPort> hp = HostPort::Parse(host); !hp.ok()) return hp.status();
    }
  }
  for (const std::string& host : smart_hosts) {
    if (absl::StatusOr<HostPort> hp = HostPort::Parse(host); !hp.ok()) return hp.status();
  }
  return absl::OkStatus();
}

}  // namespace sluice::dns
