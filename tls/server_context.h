// ServerContext: the TLS configuration of a listener (one SSL_CTX), shared
// read-only by every shard and every connection it accepts.
//
// Certificate chain and private key come from PEM files (RSA or ECDSA);
// TLS 1.2 and 1.3 only; session tickets and the server-side session cache
// are on, so returning clients resume; ALPN picks the first protocol of the
// configured list that the client offers (server preference; no match means
// no ALPN, not a failed handshake); the client's SNI is recorded on each
// session.
//
// Certificate rotation: Reload() reads the files again into a new context.
// The owner swaps its std::shared_ptr<const ServerContext>; sessions made
// from the old context keep it alive, so no connection is dropped. Tickets
// issued under the old context are not accepted by the new one (their key
// stays with the old context); those clients do one full handshake.
//
// Thread-safety: a const ServerContext may be used from any thread.
// Create() and Reload() read files: call them off the shard loops.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "openssl/ssl.h"
#include "tls/tls_session.h"

namespace sluice::tls {

struct ServerOptions {
  std::string cert_chain_file;  // PEM: leaf first, then intermediates
  std::string key_file;         // PEM private key (RSA or EC)
  // ALPN protocols in order of preference, e.g. {"h2", "http/1.1"}; empty:
  // no ALPN.
  std::vector<std::string> alpn;
  // TLS1_2_VERSION or TLS1_3_VERSION.
  uint16_t min_version = TLS1_2_VERSION;
  uint16_t max_version = TLS1_3_VERSION;
};

class ServerContext : public std::enable_shared_from_this<ServerContext> {
 public:
  static absl::StatusOr<std::shared_ptr<const ServerContext>> Create(const ServerOptions& options);

  // A new context from the same options, the files read again.
  absl::StatusOr<std::shared_ptr<const ServerContext>> Reload() const;

  // A server session for one accepted connection; it keeps this context
  // alive.
  absl::StatusOr<std::unique_ptr<TlsSession>> NewSession() const;

  const ServerOptions& options() const { return options_; }
  // SHA-256 of the leaf certificate (DER), lowercase hex: tells which
  // certificate a context serves (logs, tests of Reload).
  const std::string& certificate_sha256() const { return certificate_sha256_; }
  SSL_CTX* ssl_ctx() const { return ctx_.get(); }

  // Use Create().
  explicit ServerContext(const ServerOptions& options);

 private:
  static int SelectAlpn(SSL* ssl, const uint8_t** out, uint8_t* out_len, const uint8_t* in,
                        unsigned in_len, void* arg);
  absl::Status Init();

  const ServerOptions options_;
  bssl::UniquePtr<SSL_CTX> ctx_;
  std::string alpn_wire_;  // length-prefixed, as SSL_select_next_proto wants it
  std::string certificate_sha256_;
};

}  // namespace sluice::tls
