#include "mail/dkim_signer.h"

#include <cstddef>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mail/header_fields.h"
#include "openssl/sha.h"

namespace sluice::mail {
namespace {

constexpr size_t kFoldWidth = 76;

// Splits `message` after the header section's final CRLF.
std::optional<std::pair<absl::string_view, absl::string_view>> SplitMessage(
    absl::string_view message) {
  if (message.empty() || absl::StartsWith(message, "\r\n")) return std::nullopt;
  const size_t blank = message.find("\r\n\r\n");
  if (blank == absl::string_view::npos) {
    // Only a header section; without a final CRLF the last field still counts.
    return std::make_pair(message, absl::string_view());
  }
  return std::make_pair(message.substr(0, blank + 2), message.substr(blank + 4));
}

// Appends `items` separated by `separator`, folding with CRLF TAB before an
// item that would take the line past kFoldWidth.
void AppendFolded(std::string* out, size_t* column, const std::vector<std::string>& items,
                  absl::string_view separator) {
  for (size_t i = 0; i < items.size(); ++i) {
    std::string item = items[i];
    if (i + 1 < items.size()) absl::StrAppend(&item, separator);
    if (*column + item.size() > kFoldWidth && *column > 1) {
      out->append("\r\n\t");
      *column = 1;
    }
    out->append(item);
    *column += item.size();
  }
}

// The h= names for this message: each configured name once per occurrence,
// then the oversigned ones once more.
std::vector<std::string> SignedNames(const std::vector<HeaderField>& fields,
                                     const DkimSignature& signature) {
  std::vector<std::string> names;
  for (const std::string& name : signature.headers) {
    const std::string lower = absl::AsciiStrToLower(name);
    for (const HeaderField& field : fields) {
      if (absl::EqualsIgnoreCase(field.name, lower)) names.push_back(lower);
    }
  }
  for (const std::string& name : signature.oversign) names.push_back(absl::AsciiStrToLower(name));
  return names;
}

}  // namespace

const std::vector<std::string>& DefaultDkimHeaders() {
  static const std::vector<std::string>* const headers = new std::vector<std::string>{
      "from",
      "to",
      "cc",
      "subject",
      "date",
      "message-id",
      "reply-to",
      "in-reply-to",
      "references",
      "mime-version",
      "content-type",
      "content-transfer-encoding",
      "list-id",
      "list-unsubscribe",
      "list-unsubscribe-post",
      "feedback-id",
  };
  return *headers;
}

Sha256Digest DkimHeaderHash(absl::string_view header_section,
                            const std::vector<std::string>& signed_names,
                            absl::string_view signature_field, DkimCanonicalization c) {
  const std::vector<HeaderField> fields = SplitHeaderFields(header_section);
  std::vector<bool> taken(fields.size(), false);
  SHA256_CTX sha;
  SHA256_Init(&sha);
  for (const std::string& name : signed_names) {
    for (size_t i = fields.size(); i-- > 0;) {
      if (taken[i] || !absl::EqualsIgnoreCase(fields[i].name, name)) continue;
      taken[i] = true;
      const std::string canonical = CanonicalHeaderField(fields[i].text, c);
      SHA256_Update(&sha, canonical.data(), canonical.size());
      break;
    }
  }
  std::string canonical = CanonicalHeaderField(signature_field, c);
  canonical.resize(canonical.size() - 2);  // no CRLF after the signature field
  SHA256_Update(&sha, canonical.data(), canonical.size());
  Sha256Digest digest;
  SHA256_Final(digest.data(), &sha);
  return digest;
}

absl::StatusOr<std::unique_ptr<const DkimSigner>> DkimSigner::Create(
    std::vector<DkimSignature> signatures) {
  for (const DkimSignature& signature : signatures) {
    if (signature.domain.empty() || signature.selector.empty() || signature.key == nullptr) {
      return absl::InvalidArgumentError("a DKIM signature needs a domain, a selector and a key");
    }
  }
  return std::unique_ptr<const DkimSigner>(new DkimSigner(std::move(signatures)));
}

DkimSigner::DkimSigner(std::vector<DkimSignature> signatures)
    : signatures_(std::move(signatures)) {}

absl::StatusOr<std::string> DkimSigner::Sign(absl::string_view message, absl::Time now) const {
  std::vector<const DkimSignature*> signatures;
  signatures.reserve(signatures_.size());
  for (const DkimSignature& signature : signatures_) signatures.push_back(&signature);
  return SignWith(message, signatures, now);
}

absl::StatusOr<std::string> DkimSigner::SignWith(
    absl::string_view message, const std::vector<const DkimSignature*>& signatures,
    absl::Time now) {
  const auto parts = SplitMessage(message);
  if (!parts.has_value()) return absl::InvalidArgumentError("message has no header section");
  const auto [header_section, body] = *parts;
  const std::vector<HeaderField> fields = SplitHeaderFields(header_section);
  std::optional<std::string> body_hash[2];  // by canonicalization
  std::string out;
  for (const DkimSignature* each : signatures) {
    const DkimSignature& signature = *each;
    std::optional<std::string>& bh = body_hash[static_cast<int>(signature.body_canonicalization)];
    if (!bh.has_value()) {
      const Sha256Digest digest = DkimBodyHash(body, signature.body_canonicalization);
      bh = absl::Base64Escape(
          absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
    }
    const std::vector<std::string> names = SignedNames(fields, signature);
    const int64_t t = absl::ToUnixSeconds(now);
    std::string field =
        absl::StrCat("DKIM-Signature: v=1; a=", DkimAlgorithmName(signature.key->algorithm()),
                     "; c=", DkimCanonicalizationName(signature.header_canonicalization), "/",
                     DkimCanonicalizationName(signature.body_canonicalization),
                     "; d=", signature.domain, "; s=", signature.selector, ";\r\n\tt=", t, ";");
    if (signature.expiration > absl::ZeroDuration()) {
      absl::StrAppend(&field, " x=", t + absl::ToInt64Seconds(signature.expiration), ";");
    }
    field.append(" h=");
    size_t column = field.size() - field.rfind('\n');
    AppendFolded(&field, &column, names, ":");
    absl::StrAppend(&field, ";\r\n\tbh=", *bh, ";\r\n\tb=");
    const Sha256Digest digest =
        DkimHeaderHash(header_section, names, field, signature.header_canonicalization);
    absl::StatusOr<std::string> b = signature.key->Sign(digest);
    if (!b.ok()) return b.status();
    const std::string encoded = absl::Base64Escape(*b);
    for (size_t pos = 0; pos < encoded.size(); pos += kFoldWidth - 4) {
      if (pos > 0) field.append("\r\n\t ");
      field.append(encoded, pos, kFoldWidth - 4);
    }
    field.append("\r\n");
    out.append(field);
  }
  return out;
}

}  // namespace sluice::mail
