// ClientContext: TLS for outbound connections (delivery), one SSL_CTX plus a
// per-host session cache, shareable by every shard.
//
// Each session is made for one host name and one verification mode:
//   kNone    opportunistic TLS (plain SMTP STARTTLS): encrypt, accept any
//            certificate, but still verify the chain and the host name and
//            report the answer (TlsSession::peer_verified(), verify_error()),
//            for logs and Received headers.
//   kVerify  the chain must verify against the trust store (the system CA
//            bundle or a configured CA file) and the certificate must match
//            the host name (X509_VERIFY_PARAM_set1_host; an IP literal is
//            matched against IP subjectAltNames). Otherwise the handshake
//            fails with kUnauthenticated and the X509 reason.
// SNI carries the host name (never an IP literal, per RFC 6066).
//
// Resumption: the newest resumable session per (host, mode) is kept in a
// bounded LRU cache and offered on the next connection to that host.
// Sessions made without verification are never offered to a kVerify
// connection. The cache is guarded by a std::mutex, so a context can be
// shared by all shards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "openssl/ssl.h"
#include "tls/tls_session.h"

namespace sluice::tls {

enum class VerifyMode { kNone, kVerify };

struct ClientOptions {
  // PEM trust anchors; empty: the system bundle.
  std::string ca_file;
  // ALPN protocols to offer; empty: none.
  std::vector<std::string> alpn;
  uint16_t min_version = TLS1_2_VERSION;
  uint16_t max_version = TLS1_3_VERSION;
  // Hosts whose session is remembered (least recently used dropped first).
  size_t session_cache_size = 4096;
};

inline constexpr char kSystemCaBundle[] = "/etc/ssl/certs/ca-certificates.crt";

class ClientContext : public std::enable_shared_from_this<ClientContext> {
 public:
  static absl::StatusOr<std::shared_ptr<ClientContext>> Create(const ClientOptions& options);

  // A client session for a connection to `host` (DNS name or IP literal).
  // Call Handshake() on it and send what it produces.
  absl::StatusOr<std::unique_ptr<TlsSession>> NewSession(std::string_view host, VerifyMode mode);

  // Drops the cached session for `host` (e.g. after the peer rejected it).
  void ForgetSession(std::string_view host);
  size_t cached_sessions() const;
  const ClientOptions& options() const { return options_; }
  SSL_CTX* ssl_ctx() const { return ctx_.get(); }

  // Use Create().
  explicit ClientContext(const ClientOptions& options);

 private:
  struct CacheEntry {
    std::string key;
    bssl::UniquePtr<SSL_SESSION> session;
  };

  static int OnNewSession(SSL* ssl, SSL_SESSION* session);
  absl::Status Init();
  void Store(const std::string& key, bssl::UniquePtr<SSL_SESSION> session);
  // Offers the cached session for `key` on `ssl`, if there is one.
  void Offer(const std::string& key, SSL* ssl);

  const ClientOptions options_;
  bssl::UniquePtr<SSL_CTX> ctx_;

  mutable std::mutex mutex_;
  std::list<CacheEntry> lru_;  // front: most recently used
  absl::flat_hash_map<std::string, std::list<CacheEntry>::iterator> index_;
};

}  // namespace sluice::tls
