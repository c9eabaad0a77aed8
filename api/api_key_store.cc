#include "api/api_key_store.h"

#include <openssl/sha.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sluice::api {
namespace {

std::string Sha256Raw(std::string_view data) {
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const uint8_t*>(data.data()), data.size(),
         reinterpret_cast<uint8_t*>(digest.data()));
  return digest;
}

}  // namespace

std::string ApiKeyStore::Sha256Hex(std::string_view token) {
  return absl::BytesToHexString(Sha256Raw(token));
}

absl::StatusOr<uint32_t> ApiKeyStore::ParseScopes(const std::vector<std::string>& scopes) {
  uint32_t bits = 0;
  for (const std::string& scope : scopes) {
    if (scope == "inject") {
      bits |= kScopeInject;
    } else if (scope == "admin") {
      bits |= kScopeAdmin;
    } else if (scope == "read") {
      bits |= kScopeRead;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown scope '", scope, "' (inject, admin or read)"));
    }
  }
  return bits;
}

absl::StatusOr<std::unique_ptr<ApiKeyStore>> ApiKeyStore::Create(
    const std::vector<ApiKeySpec>& keys) {
  std::unique_ptr<ApiKeyStore> store(new ApiKeyStore());
  for (size_t i = 0; i < keys.size(); ++i) {
    const ApiKeySpec& spec = keys[i];
    const std::string where = absl::StrCat("api_keys[", i, "] (", spec.name, ")");
    const std::string hex = absl::AsciiStrToLower(spec.token_sha256);
    if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), absl::ascii_isxdigit)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": token_sha256 must be 64 hex digits (sha256sum of the token)"));
    }
    absl::StatusOr<uint32_t> scopes = ParseScopes(spec.scopes);
    if (!scopes.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", scopes.status().message()));
    if (spec.rate_per_second < 0 || spec.burst < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": rate and burst must not be negative"));
    }
    const std::string raw = absl::HexStringToBytes(hex);
    auto key = std::make_unique<Key>();
    key->name = spec.name;
    key->scopes = *scopes;
    if (spec.rate_per_second > 0) {
      key->limited = true;
      const int64_t burst = spec.burst > 0 ? spec.burst : spec.rate_per_second;
      std::lock_guard<std::mutex> lock(key->mu);
      key->gcra = common::Gcra(spec.rate_per_second, absl::Seconds(1), burst);
    }
    if (!store->by_hash_.emplace(raw, key.get()).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": the same token as an earlier key"));
    }
    store->keys_.push_back(std::move(key));
  }
  return store;
}

ApiAuthorization ApiKeyStore::Authorize(std::string_view authorization, bool loopback_client,
                                        uint32_t scope, absl::Time now) const {
  ApiAuthorization result;
  if (keys_.empty()) {
    if (loopback_client) {
      result.key_name = "loopback";
      return result;
    }
    result.status = 401;
    result.message = "no API keys are configured: only loopback clients are served";
    return result;
  }
  std::string_view token = authorization;
  if (token.size() < 7 || !absl::EqualsIgnoreCase(absl::string_view(token.data(), 7), "Bearer ")) {
    result.status = 401;
    result.message = authorization.empty() ? "missing bearer token" : "not a bearer token";
    return result;
  }
  token.remove_prefix(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  auto it = by_hash_.find(Sha256Raw(token));
  if (token.empty() || it == by_hash_.end()) {
    result.status = 401;
    result.message = "unknown API key";
    return result;
  }
  const Key& key = *it->second;
  result.key_name = key.name;
  if ((key.scopes & scope) == 0) {
    result.status = 403;
    result.message = absl::StrCat("key '", key.name, "' lacks the ",
                                  (scope & kScopeInject) != 0 ? "inject"
                                  : (scope & kScopeRead) != 0 ? "read"
                                                              : "admin",
                                  " scope");
    return result;
  }
  if (key.limited) {
    absl::Duration wait;
    {
      std::lock_guard<std::mutex> lock(key.mu);
      wait = key.gcra.TryAcquire(now);
    }
    if (wait > absl::ZeroDuration()) {
      result.status = 429;
      result.retry_after = wait;
      result.message = absl::StrCat("key '", key.name, "' is over its rate limit");
    }
  }
  return result;
}

}  // namespace sluice::api
