// Site and Destination: where mail for a domain goes, as the resolver
// answers it. Plain data.
//
// A site is the unit that delivery shapes traffic by (DESIGN.md): domains
// whose MX sets name the same hosts share a site key, so one provider's
// thousands of domains share one pool and one set of limits (KumoMTA's "MX
// rollup"). Static routes and the smart host make sites of their own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "dns/answer.h"
#include "dns/host_port.h"
#include "reactor/socket_address.h"

namespace sluice::dns {

enum class SiteSource {
  kMx,           // the domain's MX records
  kImplicitMx,   // no MX: the domain itself (RFC 5321 5.1)
  kStaticRoute,  // a static route of the configuration
  kSmartHost,    // the configured smart host
};

struct Site {
  // "mx:<sorted MX hosts joined by ','>", "static:<hosts>" or
  // "smarthost:<hosts>"; equal keys mean the same destination.
  std::string key;
  // The domain asked for, in normalised (A-label) form.
  std::string domain;
  SiteSource source = SiteSource::kMx;
  // MX hosts in the order to try them: by preference, shuffled among equal
  // preferences. For kImplicitMx, {0, domain}. Empty for static routes.
  std::vector<MxRecord> mx;
  // For static routes and the smart host: the configured next hops.
  std::vector<HostPort> static_hosts;
};

struct DestinationHost {
  std::string host;
  uint16_t preference = 0;
  // Addresses with the port set (mx_port, or the static route's port), in
  // the configured family order. Empty when `status` is not OK.
  std::vector<reactor::SocketAddress> addresses;
  absl::Status status;
};

struct Destination {
  Site site;
  // In the order to try them (the site's MX order or the static hosts).
  std::vector<DestinationHost> hosts;
};

}  // namespace sluice::dns
