// UnsubscribeToken: the token in a one-click unsubscribe URL (RFC 8058)
// that sluice generates for List-Unsubscribe. It names the tenant, the
// recipient and the campaign and carries an HMAC-SHA256 (truncated to 128
// bits) under a secret of the configuration, so a POST to the URL can be
// trusted without any state: a forged or altered token fails to verify.
//
//   token = "1." base64url(tenant NUL recipient NUL campaign) "." base64url(mac)
//
// Pure; any thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice::api {

struct Unsubscribe {
  std::string tenant;
  std::string recipient;
  std::string campaign;

  bool operator==(const Unsubscribe&) const = default;
};

class UnsubscribeToken {
 public:
  // `secret` must be at least 32 bytes.
  static absl::StatusOr<UnsubscribeToken> Create(std::string secret);

  std::string Mint(const Unsubscribe& who) const;
  // The unsubscribe a token names, or InvalidArgument when it is malformed
  // or its MAC does not verify.
  absl::StatusOr<Unsubscribe> Verify(absl::string_view token) const;

 private:
  explicit UnsubscribeToken(std::string secret) : secret_(std::move(secret)) {}
  std::string Mac(absl::string_view signed_part) const;

  std::string secret_;
};

}  // namespace sluice::api
