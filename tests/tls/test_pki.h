// TestPki: certificates for TLS tests, made with BoringSSL and written under
// TEST_TMPDIR: a test CA, leaves it signs, and untrusted self-signed ones.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tls/client_context.h"
#include "tls/self_signed.h"
#include "tls/server_context.h"
#include "tls/tls_session.h"

namespace sluice::tls::testing {

struct CertFiles {
  std::string cert_file;
  std::string key_file;
};

class TestPki {
 public:
  // A fresh CA in a fresh folder under TEST_TMPDIR.
  static absl::StatusOr<std::unique_ptr<TestPki>> Create();

  // A leaf for `dns_names` (and 127.0.0.1) signed by the CA, or self-signed
  // (untrusted) when `self_signed`.
  absl::StatusOr<CertFiles> Leaf(const std::string& name, const std::vector<std::string>& dns_names,
                                 KeyType key_type = KeyType::kEcP256, bool self_signed = false);

  const std::string& ca_file() const { return ca_file_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string ca_file_;
  KeyAndCertificate ca_;
};

absl::Status WriteTextFile(const std::string& path, const std::string& contents);
absl::StatusOr<std::string> ReadTextFile(const std::string& path);
// A new empty folder under TEST_TMPDIR.
std::string FreshTempDir(const std::string& prefix);

// Moves bytes between two in-memory sessions until neither has anything to
// say, delivering ciphertext in pieces of at most `chunk` bytes, and
// appending decrypted data to the *_received strings. Returns the first
// error either side reports.
struct Pair {
  std::unique_ptr<TlsSession> client;
  std::unique_ptr<TlsSession> server;
  std::string client_received;
  std::string server_received;
};
absl::Status Pump(Pair& pair, size_t chunk = 1 << 20);
// Client Handshake() then Pump(); checks both sides finished.
absl::Status Connect(Pair& pair, size_t chunk = 1 << 20);

}  // namespace sluice::tls::testing
