// password_hash: password storage for SMTP AUTH users, on BoringSSL's KDFs.
//
// Encoded hashes are self-describing PHC strings, compatible with passlib:
//   $pbkdf2-sha256$i=600000$<salt>$<hash>    PBKDF2-HMAC-SHA256
//   $scrypt$ln=15,r=8,p=1$<salt>$<hash>      scrypt, N = 2^ln
// salt and hash in unpadded standard base64 (16-byte salt, 32-byte hash).
// VerifyPassword() also accepts passlib's older pbkdf2 form,
//   $pbkdf2-sha256$29000$<ab64 salt>$<ab64 hash>   ('.' in place of '+').
//
// Both KDFs are deliberately slow (tens to hundreds of milliseconds): run
// them off the shard loops. Parameters read from a stored hash are bounded
// (PBKDF2 at most 10^7 iterations, scrypt at most 256 MiB), so a hostile
// entry cannot make a verification take minutes or exhaust memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::tls {

enum class PasswordScheme { kPbkdf2Sha256, kScrypt };

struct PasswordHashOptions {
  PasswordScheme scheme = PasswordScheme::kScrypt;
  uint32_t pbkdf2_iterations = 600000;  // OWASP 2023 for PBKDF2-HMAC-SHA256
  int scrypt_log2_n = 15;               // N = 32768: 32 MiB with r = 8
  uint32_t scrypt_r = 8;
  uint32_t scrypt_p = 1;
};

// Hashes `password` with a fresh random salt.
absl::StatusOr<std::string> HashPassword(std::string_view password,
                                         const PasswordHashOptions& options = {});
absl::StatusOr<std::string> HashPassword(std::string_view password, PasswordScheme scheme);

// true if `password` matches `encoded` (compared in constant time), false if
// not; an error (kInvalidArgument, naming what is wrong) if `encoded` is not
// a hash this module understands.
absl::StatusOr<bool> VerifyPassword(std::string_view password, std::string_view encoded);

// Checks that `encoded` parses, without running the KDF (configuration
// loading uses it to reject bad entries early).
absl::Status CheckPasswordHash(std::string_view encoded);

// The raw KDFs, `length` bytes of output.
absl::StatusOr<std::string> Pbkdf2HmacSha256(std::string_view password, std::string_view salt,
                                             uint32_t iterations, size_t length);
absl::StatusOr<std::string> Scrypt(std::string_view password, std::string_view salt, uint64_t n,
                                   uint32_t r, uint32_t p, size_t length);

}  // namespace sluice::tls
