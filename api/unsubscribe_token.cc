#include "api/unsubscribe_token.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "openssl/crypto.h"
#include "openssl/hmac.h"

namespace sluice::api {
namespace {

constexpr size_t kMacBytes = 16;
constexpr absl::string_view kVersion = "1";

}  // namespace

absl::StatusOr<UnsubscribeToken> UnsubscribeToken::Create(std::string secret) {
  if (secret.size() < 32) {
    return absl::InvalidArgumentError("the unsubscribe secret must be at least 32 bytes");
  }
  return UnsubscribeToken(std::move(secret));
}

std::string UnsubscribeToken::Mac(absl::string_view signed_part) const {
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  HMAC(EVP_sha256(), secret_.data(), secret_.size(),
       reinterpret_cast<const uint8_t*>(signed_part.data()), signed_part.size(), mac, &length);
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(mac), kMacBytes));
}

std::string UnsubscribeToken::Mint(const Unsubscribe& who) const {
  const std::string payload =
      absl::WebSafeBase64Escape(absl::StrCat(who.tenant, absl::string_view("\0", 1), who.recipient,
                                             absl::string_view("\0", 1), who.campaign));
  const std::string signed_part = absl::StrCat(kVersion, ".", payload);
  return absl::StrCat(signed_part, ".", Mac(signed_part));
}

absl::StatusOr<Unsubscribe> UnsubscribeToken::Verify(absl::string_view token) const {
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3 || parts[0] != kVersion) {
    return absl::InvalidArgumentError("not an unsubscribe token");
  }
  const std::string signed_part = absl::StrCat(parts[0], ".", parts[1]);
  const std::string expected = Mac(signed_part);
  if (parts[2].size() != expected.size() ||
      CRYPTO_memcmp(parts[2].data(), expected.data(), expected.size()) != 0) {
    return absl::InvalidArgumentError("unsubscribe token does not verify");
  }
  std::string payload;
  if (!absl::WebSafeBase64Unescape(parts[1], &payload)) {
    return absl::InvalidArgumentError("unsubscribe token is not base64url");
  }
  const std::vector<std::string> fields = absl::StrSplit(payload, absl::string_view("\0", 1));
  if (fields.size() != 3 || fields[1].empty()) {
    return absl::InvalidArgumentError("unsubscribe token names no recipient");
  }
  return Unsubscribe{fields[0], fields[1], fields[2]};
}

}  // namespace sluice::api
