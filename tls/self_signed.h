// self_signed: keys and X.509 certificates made with BoringSSL, and the
// self-signed certificate a listener falls back on when none is configured.
//
// EnsureSelfSigned() writes <data_dir>/tls/selfsigned.crt and .key (mode
// 0600) the first time and reuses them afterwards; it makes a new pair only
// when a file is missing, unreadable, or the certificate has expired. Files
// are written to a temporary name, synced and renamed, so a crash never
// leaves half a key behind. Call it at startup, off the shard loops (it
// blocks on the file system).
//
// GenerateCertificate() also issues CA and CA-signed certificates, which
// tests use to build trust chains.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sluice::tls {

enum class KeyType { kEcP256, kRsa2048 };

struct CertificateSpec {
  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries (v4 or v6 text)
  bool is_ca = false;
  KeyType key_type = KeyType::kEcP256;
  absl::Duration validity = absl::Hours(24 * 365);
  // Start of validity relative to now (negative: already valid a while, so
  // clock skew between peers does not matter).
  absl::Duration not_before_offset = absl::Hours(-1);
};

// PEM text of a private key (PKCS#8) and its certificate.
struct KeyAndCertificate {
  std::string key_pem;
  std::string cert_pem;
};

// Generates a key and a certificate for `spec`, signed by `issuer` (its key
// and certificate in PEM) or by itself when `issuer` is null.
absl::StatusOr<KeyAndCertificate> GenerateCertificate(const CertificateSpec& spec,
                                                      const KeyAndCertificate* issuer = nullptr);

struct SelfSignedFiles {
  std::string cert_file;
  std::string key_file;
  bool generated = false;  // false: existing files were reused
};

// See the file comment. The certificate is EC P-256, valid one year, with
// subjectAltName = `hostname`, localhost, 127.0.0.1.
absl::StatusOr<SelfSignedFiles> EnsureSelfSigned(std::string_view data_dir,
                                                 std::string_view hostname);

}  // namespace sluice::tls
