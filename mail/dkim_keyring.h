// DkimKeyring: the configured DKIM keys ([[dkim.keys]]) and which mail each
// signs. A message is signed by every key whose From-domain patterns match
// the domain of its From header (exact, or "*.example.com" for every
// subdomain) and whose tenant list is empty or names the message's tenant:
// an RSA and an Ed25519 key for one domain dual-sign, and during a rotation
// old and new keys both sign. Immutable once made, so a reload builds a new
// one and swaps it in; Sign() may run on any thread at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mail/dkim_signer.h"

namespace sluice::mail {

struct DkimKeySpec {
  DkimSignature signature;  // d=, s=, key, canonicalization, headers
  // From domains this key signs; empty: the signing domain itself.
  std::vector<std::string> from_domains;
  std::vector<std::string> tenants;  // empty: every tenant
};

// The domain (lower case) of the first address of the first From field of
// `message`, or nullopt when it has none.
std::optional<std::string> FromDomain(absl::string_view message);

class DkimKeyring {
 public:
  // Refuses a spec without a domain, selector or key, or a malformed
  // pattern, naming it.
  static absl::StatusOr<std::shared_ptr<const DkimKeyring>> Create(std::vector<DkimKeySpec> specs);

  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }

  // The keys that sign mail from `from_domain` of `tenant`.
  std::vector<const DkimSignature*> Match(absl::string_view from_domain,
                                          absl::string_view tenant) const;
  // Whether any key would sign `message` of `tenant`: cheap, for deciding
  // whether a message needs the signing workers at all.
  bool Signs(absl::string_view message, absl::string_view tenant) const;
  // The DKIM-Signature fields for `message` (empty when no key matches).
  absl::StatusOr<std::string> Sign(absl::string_view message, absl::string_view tenant,
                                   absl::Time now) const;

 private:
  explicit DkimKeyring(std::vector<DkimKeySpec> keys);

  std::vector<DkimKeySpec> keys_;  // patterns in lower case
};

}  // namespace sluice::mail
