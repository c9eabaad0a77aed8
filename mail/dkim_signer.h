// DkimSigner: DKIM-Signature header fields for a message (RFC 6376, with
// RFC 8463's ed25519-sha256), one per configured key, the body hashed once
// per canonicalization. Sans-IO and stateless once made; Sign() may run on
// any thread at once. RSA signing costs about a millisecond, so callers on
// a shard hand it to a worker.
//
// Which header fields are signed: each name in `headers` as many times as
// the message has it (RFC 6376 5.4.2, bottom-up), plus one more for each
// name in `oversign` so that nobody can add another (From by default).
// Names the message lacks are left out, except the oversigned ones.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mail/dkim_canonical.h"
#include "mail/dkim_key.h"

namespace sluice::mail {

// The default h= list: what a bulk sender's receivers look at (RFC 6376
// 5.4.1's advice plus the list and feedback headers of RFC 8058 and Gmail).
const std::vector<std::string>& DefaultDkimHeaders();

struct DkimSignature {
  std::string domain;    // d=
  std::string selector;  // s=
  std::shared_ptr<const DkimKey> key;
  DkimCanonicalization header_canonicalization = DkimCanonicalization::kRelaxed;
  DkimCanonicalization body_canonicalization = DkimCanonicalization::kRelaxed;
  std::vector<std::string> headers = DefaultDkimHeaders();
  std::vector<std::string> oversign = {"from"};
  // x=, this long after t=; zero: no expiry.
  absl::Duration expiration = absl::ZeroDuration();
};

// The data a signature covers (RFC 6376 3.7): the header fields named by
// `signed_names` (h=, in order, each taking the bottom-most occurrence not
// yet taken; a name with none left adds nothing), canonicalized, then
// `signature_field` (the whole DKIM-Signature field with an empty b=,
// without CRLF) canonicalized without its final CRLF; hashed with SHA-256.
Sha256Digest DkimHeaderHash(absl::string_view header_section,
                            const std::vector<std::string>& signed_names,
                            absl::string_view signature_field, DkimCanonicalization c);

class DkimSigner {
 public:
  // Every signature needs a domain, a selector and a key.
  static absl::StatusOr<std::unique_ptr<const DkimSigner>> Create(
      std::vector<DkimSignature> signatures);

  // The DKIM-Signature fields for `message` (header section, empty line,
  // body), folded, each ending in CRLF, to be put before its first line. A
  // message with no header section is refused.
  absl::StatusOr<std::string> Sign(absl::string_view message, absl::Time now) const;
  // The same with signatures chosen per message (DkimKeyring); each must
  // have a domain, a selector and a key.
  static absl::StatusOr<std::string> SignWith(absl::string_view message,
                                              const std::vector<const DkimSignature*>& signatures,
                                              absl::Time now);

  const std::vector<DkimSignature>& signatures() const { return signatures_; }

 private:
  explicit DkimSigner(std::vector<DkimSignature> signatures);

  std::vector<DkimSignature> signatures_;
};

}  // namespace sluice::mail
