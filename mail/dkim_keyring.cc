#include "mail/dkim_keyring.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mail/header_fields.h"

namespace sluice::mail {
namespace {

// "example.com" matches itself; "*.example.com" every subdomain of it.
bool DomainMatches(absl::string_view pattern, absl::string_view domain) {
  if (absl::StartsWith(pattern, "*.")) {
    const absl::string_view parent = pattern.substr(1);  // ".example.com"
    return domain.size() > parent.size() && absl::EndsWith(domain, parent);
  }
  return pattern == domain;
}

bool IsAddressEnd(char c) { return c == '>' || c == ',' || c == ';' || c == ' ' || c == '\t'; }

}  // namespace

std::optional<std::string> FromDomain(absl::string_view message) {
  for (const HeaderField& field : SplitHeaderFields(message)) {
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(field.name), "from")) continue;
    absl::string_view value = field.text.substr(field.text.find(':') + 1);
    // The first address: inside <...> when there are angle brackets.
    if (const size_t open = value.find('<'); open != absl::string_view::npos) {
      value = value.substr(open + 1);
    }
    const size_t at = value.find('@');
    if (at == absl::string_view::npos) return std::nullopt;
    size_t stop = at + 1;
    while (stop < value.size() && !IsAddressEnd(value[stop]) && value[stop] != '\r') ++stop;
    const absl::string_view domain = value.substr(at + 1, stop - at - 1);
    if (domain.empty()) return std::nullopt;
    return absl::AsciiStrToLower(domain);
  }
  return std::nullopt;
}

absl::StatusOr<std::shared_ptr<const DkimKeyring>> DkimKeyring::Create(
    std::vector<DkimKeySpec> specs) {
  for (DkimKeySpec& spec : specs) {
    DkimSignature& signature = spec.signature;
    const std::string name = absl::StrCat(signature.selector, "._domainkey.", signature.domain);
    if (signature.domain.empty() || signature.selector.empty() || signature.key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("dkim key ", name, ": needs a domain, a selector and a key"));
    }
    signature.domain = absl::AsciiStrToLower(signature.domain);
    if (spec.from_domains.empty()) spec.from_domains = {signature.domain};
    for (std::string& pattern : spec.from_domains) {
      pattern = absl::AsciiStrToLower(pattern);
      const absl::string_view bare = absl::StartsWith(pattern, "*.")
                                         ? absl::string_view(pattern).substr(2)
                                         : absl::string_view(pattern);
      if (bare.empty() || absl::StrContains(bare, "*") || absl::StrContains(bare, "@")) {
        return absl::InvalidArgumentError(
            absl::StrCat("dkim key ", name, ": bad from domain \"", pattern, "\""));
      }
    }
  }
  return std::shared_ptr<const DkimKeyring>(new DkimKeyring(std::move(specs)));
}

DkimKeyring::DkimKeyring(std::vector<DkimKeySpec> keys) : keys_(std::move(keys)) {}

std::vector<const DkimSignature*> DkimKeyring::Match(absl::string_view from_domain,
                                                     absl::string_view tenant) const {
  std::vector<const DkimSignature*> out;
  for (const DkimKeySpec& key : keys_) {
    if (!key.tenants.empty() &&
        std::find(key.tenants.begin(), key.tenants.end(), tenant) == key.tenants.end()) {
      continue;
    }
    for (const std::string& pattern : key.from_domains) {
      if (DomainMatches(pattern, from_domain)) {
        out.push_back(&key.signature);
        break;
      }
    }
  }
  return out;
}

bool DkimKeyring::Signs(absl::string_view message, absl::string_view tenant) const {
  if (keys_.empty()) return false;
  const std::optional<std::string> from = FromDomain(message);
  return from.has_value() && !Match(*from, tenant).empty();
}

absl::StatusOr<std::string> DkimKeyring::Sign(absl::string_view message, absl::string_view tenant,
                                              absl::Time now) const {
  const std::optional<std::string> from = FromDomain(message);
  if (!from.has_value()) return std::string();
  const std::vector<const DkimSignature*> signatures = Match(*from, tenant);
  if (signatures.empty()) return std::string();
  return DkimSigner::SignWith(message, signatures, now);
}

}  // namespace sluice::mail
