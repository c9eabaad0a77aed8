// DkimKey: a DKIM private key (RSA or Ed25519, RFC 8463) over BoringSSL:
// loading from PEM, generating, signing a SHA-256 digest, and the public
// half as the DNS TXT record to publish. Immutable once made; Sign() may
// be called from any thread at once (each call has its own context).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mail/dkim_canonical.h"
#include "openssl/evp.h"

namespace sluice::mail {

enum class DkimAlgorithm { kRsaSha256, kEd25519Sha256 };

// "rsa-sha256" or "ed25519-sha256" (the a= tag).
absl::string_view DkimAlgorithmName(DkimAlgorithm algorithm);

class DkimKey {
 public:
  // A PEM private key: PKCS#8 ("PRIVATE KEY", RSA or Ed25519) or PKCS#1
  // ("RSA PRIVATE KEY"). RSA keys under 1024 bits are refused.
  static absl::StatusOr<std::shared_ptr<const DkimKey>> FromPem(absl::string_view pem);
  // The key file at `path`, which must not be readable by other users; an
  // error names the path.
  static absl::StatusOr<std::shared_ptr<const DkimKey>> LoadFile(const std::string& path);
  // The 32-byte Ed25519 seed (RFC 8032's private key).
  static absl::StatusOr<std::shared_ptr<const DkimKey>> FromEd25519Seed(absl::string_view seed);
  // A new key; `rsa_bits` only for RSA (2048 or more).
  static absl::StatusOr<std::shared_ptr<const DkimKey>> Generate(DkimAlgorithm algorithm,
                                                                 int rsa_bits = 2048);

  DkimAlgorithm algorithm() const { return algorithm_; }
  int bits() const;

  // The b= value's bytes: RSASSA-PKCS1-v1_5 over the digest for RSA, the
  // Ed25519 signature of the digest for Ed25519 (RFC 8463 3).
  absl::StatusOr<std::string> Sign(const Sha256Digest& digest) const;

  // "v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>" or "v=DKIM1; k=ed25519;
  // p=<the 32 raw bytes>", base64.
  absl::StatusOr<std::string> DnsRecord() const;
  // PKCS#8 PEM, for writing a generated key to a file.
  absl::StatusOr<std::string> PrivateKeyPem() const;

 private:
  DkimKey(bssl::UniquePtr<EVP_PKEY> key, DkimAlgorithm algorithm);
  static absl::StatusOr<std::shared_ptr<const DkimKey>> Adopt(bssl::UniquePtr<EVP_PKEY> key);

  bssl::UniquePtr<EVP_PKEY> key_;
  DkimAlgorithm algorithm_;
};

}  // namespace sluice::mail
