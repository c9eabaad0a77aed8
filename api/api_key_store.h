// ApiKeyStore: who may call the HTTP API, with which scopes, how often.
//
// Keys are bearer tokens ("Authorization: Bearer <token>"); the store keeps
// only each token's SHA-256, as configured in [[api_keys]] (name,
// token_sha256 in hex, scopes, rate_per_second, burst). A request is
// authorized in this order:
//   no key configured at all   loopback clients get every scope, anyone
//                              else 401 (a fresh install is safe by default
//                              and usable from the machine itself)
//   no or unknown token        401 (with WWW-Authenticate: Bearer)
//   token without the scope    403
//   over the key's rate        429 with the wait (Retry-After)
// Rates are per key across every shard: each key's GCRA (common/gcra.h)
// sits behind its own small mutex, held for a few arithmetic operations.
// Thread-safe; immutable apart from the rate state.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/gcra.h"

namespace sluice::api {

enum ApiScope : uint32_t {
  kScopeInject = 1,
  kScopeAdmin = 2,
  kScopeRead = 4,
};

struct ApiKeySpec {
  std::string name;
  std::string token_sha256;         // 64 hex digits
  std::vector<std::string> scopes;  // "inject", "admin", "read"
  int64_t rate_per_second = 0;      // 0: unlimited
  int64_t burst = 0;                // 0: same as the rate
};

struct ApiAuthorization {
  int status = 200;            // 200, 401, 403 or 429
  std::string key_name;        // "" when refused before a key was found
  std::string message;         // why, for the response body
  absl::Duration retry_after;  // for 429
};

class ApiKeyStore {
 public:
  // InvalidArgument naming the key (by index and name) for a bad hash, an
  // unknown scope or a duplicate token.
  static absl::StatusOr<std::unique_ptr<ApiKeyStore>> Create(const std::vector<ApiKeySpec>& keys);
  ApiKeyStore(const ApiKeyStore&) = delete;
  ApiKeyStore& operator=(const ApiKeyStore&) = delete;

  // `authorization` is the request's Authorization header ("" if none);
  // `scopes` is a mask of ApiScope, any one of which suffices.
  ApiAuthorization Authorize(std::string_view authorization, bool loopback_client, uint32_t scopes,
                             absl::Time now) const;

  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }

  // Lower-case hex SHA-256 of `token`: what [[api_keys]].token_sha256 holds.
  static std::string Sha256Hex(std::string_view token);
  static absl::StatusOr<uint32_t> ParseScopes(const std::vector<std::string>& scopes);

 private:
  struct Key {
    std::string name;
    uint32_t scopes = 0;
    bool limited = false;
    // std::mutex, not absl::Mutex: Debian's abseil is not instrumented, so
    // ThreadSanitizer would not see an absl::Mutex order the rate state.
    mutable std::mutex mu;
    mutable common::Gcra gcra ABSL_GUARDED_BY(mu){1, absl::Seconds(1), 1};
  };

  ApiKeyStore() = default;

  std::vector<std::unique_ptr<Key>> keys_;
  absl::flat_hash_map<std::string, const Key*> by_hash_;  // raw 32-byte digest -> key
};

}  // namespace sluice::api
