// TlsSession: one TLS connection as a sans-IO engine (BoringSSL over a pair
// of memory BIOs). It never touches a socket: the owner feeds it the bytes it
// read and writes out the bytes it produces. Made by ServerContext::NewSession
// or ClientContext::NewSession; used on one thread (the connection's shard).
//
// Calling sequence for a connection handler (server or client):
//
//   // Client only: start the handshake and send the ClientHello.
//   session->Handshake();
//   conn.Send(session->TakeCiphertext());
//
//   // Every time the socket delivers bytes:
//   session->FeedCiphertext(bytes);
//   std::string plain;
//   absl::Status status = session->ReadPlaintext(&plain);  // drives the handshake too
//   if (session->HasCiphertext()) conn.Send(session->TakeCiphertext());  // also on error: alert
//   if (!status.ok()) { conn.CloseAfterFlush(); return; }
//   if (!plain.empty()) protocol.Consume(plain);
//   if (session->peer_closed()) { session->Shutdown();
//                                 conn.Send(session->TakeCiphertext()); conn.CloseAfterFlush(); }
//
//   // To send application data (allowed before the handshake is done; it is
//   // held back and encrypted once the handshake completes):
//   session->WritePlaintext(reply);
//   if (session->HasCiphertext()) conn.Send(session->TakeCiphertext());
//
//   // To close: session->Shutdown(); conn.Send(session->TakeCiphertext());
//   // conn.CloseAfterFlush();
//
// After any call, check HasCiphertext(): the handshake, TLS 1.3 session
// tickets, key updates and alerts all produce output at times the
// application does not choose.
//
// STARTTLS: create the session when the plaintext protocol switches (after
// "220 Ready to start TLS" has been queued) and feed it exactly the bytes
// that arrive after the STARTTLS command; the protocol layer must discard
// anything it had buffered beyond that command.
//
// Errors: every failure is an absl::Status carrying BoringSSL's error text
// (and, for certificate failures, the X509 verification error). After an
// error the session is dead: later calls return the same error.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "openssl/ssl.h"

namespace sluice::tls {

class TlsSession {
 public:
  // Takes ownership of `ssl` (already configured by a context) and attaches
  // memory BIOs. `keep_alive` holds whatever `ssl`'s SSL_CTX callbacks point
  // into (the context object) for as long as the session lives.
  static std::unique_ptr<TlsSession> Wrap(bssl::UniquePtr<SSL> ssl,
                                          std::shared_ptr<const void> keep_alive);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Bytes read from the socket. Never fails; they are processed by the next
  // Handshake() or ReadPlaintext().
  void FeedCiphertext(std::string_view bytes);

  // Bytes to write to the socket, in order. TakeCiphertext() empties the
  // output buffer.
  bool HasCiphertext() const;
  size_t PendingCiphertextBytes() const;
  std::string TakeCiphertext();

  // Advances the handshake with what has been fed. OK when it is done or
  // waiting for more input (see handshake_done()); an error when it failed.
  absl::Status Handshake();
  bool handshake_done() const { return handshake_done_; }

  // Encrypts `data`. Before the handshake completes the data is held back
  // and encrypted once it has.
  absl::Status WritePlaintext(std::string_view data);

  // Appends every byte of application data that can be decrypted from what
  // has been fed so far to `*out` (possibly none). Drives the handshake when
  // it is not done yet. OK with nothing appended means "need more input".
  absl::Status ReadPlaintext(std::string* out);

  // Queues a close_notify alert. Further writes fail.
  absl::Status Shutdown();
  // The peer sent close_notify; no more plaintext will come.
  bool peer_closed() const { return peer_closed_; }
  bool is_server() const;

  // After the handshake:
  // "TLSv1.2" / "TLSv1.3".
  std::string_view version() const;
  // OpenSSL-style cipher name, e.g. "ECDHE-ECDSA-AES128-GCM-SHA256" or
  // "TLS_AES_128_GCM_SHA256".
  std::string_view cipher() const;
  int cipher_bits() const;
  // The negotiated ALPN protocol; empty when none.
  std::string_view alpn() const;
  // Server: the host name the client sent (SNI). Client: the one it sent.
  // Empty when none.
  std::string_view sni() const;
  // The handshake resumed an earlier session.
  bool resumed() const;
  // The peer presented a certificate and its chain (and, for a client, the
  // expected host name) verified against the trust store. A client in
  // opportunistic mode (kNone) still gets this answer; it just does not
  // act on it.
  bool peer_verified() const;
  // The X509 verification result (X509_V_OK == 0) and its text.
  long verify_result() const;
  std::string verify_error() const;
  bool has_peer_certificate() const;

  // The underlying object, for what this interface does not cover.
  SSL* ssl() { return ssl_.get(); }

 private:
  TlsSession(bssl::UniquePtr<SSL> ssl, std::shared_ptr<const void> keep_alive);

  // Turns the result of an SSL_* call into a status; records fatal errors.
  absl::Status Fail(std::string_view what, int ret);
  absl::Status FlushPendingPlaintext();

  bssl::UniquePtr<SSL> ssl_;
  std::shared_ptr<const void> keep_alive_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  BIO* wbio_ = nullptr;  // owned by ssl_
  bool handshake_done_ = false;
  bool peer_closed_ = false;
  bool shut_down_ = false;
  absl::Status error_;
  std::string pending_plaintext_;
};

}  // namespace sluice::tls
