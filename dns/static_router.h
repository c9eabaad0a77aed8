// StaticRouter: the configuration's static routes and smart host, which
// override DNS. Sans-IO; built once from a DnsConfig, read-only after, so
// any thread may use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "dns/dns_config.h"
#include "dns/site.h"

namespace sluice::dns {

class StaticRouter {
 public:
  StaticRouter() = default;
  static absl::StatusOr<StaticRouter> Create(const DnsConfig& config);

  // The site for `domain` (normalised) if a static route or the smart host
  // covers it: an exact route first, then the longest matching "*.suffix",
  // then the smart host. Null otherwise.
  const Site* Match(std::string_view domain) const;

  bool empty() const { return exact_.empty() && wildcard_.empty() && !smart_host_; }

 private:
  absl::flat_hash_map<std::string, Site> exact_;
  absl::flat_hash_map<std::string, Site> wildcard_;  // by suffix, without "*."
  std::optional<Site> smart_host_;
};

}  // namespace sluice::dns
