#include "dns/static_router.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "dns/domain_name.h"
#include "dns/mx_rollup.h"

namespace sluice::dns {
namespace {

absl::StatusOr<std::vector<HostPort>> ParseHosts(const std::vector<std::string>& hosts) {
  std::vector<HostPort> out;
  for (const std::string& text : hosts) {
    SLUICE_ASSIGN_OR_RETURN(HostPort hp, HostPort::Parse(text));
    if (!hp.IsNumeric()) {
      SLUICE_ASSIGN_OR_RETURN(hp.host, NormalizeDomain(hp.host));
    }
    out.push_back(std::move(hp));
  }
  return out;
}

}  // namespace

absl::StatusOr<StaticRouter> StaticRouter::Create(const DnsConfig& config) {
  StaticRouter router;
  for (const StaticRoute& route : config.static_routes) {
    std::string_view pattern = route.domain;
    const bool wildcard = pattern.substr(0, 2) == "*.";
    if (wildcard) pattern.remove_prefix(2);
    SLUICE_ASSIGN_OR_RETURN(std::string domain, NormalizeDomain(pattern));
    Site site;
    site.source = SiteSource::kStaticRoute;
    SLUICE_ASSIGN_OR_RETURN(site.static_hosts, ParseHosts(route.hosts));
    if (site.static_hosts.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("static route ", route.domain, " has no hosts"));
    }
    site.key = SiteKeyForHosts("static", site.static_hosts);
    auto& table = wildcard ? router.wildcard_ : router.exact_;
    if (!table.try_emplace(domain, std::move(site)).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate static route ", route.domain));
    }
  }
  if (!config.smart_hosts.empty()) {
    Site site;
    site.source = SiteSource::kSmartHost;
    SLUICE_ASSIGN_OR_RETURN(site.static_hosts, ParseHosts(config.smart_hosts));
    site.key = SiteKeyForHosts("smarthost", site.static_hosts);
    router.smart_host_ = std::move(site);
  }
  return router;
}

const Site* StaticRouter::Match(std::string_view domain) const {
  const absl::string_view name(domain.data(), domain.size());
  if (auto it = exact_.find(name); it != exact_.end()) return &it->second;
  if (!wildcard_.empty()) {
    // Longest suffix first: strip one label at a time.
    size_t dot = name.find('.');
    while (dot != absl::string_view::npos) {
      const absl::string_view suffix = name.substr(dot + 1);
      if (auto it = wildcard_.find(suffix); it != wildcard_.end()) return &it->second;
      dot = name.find('.', dot + 1);
    }
  }
  return smart_host_ ? &*smart_host_ : nullptr;
}

}  // namespace sluice::dns
